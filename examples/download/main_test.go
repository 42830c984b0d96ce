package main

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"math/rand/v2"
	"net"
	"net/http/httptest"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/bittern/bittern"
	"github.com/bittern/bittern/dht"
	"github.com/bittern/bittern/metainfo"
	"github.com/bittern/bittern/tracker"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// fixture writes size random bytes to dir/name and a v1 torrent of them.
func fixture(t *testing.T, size int) (dir, torrent string, data []byte) {
	t.Helper()
	return fixtureTracker(t, size, "http://127.0.0.1:1/announce")
}

// fixtureTracker is fixture with the given announce URL.
func fixtureTracker(t *testing.T, size int, announce string) (dir, torrent string, data []byte) {
	t.Helper()
	dir = filepath.Join(t.TempDir(), "src")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	data = make([]byte, size)
	r := rand.NewChaCha8([32]byte{1})
	r.Read(data)
	if err := os.WriteFile(filepath.Join(dir, "payload.bin"), data, 0o644); err != nil {
		t.Fatal(err)
	}
	mi, err := (&metainfo.Builder{Version: metainfo.V1, PieceLength: 32 << 10, Trackers: [][]string{{announce}}}).
		Build(context.Background(), filepath.Join(dir, "payload.bin"))
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
	return dir, torrent, data
}

