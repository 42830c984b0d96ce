package main

import (
	"bytes"
	"context"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bittern/bittern"
	"github.com/bittern/bittern/metainfo"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// seed builds a two-file torrent of random data and seeds it from an
// in-process Session on loopback. It returns the torrent and the seeder's
// address.
func seed(t *testing.T) (*metainfo.MetaInfo, string) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "album")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	r := rand.NewChaCha8([32]byte{2})
	for name, n := range map[string]int{"a.bin": 300 << 10, "b.bin": 70<<10 + 7} {
		data := make([]byte, n)
		r.Read(data)
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	mi, err := (&metainfo.Builder{Version: metainfo.V1, PieceLength: 32 << 10}).Build(context.Background(), dir)
	if err != nil {
		t.Fatal(err)
	}
	s, err := bittern.NewSession(&bittern.Config{ListenAddr: "127.0.0.1:0", DataDir: filepath.Dir(dir)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	if _, err := s.AddTorrent(context.Background(), mi, nil); err != nil {
		t.Fatal(err)
	}
	return mi, s.Addr().String()
}

// The metadata is fetched from a seeder named by -peer or by the link's
// x.pe hint; the file written has the seeder's info dictionary verbatim
// (so the same info-hash) and the link's trackers and web seeds.
func TestMagnetToTorrent(t *testing.T) {
	mi, addr := seed(t)
	trackers := []string{"http://127.0.0.1:1/announce", "udp://127.0.0.1:1"}
	link := &metainfo.Magnet{InfoHash: mi.InfoHash(), Name: "album", Trackers: trackers, WebSeeds: []string{"http://127.0.0.1:1/ws/"}}
	withPeer := *link
	withPeer.Peers = []string{addr}
	for _, c := range []struct {
		name string
		args []string
	}{
		{"peer flag", []string{"-no-dht", "-peer", addr, link.String()}},
		{"x.pe hint", []string{"-no-dht", withPeer.String()}},
	} {
		t.Run(c.name, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "out.torrent")
			var stdout, stderr bytes.Buffer
			args := append([]string{"-o", out, "-timeout", "1m"}, c.args...)
			if code := run(context.Background(), args, &stdout, &stderr); code != 0 {
				t.Fatalf("exit %d: %s", code, stderr.String())
			}
			got, err := metainfo.LoadFile(out)
			if err != nil {
				t.Fatal(err)
			}
			if got.InfoHash() != mi.InfoHash() || !bytes.Equal(got.InfoBytes, mi.InfoBytes) {
				t.Errorf("written info-hash %s, want %s", got.InfoHash(), mi.InfoHash())
			}
			if got.Announce != trackers[0] || len(got.AnnounceList) != 2 || got.AnnounceList[1][0] != trackers[1] {
				t.Errorf("announce %q, announce-list %q; want the link's trackers %q", got.Announce, got.AnnounceList, trackers)
			}
			if len(got.URLList) != 1 || got.URLList[0] != link.WebSeeds[0] {
				t.Errorf("url-list %q, want %q", got.URLList, link.WebSeeds)
			}
			for _, want := range []string{"name:      album\n", "info-hash: " + mi.InfoHash().String(), "378887 bytes in 2 files, 12 pieces", "written:   " + out} {
				if !strings.Contains(stdout.String(), want) {
					t.Errorf("output lacks %q:\n%s", want, stdout.String())
				}
			}
		})
	}
}

// Without -o the file is named after the torrent, in the current
// directory, unless the name could reach elsewhere.
func TestFileName(t *testing.T) {
	var ih metainfo.Hash
	ih[0] = 0xab
	for name, want := range map[string]string{
		"album":  "album",
		"a/b":    ih.String(),
		`a\b`:    ih.String(),
		"..":     ih.String(),
		"":       ih.String(),
		"x\x00y": ih.String(),
	} {
		if got := fileName(name, ih); got != want {
			t.Errorf("fileName(%q) = %q, want %q", name, got, want)
		}
	}
}

// Usage errors exit with 2; a magnet whose metadata nobody serves fails
// with 1 once the timeout ends.
func TestErrors(t *testing.T) {
	ih := "magnet:?xt=urn:btih:0123456789abcdef0123456789abcdef01234567"
	for _, c := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"-h"}, 0, ""},
		{nil, 2, "want one MAGNET"},
		{[]string{"-no-dht", "magnet:?dn=x"}, 2, "magnet"},
		{[]string{"-no-dht", ih}, 2, "no peers"},
		{[]string{"-peer", "nohost", ih}, 2, "HOST:PORT"},
		{[]string{"-no-dht", "-timeout", "200ms", "-peer", "127.0.0.1:1", "-o", filepath.Join(t.TempDir(), "x"), ih}, 1, "no metadata"},
	} {
		var stdout, stderr bytes.Buffer
		code := run(context.Background(), c.args, &stdout, &stderr)
		if code != c.code || !strings.Contains(stderr.String(), c.want) {
			t.Errorf("%q: exit %d (%q), want %d and %q", c.args, code, stderr.String(), c.code, c.want)
		}
	}
}
