//go:build interop

package conformance

import (
	"bytes"
	"context"
	"fmt"
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

// TestSessionLeechFromLibtorrent downloads a v1 torrent from libtorrent
// seeding on loopback and checks the bytes.
func TestSessionLeechFromLibtorrent(t *testing.T) {
	dir := t.TempDir()
	want := sessionWriteFile(t, filepath.Join(dir, "seed", "data.bin"), 8<<20+123, 1)
	torrent := filepath.Join(dir, "data.torrent")
	mi := sessionBuildV1(t, filepath.Join(dir, "seed", "data.bin"), torrent, 256<<10)

	port := freePort(t, "tcp")
	p := startPython(t, sessionLTSeed, torrent, filepath.Join(dir, "seed"), fmt.Sprint(port), "120")
	waitFor(t, 60*time.Second, "libtorrent to seed", func() bool { return strings.Contains(p.Log(), "seeding") })

	s, err := bittern.NewSession(&bittern.Config{ListenAddr: "127.0.0.1:0", DataDir: filepath.Join(dir, "leech")})
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
		t.Fatalf("wait: %v; stats %+v", err, tor.Stats())
	}
	st := tor.Stats()
	s.Close()
	got, err := os.ReadFile(filepath.Join(dir, "leech", "data.bin"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatal("downloaded data differs")
	}
	if st.HashFailures != 0 {
		t.Errorf("%d hash failures from libtorrent", st.HashFailures)
	}
	t.Logf("stats: %+v", st)
}

// TestSessionSeedToLibtorrent seeds a multi-file v1 torrent that libtorrent
// downloads from us over loopback.
func TestSessionSeedToLibtorrent(t *testing.T) {
	dir := t.TempDir()
	files := map[string]int{"a.bin": 3<<20 + 17, "sub/b.bin": 1, "sub/c.bin": 5<<20 - 3, "d.txt": 40000}
	contents := map[string][]byte{}
	i := uint64(2)
	for name, n := range files {
		contents[name] = sessionWriteFile(t, filepath.Join(dir, "seed", "tree", filepath.FromSlash(name)), n, i)
		i++
	}
	torrent := filepath.Join(dir, "tree.torrent")
	mi := sessionBuildV1(t, filepath.Join(dir, "seed", "tree"), torrent, 128<<10)

	s, tor := seedingSession(t, &bittern.Config{ListenAddr: "127.0.0.1:0", DataDir: filepath.Join(dir, "seed")}, mi)
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	ourPort := s.Addr().(*net.TCPAddr).Port
	out := runPython(t, ctx, sessionLTLeech, torrent, filepath.Join(dir, "lt"), fmt.Sprint(freePort(t, "tcp")), fmt.Sprint(ourPort), "90")
	if !strings.Contains(string(out), "finished") {
		t.Fatalf("libtorrent did not finish:\n%s", out)
	}
	for name, want := range contents {
		got, err := os.ReadFile(filepath.Join(dir, "lt", "tree", filepath.FromSlash(name)))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s differs", name)
		}
	}
	if up := tor.Stats().Uploaded; up < mi.Info().TotalLength() {
		t.Errorf("uploaded %d bytes, want at least %d", up, mi.Info().TotalLength())
	}
}

// TestSessionSeedToAria2 seeds to aria2, which cannot be given a peer:
// our seeding session dials its listening port.
func TestSessionSeedToAria2(t *testing.T) {
	requireBinary(t, "aria2c")
	dir := t.TempDir()
	want := sessionWriteFile(t, filepath.Join(dir, "seed", "movie.bin"), 6<<20+999, 20)
	torrent := filepath.Join(dir, "movie.torrent")
	mi := sessionBuildV1(t, filepath.Join(dir, "seed", "movie.bin"), torrent, 256<<10)

	s, err := bittern.NewSession(&bittern.Config{ListenAddr: "127.0.0.1:0", DataDir: filepath.Join(dir, "seed")})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	tor, err := s.AddTorrent(ctx, mi, nil)
	if err != nil {
		t.Fatal(err)
	}
	port := freePort(t, "tcp")
	p := startProc(t, "aria2c", "--enable-dht=false", "--enable-dht6=false", "--bt-enable-lpd=false",
		"--enable-peer-exchange=false", fmt.Sprintf("--listen-port=%d", port), "--seed-time=0",
		"--file-allocation=none", "--summary-interval=0", "--console-log-level=notice",
		"-d", filepath.Join(dir, "aria2"), torrent)
	ap := netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), uint16(port))
	// aria2 opens its port a moment after it starts; the session retries.
	waitFor(t, 30*time.Second, "aria2 to listen", func() bool {
		c, err := net.Dial("tcp", ap.String())
		if err == nil {
			c.Close()
		}
		return err == nil
	})
	tor.AddPeers(ap)
	if err := p.Wait(ctx); err != nil {
		t.Fatalf("aria2: %v\n%s", err, p.Log())
	}
	got, err := os.ReadFile(filepath.Join(dir, "aria2", "movie.bin"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatal("aria2's data differs")
	}
}