// seeder starts an in-process bittern session seeding dir.
func seeder(t *testing.T, dir, torrent string) netip.AddrPort {
	t.Helper()
	mi, err := metainfo.LoadFile(torrent)
	if err != nil {
		t.Fatal(err)
	}
	s, err := bittern.NewSession(&bittern.Config{ListenAddr: "127.0.0.1:0", DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	if _, err := s.AddTorrent(context.Background(), mi, nil); err != nil {
		t.Fatal(err)
	}
	return netip.MustParseAddrPort(s.Addr().String())
}

func runDownload(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var o, e bytes.Buffer
	code = run(context.Background(), args, &o, &e)
	return code, o.String(), e.String()
}

func sameBytes(t *testing.T, path string, want []byte) {
	t.Helper()
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("%s: %d bytes differ from the %d seeded", path, len(got), len(want))
	}
}

func TestDownload(t *testing.T) {
	dir, torrent, data := fixture(t, 1<<20+777)
	peer := seeder(t, dir, torrent)
	out := t.TempDir()
	code, stdout, stderr := runDownload(t, "-no-dht", "-o", out, "-peer", peer.String(), "-listen", "127.0.0.1:0", "-timeout", "2m", torrent)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	sameBytes(t, filepath.Join(out, "payload.bin"), data)
	if !strings.Contains(stdout, "complete: payload.bin, 1049353 bytes verified") {
		t.Errorf("stdout %q", stdout)
	}
	if strings.Contains(stdout, "\r") {
		t.Errorf("progress redrawn in place on a non-terminal: %q", stdout)
	}
	if stderr != "" {
		t.Errorf("stderr %q", stderr)
	}

	// Again: the data is there, so it completes from the check alone,
	// without a peer that answers.
	code, stdout, stderr = runDownload(t, "-no-dht", "-o", out, "-peer", "127.0.0.1:1", "-no-trackers", "-listen", "127.0.0.1:0", torrent)
	if code != 0 || !strings.Contains(stdout, "complete:") || stderr != "" {
		t.Fatalf("resume: exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}
}

func TestDownloadMagnet(t *testing.T) {
	dir, torrent, data := fixture(t, 700<<10+1)
	peer := seeder(t, dir, torrent)
	mi, err := metainfo.LoadFile(torrent)
	if err != nil {
		t.Fatal(err)
	}
	link := "magnet:?xt=urn:btih:" + mi.InfoHash().String() + "&dn=payload.bin&x.pe=" + peer.String()
	out := t.TempDir()
	code, stdout, stderr := runDownload(t, "-no-dht", "-o", out, "-no-trackers", "-listen", "127.0.0.1:0", "-timeout", "2m", link)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	sameBytes(t, filepath.Join(out, "payload.bin"), data)
	for _, want := range []string{"fetching metadata for " + mi.InfoHash().String(), "payload.bin: 716801 bytes in 22 pieces", "complete: payload.bin"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("stdout lacks %q: %q", want, stdout)
		}
	}
}

// TestDownloadTracker finds the seeder through bittern's tracker server
// alone: no -peer.
func TestDownloadTracker(t *testing.T) {
	srv := httptest.NewServer(tracker.NewServer(nil))
	t.Cleanup(srv.Close)
	dir, torrent, data := fixtureTracker(t, 300<<10, srv.URL+"/announce")
	seeder(t, dir, torrent)
	out := t.TempDir()
	code, _, stderr := runDownload(t, "-no-dht", "-o", out, "-listen", "127.0.0.1:0", "-timeout", "2m", torrent)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	sameBytes(t, filepath.Join(out, "payload.bin"), data)
}

// TestDownloadEncrypted downloads over MSE only (RC4 or plaintext payload,
// as the seeder chooses), from a seeder that accepts either.
func TestDownloadEncrypted(t *testing.T) {
	dir, torrent, data := fixture(t, 500<<10)
	peer := seeder(t, dir, torrent)
	out := t.TempDir()
	code, _, stderr := runDownload(t, "-no-dht", "-no-trackers", "-encryption", "required", "-o", out, "-peer", peer.String(), "-listen", "127.0.0.1:0", "-timeout", "2m", torrent)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	sameBytes(t, filepath.Join(out, "payload.bin"), data)
}

// TestDownloadDHT finds the seeder through a DHT on loopback alone: a
// bootstrap node, to which the seeder announced.
func TestDownloadDHT(t *testing.T) {
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	boot, err := dht.NewServer(pc, &dht.Config{BootstrapNodes: []string{}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { boot.Close() })
	dir, torrent, data := fixture(t, 200<<10)
	mi, err := metainfo.LoadFile(torrent)
	if err != nil {
		t.Fatal(err)
	}
	pc2, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	node, err := dht.NewServer(pc2, &dht.Config{BootstrapNodes: []string{boot.Addr().String()}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { node.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := node.Bootstrap(ctx); err != nil {
		t.Fatal(err)
	}
	s, err := bittern.NewSession(&bittern.Config{ListenAddr: "127.0.0.1:0", DataDir: dir, NoTrackers: true, DHT: node})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() }) // before node.Close: cleanups run last first
	if _, err := s.AddTorrent(ctx, mi, nil); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(time.Minute)
	for boot.Stats().Peers == 0 {
		if time.Now().After(deadline) {
			t.Fatalf("the seeder did not announce to the DHT: %+v", boot.Stats())
		}
		time.Sleep(10 * time.Millisecond)
	}
	out := t.TempDir()
	code, _, stderr := runDownload(t, "-no-trackers", "-dht-bootstrap", boot.Addr().String(), "-o", out, "-listen", "127.0.0.1:0", "-timeout", "2m", torrent)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	sameBytes(t, filepath.Join(out, "payload.bin"), data)
}

func TestDownloadSeedUntilTimeout(t *testing.T) {
	dir, torrent, _ := fixture(t, 100<<10)
	peer := seeder(t, dir, torrent)
	code, stdout, stderr := runDownload(t, "-no-dht", "-o", t.TempDir(), "-peer", peer.String(), "-listen", "127.0.0.1:0", "-seed", "-timeout", "3s", torrent)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	for _, want := range []string{"complete:", "seeding\n", "stopped seeding (context deadline exceeded)"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("stdout lacks %q: %q", want, stdout)
		}
	}
}

func TestDownloadTimeout(t *testing.T) {
	_, torrent, _ := fixture(t, 100<<10)
	// Nobody listens on port 1.
	code, _, stderr := runDownload(t, "-no-dht", "-o", t.TempDir(), "-peer", "127.0.0.1:1", "-no-trackers", "-listen", "127.0.0.1:0", "-timeout", "500ms", torrent)
	if code != 1 || !strings.Contains(stderr, "download: stopped (context deadline exceeded)") || !strings.Contains(stderr, "0 of 4 pieces verified") {
		t.Fatalf("exit %d, stderr %q", code, stderr)
	}
}

func TestDownloadErrors(t *testing.T) {
	_, torrent, _ := fixture(t, 1000)
	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"-no-dht", "magnet:?xt=urn:btih:0123456789abcdef0123456789abcdef01234567"}, 2, "no peers: give -peer"},
		{[]string{"-no-dht", "-no-trackers", "magnet:?xt=urn:btih:0123456789abcdef0123456789abcdef01234567&tr=http://127.0.0.1:1/announce"}, 2, "no peers: give -peer"},
		{[]string{"-peer", "127.0.0.1:1", "magnet:?xt=urn:btih:nonsense"}, 1, "metainfo: "},
		{[]string{"-peer", "127.0.0.1:1", "-encryption", "bogus", torrent}, 2, `-encryption "bogus"`},
		{[]string{"-no-dht", "-no-trackers", torrent}, 2, "no peers: give -peer"},
		{[]string{"-peer", "localhost:80", torrent}, 2, "invalid value"},
		{[]string{"-peer", "127.0.0.1:1"}, 2, "want one FILE.torrent or MAGNET argument, got 0"},
		{[]string{"-peer", "127.0.0.1:1", filepath.Join(t.TempDir(), "missing.torrent")}, 1, "no such file"},
	} {
		code, _, stderr := runDownload(t, tc.args...)
		if code != tc.code || !strings.Contains(stderr, tc.want) {
			t.Errorf("%v: exit %d, stderr %q; want %d and %q", tc.args, code, stderr, tc.code, tc.want)
		}
	}
}

