//go:build interop

package conformance

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/bittern/bittern"
	"github.com/bittern/bittern/metainfo"
)

// sessionV2Files is a multi-file layout for v2 tests with 64 KiB pieces:
// files smaller than a piece, one of exactly a piece, multi-piece files
// with a short last piece.
var sessionV2Files = map[string]int{
	"a.bin":       3<<20 + 17,
	"sub/b.bin":   1,
	"sub/c.bin":   1<<20 - 3,
	"sub/d/e.txt": 40000,
	"exact.bin":   64 << 10,
}

// sessionV2Tree writes sessionV2Files under dir/tree and builds a torrent
// of that directory with our Builder (version v, 64 KiB pieces), written
// to dir/tree.torrent. It returns the torrent and the files' contents.
func sessionV2Tree(t *testing.T, dir string, v metainfo.Version) (*metainfo.MetaInfo, string, map[string][]byte) {
	t.Helper()
	contents := map[string][]byte{}
	i := uint64(40)
	for name, n := range sessionV2Files {
		contents[name] = sessionWriteFile(t, filepath.Join(dir, "seed", "tree", filepath.FromSlash(name)), n, i)
		i++
	}
	mi, err := (&metainfo.Builder{Version: v, PieceLength: 64 << 10, NoCreationDate: true}).Build(context.Background(), filepath.Join(dir, "seed", "tree"))
	if err != nil {
		t.Fatal(err)
	}
	torrent := filepath.Join(dir, "tree.torrent")
	f, err := os.Create(torrent)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := mi.Write(f); err != nil {
		t.Fatal(err)
	}
	return mi, torrent, contents
}

// sessionV2Compare checks the files under root against contents.
func sessionV2Compare(t *testing.T, root string, contents map[string][]byte) {
	t.Helper()
	for name, want := range contents {
		got, err := os.ReadFile(filepath.Join(root, filepath.FromSlash(name)))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s differs", name)
		}
	}
}

// sessionV2Hashes returns the info-hashes our session logged for its peer
// connections ("connected" lines at Debug).
func sessionV2Hashes(log string) []string {
	var hs []string
	for _, line := range strings.Split(log, "\n") {
		if !strings.Contains(line, "msg=connected") {
			continue
		}
		if _, rest, ok := strings.Cut(line, "infohash="); ok {
			h, _, _ := strings.Cut(rest, " ")
			hs = append(hs, h)
		}
	}
	return hs
}

// sessionV2Leech downloads mi from libtorrent seeding torrent (from
// dir/seed) on loopback into dir/leech and checks the bytes; it returns
// the info-hashes of the connections.
func sessionV2Leech(t *testing.T, dir string, mi *metainfo.MetaInfo, torrent string, contents map[string][]byte) []string {
	t.Helper()
	port := freePort(t, "tcp")
	p := startPython(t, sessionLTSeed, torrent, filepath.Join(dir, "seed"), fmt.Sprint(port), "120")
	waitFor(t, 60*time.Second, "libtorrent to seed", func() bool { return strings.Contains(p.Log(), "seeding") })

	logs := &syncBuffer{}
	s, err := bittern.NewSession(&bittern.Config{
		ListenAddr: "127.0.0.1:0", DataDir: filepath.Join(dir, "leech"),
		Logger: slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
	})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	tor, err := s.AddTorrent(ctx, mi, &bittern.TorrentOptions{Peers: []netip.AddrPort{netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), uint16(port))}})
	if err != nil {
		t.Fatal(err)
	}
	if err := tor.Wait(ctx); err != nil {
		t.Fatalf("wait: %v; stats %+v\n%s", err, tor.Stats(), tail(logs.String(), 4000))
	}
	st := tor.Stats()
	s.Close()
	sessionV2Compare(t, filepath.Join(dir, "leech", "tree"), contents)
	if st.HashFailures != 0 {
		t.Errorf("%d hash failures from libtorrent", st.HashFailures)
	}
	t.Logf("stats: %+v", st)
	return sessionV2Hashes(logs.String())
}

// sessionV2Seed seeds mi from dir/seed to libtorrent, which downloads
// torrent into dir/lt; it checks libtorrent's bytes and returns the
// info-hashes of our connections.
func sessionV2Seed(t *testing.T, dir string, mi *metainfo.MetaInfo, torrent string, contents map[string][]byte) []string {
	t.Helper()
	logs := &syncBuffer{}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("our log tail:\n%s", tail(logs.String(), 6000))
		}
	})
	s, tor := seedingSession(t, &bittern.Config{
		ListenAddr: "127.0.0.1:0", DataDir: filepath.Join(dir, "seed"),
		Logger: slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
	}, mi)
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	ourPort := s.Addr().(*net.TCPAddr).Port
	out := runPython(t, ctx, sessionLTLeech, torrent, filepath.Join(dir, "lt"), fmt.Sprint(freePort(t, "tcp")), fmt.Sprint(ourPort), "90")
	if !strings.Contains(string(out), "finished") {
		t.Fatalf("libtorrent did not finish:\n%s", out)
	}
	sessionV2Compare(t, filepath.Join(dir, "lt", "tree"), contents)
	var size int64
	for _, b := range contents {
		size += int64(len(b))
	}
	if up := tor.Stats().Uploaded; up < size {
		t.Errorf("uploaded %d bytes, want at least the %d bytes of the files", up, size)
	}
	s.Close()
	return sessionV2Hashes(logs.String())
}