// TestSessionLeechFromAria2 downloads from aria2 seeding on loopback.
func TestSessionLeechFromAria2(t *testing.T) {
	requireBinary(t, "aria2c")
	dir := t.TempDir()
	want := sessionWriteFile(t, filepath.Join(dir, "seed", "song.bin"), 5<<20+7, 21)
	torrent := filepath.Join(dir, "song.torrent")
	mi := sessionBuildV1(t, filepath.Join(dir, "seed", "song.bin"), torrent, 64<<10)
	port := freePort(t, "tcp")
	startProc(t, "aria2c", "--enable-dht=false", "--enable-dht6=false", "--bt-enable-lpd=false",
		"--enable-peer-exchange=false", fmt.Sprintf("--listen-port=%d", port), "-V", "--seed-ratio=0.0",
		"--file-allocation=none", "--summary-interval=0", "--console-log-level=notice",
		"-d", filepath.Join(dir, "seed"), torrent)
	ap := netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), uint16(port))

	s, err := bittern.NewSession(&bittern.Config{ListenAddr: "127.0.0.1:0", DataDir: filepath.Join(dir, "leech"), RetryBackoff: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	tor, err := s.AddTorrent(ctx, mi, &bittern.TorrentOptions{Peers: []netip.AddrPort{ap}})
	if err != nil {
		t.Fatal(err)
	}
	if err := tor.Wait(ctx); err != nil {
		t.Fatalf("wait: %v; %+v", err, tor.Stats())
	}
	s.Close()
	got, err := os.ReadFile(filepath.Join(dir, "leech", "song.bin"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatal("data differs")
	}
}

// TestSessionSeedToTransmission seeds to Transmission, which never dials
// loopback peers: our seeding session dials its peer port.
func TestSessionSeedToTransmission(t *testing.T) {
	dir := t.TempDir()
	want := sessionWriteFile(t, filepath.Join(dir, "seed", "show.bin"), 4<<20+321, 22)
	torrent := filepath.Join(dir, "show.torrent")
	mi := sessionBuildV1(t, filepath.Join(dir, "seed", "show.bin"), torrent, 128<<10)

	s, err := bittern.NewSession(&bittern.Config{ListenAddr: "127.0.0.1:0", DataDir: filepath.Join(dir, "seed")})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	tor, err := s.AddTorrent(ctx, mi, nil)
	if err != nil {
		t.Fatal(err)
	}
	peerPort, rpcPort := freePort(t, "tcp"), freePort(t, "tcp")
	tr := filepath.Join(dir, "tr")
	p := sessionStartTransmission(t, tr, peerPort, rpcPort)
	if out, err := runBounded(10*time.Second, "transmission-remote", fmt.Sprintf("127.0.0.1:%d", rpcPort), "-a", torrent, "-w", filepath.Join(tr, "downloads")); err != nil {
		t.Fatalf("transmission-remote -a: %v\n%s", err, out)
	}
	tor.AddPeers(netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), uint16(peerPort)))
	// Transmission's unchoke and request timers are slow; allow a minute.
	waitFor(t, 90*time.Second, "transmission to finish", func() bool { return sessionTransmissionDone(t, rpcPort) })
	got, err := os.ReadFile(filepath.Join(tr, "downloads", "show.bin"))
	if err != nil {
		t.Fatalf("%v\n%s", err, p.Log())
	}
	if !bytes.Equal(got, want) {
		t.Fatal("transmission's data differs")
	}
}

// TestSessionLeechHybridFromLibtorrent downloads a multi-file hybrid
// torrent made by libtorrent (with its pad files) through the v1 swarm.
func TestSessionLeechHybridFromLibtorrent(t *testing.T) {
	dir := t.TempDir()
	files := map[string]int{"x.bin": 300000, "y/z.bin": 1<<20 + 5, "y/w.txt": 10}
	want := map[string][]byte{}
	i := uint64(30)
	for name, n := range files {
		want[name] = sessionWriteFile(t, filepath.Join(dir, "seed", "pack", filepath.FromSlash(name)), n, i)
		i++
	}
	torrent := filepath.Join(dir, "pack.torrent")
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	runPython(t, ctx, sessionLTMakeTorrent, filepath.Join(dir, "seed", "pack"), "hybrid", fmt.Sprint(64<<10), torrent)
	mi, err := metainfo.LoadFile(torrent)
	if err != nil {
		t.Fatal(err)
	}
	if !mi.Info().IsHybrid() {
		t.Fatal("libtorrent made no hybrid torrent")
	}
	port := freePort(t, "tcp")
	p := startPython(t, sessionLTSeed, torrent, filepath.Join(dir, "seed"), fmt.Sprint(port), "120")
	waitFor(t, 60*time.Second, "libtorrent to seed", func() bool { return strings.Contains(p.Log(), "seeding") })

	s, err := bittern.NewSession(&bittern.Config{ListenAddr: "127.0.0.1:0", DataDir: filepath.Join(dir, "leech")})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	tor, err := s.AddTorrent(ctx, mi, &bittern.TorrentOptions{Peers: []netip.AddrPort{netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), uint16(port))}})
	if err != nil {
		t.Fatal(err)
	}
	if err := tor.Wait(ctx); err != nil {
		t.Fatalf("wait: %v; %+v", err, tor.Stats())
	}
	s.Close()
	for name, b := range want {
		got, err := os.ReadFile(filepath.Join(dir, "leech", "pack", filepath.FromSlash(name)))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, b) {
			t.Errorf("%s differs", name)
		}
	}
}
