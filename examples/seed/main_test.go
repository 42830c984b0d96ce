package main

import (
	"bytes"
	"context"
	"math/rand/v2"
	"net"
	"net/http/httptest"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bittern/bittern"
	"github.com/bittern/bittern/dht"
	"github.com/bittern/bittern/metainfo"
	"github.com/bittern/bittern/storage"
	"github.com/bittern/bittern/tracker"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// fixture writes size random bytes to dir/payload.bin and a v1 torrent.
func fixture(t *testing.T, size int, trackers ...string) (dir, torrent string, data []byte, mi *metainfo.MetaInfo) {
	t.Helper()
	var tiers [][]string
	for _, tr := range trackers {
		tiers = append(tiers, []string{tr})
	}
	dir = t.TempDir()
	data = make([]byte, size)
	rand.NewChaCha8([32]byte{2}).Read(data)
	if err := os.WriteFile(filepath.Join(dir, "payload.bin"), data, 0o644); err != nil {
		t.Fatal(err)
	}
	mi, err := (&metainfo.Builder{Version: metainfo.V1, PieceLength: 16 << 10, Trackers: tiers}).Build(context.Background(), filepath.Join(dir, "payload.bin"))
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := mi.Write(&buf); err != nil {
		t.Fatal(err)
	}
	torrent = filepath.Join(t.TempDir(), "payload.torrent")
	if err := os.WriteFile(torrent, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir, torrent, data, mi
}

// syncBuffer is a bytes.Buffer safe for one writer and concurrent readers.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestSeed runs seed in-process and downloads from it with a Session that
// is given its address.
func TestSeed(t *testing.T) {
	dir, torrent, data, mi := fixture(t, 300<<10+5)
	testSeed(t, dir, torrent, data, mi, true, nil, "-no-dht", "-no-trackers", "-encryption", "off")
}

// TestSeedEncrypted: seed refuses plaintext; the leecher dials with MSE.
func TestSeedEncrypted(t *testing.T) {
	dir, torrent, data, mi := fixture(t, 100<<10)
	testSeed(t, dir, torrent, data, mi, true, func(c *bittern.Config) { c.Encryption = bittern.EncryptionPreferred },
		"-no-dht", "-no-trackers", "-encryption", "required")
}

// TestSeedDHT: the leecher finds the seed through a DHT on loopback, where
// seed announced itself.
func TestSeedDHT(t *testing.T) {
	boot := dhtNode(t)
	dir, torrent, data, mi := fixture(t, 100<<10)
	testSeed(t, dir, torrent, data, mi, false, func(c *bittern.Config) {
		// Called once seed is seeding: wait for its announce to land, so
		// that the leecher's first lookup finds it.
		deadline := time.Now().Add(time.Minute)
		for boot.Stats().Peers == 0 {
			if time.Now().After(deadline) {
				t.Fatalf("seed did not announce to the DHT: %+v", boot.Stats())
			}
			time.Sleep(10 * time.Millisecond)
		}
		c.DHT = dhtNode(t, boot.Addr().String())
	}, "-no-trackers", "-dht-bootstrap", boot.Addr().String())
}

// dhtNode starts a DHT node on loopback, bootstrapped from the given nodes.
func dhtNode(t *testing.T, bootstrap ...string) *dht.Server {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	node, err := dht.NewServer(pc, &dht.Config{BootstrapNodes: append([]string{}, bootstrap...)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { node.Close() })
	if len(bootstrap) > 0 {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := node.Bootstrap(ctx); err != nil {
			t.Fatal(err)
		}
	}
	return node
}

// TestSeedTracker: the leecher finds the seed through the torrent's tracker
// (bittern's tracker server), to which seed announced.
func TestSeedTracker(t *testing.T) {
	srv := httptest.NewServer(tracker.NewServer(nil))
	t.Cleanup(srv.Close)
	dir, torrent, data, mi := fixture(t, 200<<10, srv.URL+"/announce")
	// Given no peers, the leecher can only meet the seed through the tracker.
	testSeed(t, dir, torrent, data, mi, false, nil, "-no-dht")
}

// testSeed runs seed with flags and downloads from it with a Session
// configured by leech, given the seed's address if direct.
func testSeed(t *testing.T, dir, torrent string, data []byte, mi *metainfo.MetaInfo, direct bool, leech func(*bittern.Config), flags ...string) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var stdout, stderr syncBuffer
	code := make(chan int, 1)
	args := append([]string{"-listen", "127.0.0.1:0", "-data", dir}, flags...)
	go func() { code <- run(ctx, append(args, torrent), &stdout, &stderr) }()
	var addr string
	deadline := time.Now().Add(time.Minute)
	for addr == "" {
		for _, l := range strings.Split(stdout.String(), "\n") {
			if rest, ok := strings.CutPrefix(l, "seeding payload.bin on "); ok {
				addr = rest
			}
		}
		select {
		case c := <-code:
			t.Fatalf("seed exited %d: %s%s", c, stdout.String(), stderr.String())
		case <-time.After(10 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("no seeding line: %s%s", stdout.String(), stderr.String())
		}
	}

	mem := &storage.Memory{}
	cfg := &bittern.Config{ListenAddr: "127.0.0.1:0", Storage: mem}
	if leech != nil {
		leech(cfg)
	}
	s, err := bittern.NewSession(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	opts := &bittern.TorrentOptions{}
	if direct {
		opts.Peers = []netip.AddrPort{netip.MustParseAddrPort(addr)}
	}
	tor, err := s.AddTorrent(ctx, mi, opts)
	if err != nil {
		t.Fatal(err)
	}
	wctx, wcancel := context.WithTimeout(ctx, time.Minute)
	defer wcancel()
	if err := tor.Wait(wctx); err != nil {
		t.Fatal(err)
	}
	got := make([]byte, len(data))
	st, err := mem.Open(ctx, mi.Info(), mi.InfoHash())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.ReadAt(got, 0); err != nil {
		t.Fatal(err)
	}
	st.Close()
	if !bytes.Equal(got, data) {
		t.Fatal("downloaded bytes differ")
	}
	s.Close()

	cancel()
	if c := <-code; c != 0 {
		t.Fatalf("exit %d: %s", c, stderr.String())
	}
	out := stdout.String()
	if !strings.Contains(out, "stopped (context canceled): uploaded ") || strings.Contains(out, "\r") {
		t.Errorf("stdout %q", out)
	}
}

func TestSeedIncomplete(t *testing.T) {
	dir, torrent, data, _ := fixture(t, 100<<10)
	data[50<<10] ^= 1 // corrupts piece 3 of 7
	if err := os.WriteFile(filepath.Join(dir, "payload.bin"), data, 0o644); err != nil {
		t.Fatal(err)
	}
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), []string{"-no-dht", "-listen", "127.0.0.1:0", "-data", dir, torrent}, &stdout, &stderr)
	if code != 1 || !strings.Contains(stderr.String(), "is incomplete: 6 of 7 pieces verified") {
		t.Fatalf("exit %d, stderr %q", code, stderr.String())
	}
}

func TestSeedTimeout(t *testing.T) {
	dir, torrent, _, _ := fixture(t, 1000)
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), []string{"-no-dht", "-listen", "127.0.0.1:0", "-timeout", "100ms", "-data", dir, torrent}, &stdout, &stderr)
	if code != 0 || !strings.Contains(stdout.String(), "seeding payload.bin on 127.0.0.1:") || !strings.Contains(stdout.String(), "stopped (context deadline exceeded)") {
		t.Fatalf("exit %d, stdout %q, stderr %q", code, stdout.String(), stderr.String())
	}
}