func TestProgressTerminal(t *testing.T) {
	var b bytes.Buffer
	p := &progress{w: &b, terminal: true}
	p.show(bittern.TorrentStats{Pieces: 10, PiecesHave: 5, Length: 10 << 20, BytesHave: 5 << 20, DownloadRate: 3 << 20, Peers: 2, ETA: 2 * time.Second})
	p.printf("done\n")
	want := "\r[===============               ]  50.0% 5.0 MiB/10.0 MiB  down 3.0 MiB/s  up 0 B/s  2 peers  eta 2s\x1b[K\ndone\n"
	if b.String() != want {
		t.Errorf("got  %q\nwant %q", b.String(), want)
	}
}

// TestSeedAndDownloadProcesses builds examples/seed and examples/download
// and transfers a file between the two processes on loopback.
func TestSeedAndDownloadProcesses(t *testing.T) {
	bin := t.TempDir()
	for _, name := range []string{"seed", "download"} {
		cmd := exec.Command("go", "build", "-o", filepath.Join(bin, name), "../"+name)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("go build %s: %v\n%s", name, err, out)
		}
	}
	dir, torrent, data := fixture(t, 2<<20+3)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	seed := exec.CommandContext(ctx, filepath.Join(bin, "seed"), "-listen", "127.0.0.1:0", "-no-dht", "-no-trackers", "-encryption", "off", "-data", dir, torrent)
	var seedErr bytes.Buffer
	seed.Stderr = &seedErr
	pipe, err := seed.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := seed.Start(); err != nil {
		t.Fatal(err)
	}
	var seedOut strings.Builder
	addr := make(chan string, 1)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		sc := bufio.NewScanner(pipe)
		for sc.Scan() {
			seedOut.WriteString(sc.Text() + "\n")
			if rest, ok := strings.CutPrefix(sc.Text(), "seeding payload.bin on "); ok {
				addr <- rest
			}
		}
		io.Copy(io.Discard, pipe)
		close(addr)
	}()
	peer, ok := <-addr
	if !ok {
		seed.Wait()
		t.Fatalf("seed exited without seeding: %s%s", seedOut.String(), seedErr.String())
	}

	out := t.TempDir()
	dl := exec.CommandContext(ctx, filepath.Join(bin, "download"), "-o", out, "-peer", peer, "-listen", "127.0.0.1:0", "-no-dht", "-no-trackers", "-encryption", "off", "-timeout", "1m", torrent)
	dlOut, err := dl.CombinedOutput()
	if err != nil {
		t.Fatalf("download: %v\n%s", err, dlOut)
	}
	sameBytes(t, filepath.Join(out, "payload.bin"), data)

	if err := seed.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	if err := seed.Wait(); err != nil {
		t.Fatalf("seed after SIGINT: %v\n%s%s", err, seedOut.String(), seedErr.String())
	}
	if s := seedOut.String(); !strings.Contains(s, "stopped (interrupt signal received): uploaded 2097155 bytes") {
		t.Errorf("seed output %q", s)
	}
}
