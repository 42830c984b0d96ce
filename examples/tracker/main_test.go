package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/bittern/bittern/metainfo"
	"github.com/bittern/bittern/tracker"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// syncBuffer is a bytes.Buffer safe for the server's logger writing while
// the test reads.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// startRun runs the program with args until the test ends and returns its
// HTTP and UDP announce URLs (from its log) and the log.
func startRun(t *testing.T, args ...string) (httpURL, udpURL string, log *syncBuffer) {
	t.Helper()
	log = &syncBuffer{}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- run(ctx, args, log) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Error(err)
			}
		case <-time.After(10 * time.Second):
			t.Error("run did not return after cancel")
		}
	})
	httpRE := regexp.MustCompile(`serving HTTP" announce=(\S+)`)
	udpRE := regexp.MustCompile(`serving UDP" announce=(\S+)`)
	for range 500 {
		h, u := httpRE.FindStringSubmatch(log.String()), udpRE.FindStringSubmatch(log.String())
		if h != nil && u != nil {
			return h[1], u[1], log
		}
		time.Sleep(10 * time.Millisecond) // polling the log; not a timing assertion
	}
	t.Fatalf("no serving lines in the log:\n%s", log.String())
	return
}

// TestServesAndLogsAnnounces: the program serves HTTP and UDP from one
// swarm and logs every announce.
func TestServesAndLogsAnnounces(t *testing.T) {
	httpURL, udpURL, log := startRun(t, "-http", "127.0.0.1:0", "-udp", "127.0.0.1:0", "-interval", "90s")
	ih := metainfo.HashBytes([]byte("examples/tracker"))
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	announce := func(url string, id byte, port uint16, left int64) *tracker.AnnounceResponse {
		t.Helper()
		cl, err := tracker.New(url, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer cl.Close()
		r, err := cl.Announce(ctx, tracker.AnnounceRequest{InfoHash: ih, PeerID: [20]byte{id}, Port: port, Left: left, Event: tracker.EventStarted})
		if err != nil {
			t.Fatalf("%s: %v", url, err)
		}
		return r
	}
	announce(httpURL, 1, 1111, 0)
	r := announce(udpURL, 2, 2222, 5)
	if len(r.Peers) != 1 || r.Peers[0].String() != "127.0.0.1:1111" || r.Interval != 90*time.Second {
		t.Fatalf("UDP announce reply %+v: want the HTTP peer and a 90 s interval", r)
	}
	var lines []string
	for l := range strings.Lines(log.String()) {
		if strings.Contains(l, "msg=announce") {
			lines = append(lines, l)
		}
	}
	if len(lines) != 2 {
		t.Fatalf("%d announce lines in the log, want 2:\n%s", len(lines), log.String())
	}
	for i, want := range []string{"peer=127.0.0.1:1111", "peer=127.0.0.1:2222"} {
		for _, w := range []string{want, "info_hash=" + ih.String(), "event=started"} {
			if !strings.Contains(lines[i], w) {
				t.Errorf("log line %q lacks %q", lines[i], w)
			}
		}
	}
}

// TestWhitelist: with -whitelist only the listed info-hashes are tracked.
func TestWhitelist(t *testing.T) {
	listed := metainfo.HashBytes([]byte("listed"))
	fn := filepath.Join(t.TempDir(), "wl")
	if err := os.WriteFile(fn, []byte("# allowed\n"+strings.ToUpper(listed.String())+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	httpURL, udpURL, _ := startRun(t, "-http", "127.0.0.1:0", "-udp", "127.0.0.1:0", "-whitelist", fn)
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	for _, url := range []string{httpURL, udpURL} {
		cl, err := tracker.New(url, nil)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := cl.Announce(ctx, tracker.AnnounceRequest{InfoHash: listed, Port: 1}); err != nil {
			t.Errorf("%s: listed hash refused: %v", url, err)
		}
		_, err = cl.Announce(ctx, tracker.AnnounceRequest{InfoHash: metainfo.Hash{1}, Port: 1})
		if fe := new(tracker.FailureError); err == nil || !errorsAs(err, &fe) || fe.Reason != "torrent not allowed" {
			t.Errorf("%s: unlisted hash: err %v, want the failure \"torrent not allowed\"", url, err)
		}
		cl.Close()
	}
}

func TestRunErrors(t *testing.T) {
	if err := run(context.Background(), nil, &syncBuffer{}); err == nil {
		t.Fatal("run without addresses succeeded")
	}
	if err := run(context.Background(), []string{"-whitelist", "/nonexistent", "-http", "127.0.0.1:0"}, &syncBuffer{}); err == nil {
		t.Fatal("run with a missing whitelist succeeded")
	}
}

func TestReadWhitelist(t *testing.T) {
	fn := filepath.Join(t.TempDir(), "wl")
	os.WriteFile(fn, []byte("# comment\n0123456789ABCDEF0123456789abcdef01234567\n\n"), 0o644)
	m, err := readWhitelist(fn)
	if err != nil || len(m) != 1 {
		t.Fatalf("readWhitelist = %v, %v", m, err)
	}
	os.WriteFile(fn, []byte("nothex\n"), 0o644)
	if _, err := readWhitelist(fn); err == nil {
		t.Fatal("bad line accepted")
	}
}

func errorsAs(err error, target any) bool { return errors.As(err, target) }

// TestLogsPaused: a partial seed's "paused" (BEP 21), over HTTP and over
// UDP (event 4), is logged as such.
func TestLogsPaused(t *testing.T) {
	httpURL, udpURL, log := startRun(t, "-http", "127.0.0.1:0", "-udp", "127.0.0.1:0")
	ih := metainfo.HashBytes([]byte("examples/tracker paused"))
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	for i, url := range []string{httpURL, udpURL} {
		cl, err := tracker.New(url, nil)
		if err != nil {
			t.Fatal(err)
		}
		_, err = cl.Announce(ctx, tracker.AnnounceRequest{InfoHash: ih, PeerID: [20]byte{byte(i + 1)}, Port: 1000, Left: 5, Event: tracker.EventPaused})
		cl.Close()
		if err != nil {
			t.Fatalf("%s: %v", url, err)
		}
	}
	n := 0
	for l := range strings.Lines(log.String()) {
		if strings.Contains(l, "msg=announce") && strings.Contains(l, "event=paused") {
			n++
		}
	}
	if n != 2 {
		t.Fatalf("%d paused announce lines, want 2:\n%s", n, log.String())
	}
}
