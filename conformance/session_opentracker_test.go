//go:build interop

package conformance

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/bittern/bittern"
	"github.com/bittern/bittern/metainfo"
)

// otTorrent builds a v1 torrent of path announcing to the tracker that
// start returns, and writes it to out. start is given the info-hash first:
// opentracker serves only whitelisted hashes, and the hash does not depend
// on the announce URL.
func otTorrent(t *testing.T, path, out string, start func(metainfo.Hash) string) *metainfo.MetaInfo {
	t.Helper()
	b := &metainfo.Builder{Version: metainfo.V1, PieceLength: 64 << 10, NoCreationDate: true}
	bare, err := b.Build(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	b.Trackers = [][]string{{start(bare.InfoHash())}}
	mi, err := b.Build(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	if mi.InfoHash() != bare.InfoHash() {
		t.Fatalf("the announce URL changed the info-hash: %v, %v", mi.InfoHash(), bare.InfoHash())
	}
	if err := os.WriteFile(out, mustMarshal(t, mi), 0o644); err != nil {
		t.Fatal(err)
	}
	return mi
}

// otAria2 runs aria2 on torrent with peers from its tracker only (no DHT,
// LPD or PEX); extra adds seeding flags.
func otAria2(t *testing.T, torrent, dir string, extra ...string) *proc {
	t.Helper()
	args := []string{"--enable-dht=false", "--enable-dht6=false", "--bt-enable-lpd=false",
		"--enable-peer-exchange=false", fmt.Sprintf("--listen-port=%d", freePort(t, "tcp")),
		"--file-allocation=none", "--summary-interval=0", "--console-log-level=notice", "-d", dir}
	args = append(args, extra...)
	return startProc(t, "aria2c", append(args, torrent)...)
}

// otWaitSeeders waits until opentracker's scrape counts want seeders.
func otWaitSeeders(t *testing.T, url string, ih metainfo.Hash, want int, who string) {
	t.Helper()
	waitFor(t, 30*time.Second, who+" to announce to opentracker as a seeder", func() bool {
		st, err := scrapeOnce(t, url, ih)
		return err == nil && st[ih].Complete == want
	})
}

// TestSessionOpentrackerAria2: bittern and aria2 find each other only
// through opentracker (HTTP, v1) and transfer both ways: aria2 leeches
// from our seeding session, and our session leeches from aria2.
func TestSessionOpentrackerAria2(t *testing.T) {
	requireBinary(t, "aria2c")
	t.Run("aria2-leeches", func(t *testing.T) {
		dir := t.TempDir()
		want := sessionWriteFile(t, filepath.Join(dir, "seed", "clip.bin"), 3<<20+101, 80)
		torrent := filepath.Join(dir, "clip.torrent")
		var url string
		mi := otTorrent(t, filepath.Join(dir, "seed", "clip.bin"), torrent, func(ih metainfo.Hash) string {
			url, _ = startOpentracker(t, ih)
			return url
		})
		s, err := bittern.NewSession(&bittern.Config{ListenAddr: "127.0.0.1:0", DataDir: filepath.Join(dir, "seed")})
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		tor, err := s.AddTorrent(ctx, mi, nil)
		if err != nil {
			t.Fatal(err)
		}
		otWaitSeeders(t, url, mi.InfoHash(), 1, "our session")
		p := otAria2(t, torrent, filepath.Join(dir, "aria2"), "--seed-time=0")
		if err := p.Wait(ctx); err != nil {
			t.Fatalf("aria2: %v; our stats %+v", err, tor.Stats())
		}
		got, err := os.ReadFile(filepath.Join(dir, "aria2", "clip.bin"))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Fatal("aria2's data differs")
		}
		if st := tor.Stats(); st.TrackerAnnounces == 0 || st.Uploaded < mi.Info().TotalLength() {
			t.Errorf("our seed: %+v", st)
		}
	})
	t.Run("bittern-leeches", func(t *testing.T) {
		dir := t.TempDir()
		want := sessionWriteFile(t, filepath.Join(dir, "seed", "tune.bin"), 2<<20+303, 81)
		torrent := filepath.Join(dir, "tune.torrent")
		var url string
		mi := otTorrent(t, filepath.Join(dir, "seed", "tune.bin"), torrent, func(ih metainfo.Hash) string {
			url, _ = startOpentracker(t, ih)
			return url
		})
		otAria2(t, torrent, filepath.Join(dir, "seed"), "-V", "--seed-ratio=0.0")
		otWaitSeeders(t, url, mi.InfoHash(), 1, "aria2")

		s, err := bittern.NewSession(&bittern.Config{ListenAddr: "127.0.0.1:0", DataDir: filepath.Join(dir, "leech")})
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		tor, err := s.AddTorrent(ctx, mi, nil)
		if err != nil {
			t.Fatal(err)
		}
		if err := tor.Wait(ctx); err != nil {
			t.Fatalf("wait: %v; stats %+v", err, tor.Stats())
		}
		st := tor.Stats()
		s.Close()
		got, err := os.ReadFile(filepath.Join(dir, "leech", "tune.bin"))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Fatal("downloaded data differs")
		}
		if st.TrackerAnnounces == 0 {
			t.Errorf("no tracker announce answered: %+v", st)
		}
	})
}