func TestSeedErrors(t *testing.T) {
	dir, torrent, _, _ := fixture(t, 1000)
	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"-data", dir, torrent}, 2, "-listen ADDR is required"},
		{[]string{"-listen", "127.0.0.1:0", torrent}, 2, "-data DIR is required"},
		{[]string{"-listen", "127.0.0.1:0", "-data", dir}, 2, "want one FILE.torrent argument, got 0"},
		{[]string{"-listen", "127.0.0.1:0", "-data", dir, "-encryption", "maybe", torrent}, 2, `-encryption "maybe"`},
		{[]string{"-listen", "127.0.0.1:0", "-data", torrent, torrent}, 2, "not a directory"},
		{[]string{"-listen", "127.0.0.1:0", "-data", filepath.Join(dir, "nope"), torrent}, 1, "no such file"},
		{[]string{"-listen", "256.0.0.1:0", "-data", dir, torrent}, 1, "256.0.0.1"},
	} {
		var stdout, stderr bytes.Buffer
		code := run(context.Background(), append([]string{"-no-dht"}, tc.args...), &stdout, &stderr)
		if code != tc.code || !strings.Contains(stderr.String(), tc.want) {
			t.Errorf("%v: exit %d, stderr %q; want %d and %q", tc.args, code, stderr.String(), tc.code, tc.want)
		}
	}
}

func TestStatusTerminal(t *testing.T) {
	var b bytes.Buffer
	s := &status{w: &b, terminal: true}
	s.show(bittern.TorrentStats{Uploaded: 3 << 20, UploadRate: 1 << 10, Peers: 1})
	s.printf("bye\n")
	if want := "\ruploaded 3.0 MiB  up 1.0 KiB/s  1 peers\x1b[K\nbye\n"; b.String() != want {
		t.Errorf("got %q, want %q", b.String(), want)
	}
}