// TestSessionV2LeechFromLibtorrent downloads a multi-file v2-only torrent
// from libtorrent: merkle-verified pieces, truncated v2 info-hash.
func TestSessionV2LeechFromLibtorrent(t *testing.T) {
	dir := t.TempDir()
	mi, torrent, contents := sessionV2Tree(t, dir, metainfo.V2)
	hs := sessionV2Leech(t, dir, mi, torrent, contents)
	want := mi.InfoHashV2().Truncate().String()
	if len(hs) == 0 || hs[0] != want {
		t.Errorf("connections used %v, want the truncated v2 hash %s", hs, want)
	}
}

// TestSessionV2SeedToLibtorrent seeds a multi-file v2-only torrent to
// libtorrent.
func TestSessionV2SeedToLibtorrent(t *testing.T) {
	dir := t.TempDir()
	mi, torrent, contents := sessionV2Tree(t, dir, metainfo.V2)
	hs := sessionV2Seed(t, dir, mi, torrent, contents)
	want := mi.InfoHashV2().Truncate().String()
	if len(hs) == 0 || hs[0] != want {
		t.Errorf("connections used %v, want the truncated v2 hash %s", hs, want)
	}
}

// TestSessionV2HybridWithLibtorrent exchanges a hybrid torrent with
// libtorrent both ways and reports which info-hash its connections use:
// we dial with the v1 hash and the v2 bit (libtorrent may upgrade the
// connection to the v2 hash); libtorrent dials with the hash it chooses,
// and either is routed to the torrent.
func TestSessionV2HybridWithLibtorrent(t *testing.T) {
	dir := t.TempDir()
	mi, torrent, contents := sessionV2Tree(t, dir, metainfo.Hybrid)
	v1, v2 := mi.InfoHash().String(), mi.InfoHashV2().Truncate().String()
	name := func(h string) string {
		switch h {
		case v1:
			return "v1"
		case v2:
			return "v2"
		}
		return "unknown " + h
	}
	check := func(dir string, hs []string) {
		t.Helper()
		if len(hs) == 0 {
			t.Errorf("%s: no connection logged", dir)
		}
		for _, h := range hs {
			if n := name(h); strings.HasPrefix(n, "unknown") {
				t.Errorf("%s: connection with %s", dir, n)
			} else {
				t.Logf("%s: connection with the %s info-hash", dir, n)
			}
		}
	}
	check("we leech, dialling libtorrent", sessionV2Leech(t, dir, mi, torrent, contents))
	check("we seed, libtorrent dials", sessionV2Seed(t, dir, mi, torrent, contents))
}

// TestSessionV2MagnetFromLibtorrent fetches a v2-only magnet link
// ("btmh") from libtorrent: the info dictionary over ut_metadata, the
// piece layers with BEP 52 hash requests, then the data.
func TestSessionV2MagnetFromLibtorrent(t *testing.T) {
	dir := t.TempDir()
	mi, torrent, contents := sessionV2Tree(t, dir, metainfo.V2)
	port := freePort(t, "tcp")
	p := startPython(t, sessionLTMagnetSeed, torrent, filepath.Join(dir, "seed"), fmt.Sprint(port), "120")
	waitFor(t, 60*time.Second, "libtorrent to seed", func() bool { return strings.Contains(p.Log(), "seeding") })

	logs := &syncBuffer{}
	s, err := bittern.NewSession(&bittern.Config{
		ListenAddr: "127.0.0.1:0", DataDir: filepath.Join(dir, "leech"),
		Logger: slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
	})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("our log tail:\n%s", tail(logs.String(), 6000))
		}
	})
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	m := &metainfo.Magnet{InfoHashV2: mi.InfoHashV2(), Peers: []string{fmt.Sprintf("127.0.0.1:%d", port)}}
	tor, err := s.AddMagnet(ctx, m.String(), nil)
	if err != nil {
		t.Fatal(err)
	}
	got := tor.MetaInfo()
	if !bytes.Equal(got.InfoBytes, mi.InfoBytes) {
		t.Fatal("metadata from libtorrent differs")
	}
	for root, l := range mi.PieceLayers {
		if !bytes.Equal(got.PieceLayers[root], l) {
			t.Fatalf("piece layer %v from libtorrent differs", root)
		}
	}
	if err := tor.Wait(ctx); err != nil {
		t.Fatalf("wait: %v; stats %+v", err, tor.Stats())
	}
	s.Close()
	sessionV2Compare(t, filepath.Join(dir, "leech", "tree"), contents)
}

// TestSessionV2MagnetToLibtorrent: libtorrent, given only a v2 magnet link
// naming our session, fetches the metadata and the piece layers (our
// answers to its hash requests) from us, then the data.
func TestSessionV2MagnetToLibtorrent(t *testing.T) {
	dir := t.TempDir()
	mi, _, contents := sessionV2Tree(t, dir, metainfo.V2)
	s, err := bittern.NewSession(&bittern.Config{ListenAddr: "127.0.0.1:0", DataDir: filepath.Join(dir, "seed")})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	if _, err := s.AddTorrent(ctx, mi, nil); err != nil {
		t.Fatal(err)
	}
	m := &metainfo.Magnet{InfoHashV2: mi.InfoHashV2(), Peers: []string{s.Addr().(*net.TCPAddr).AddrPort().String()}}
	out := string(runPython(t, ctx, sessionLTMagnetLeech, m.String(), filepath.Join(dir, "lt"), fmt.Sprint(freePort(t, "tcp")), "90"))
	if !strings.Contains(out, "metadata") || !strings.Contains(out, "finished") {
		t.Fatalf("libtorrent:\n%s", out)
	}
	sessionV2Compare(t, filepath.Join(dir, "lt", "tree"), contents)
}
