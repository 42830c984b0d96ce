package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/bittern/bittern"
	"github.com/bittern/bittern/metainfo"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// fixture writes a directory "movie" of two random files and a v1 torrent
// of it, and returns the directory holding "movie", the torrent file and
// the files' data.
func fixture(t *testing.T) (dir, torrent string, data [][]byte) {
	t.Helper()
	dir = filepath.Join(t.TempDir(), "src")
	root := filepath.Join(dir, "movie")
	if err := os.MkdirAll(root, 0o755); err != nil {
		t.Fatal(err)
	}
	r := rand.NewChaCha8([32]byte{2})
	for i, n := range []int{70_000, 900_001} {
		b := make([]byte, n)
		r.Read(b)
		if err := os.WriteFile(filepath.Join(root, fmt.Sprintf("part%d.mkv", i)), b, 0o644); err != nil {
			t.Fatal(err)
		}
		data = append(data, b)
	}
	mi, err := (&metainfo.Builder{Version: metainfo.V1, PieceLength: 32 << 10}).Build(context.Background(), root)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := mi.Write(&buf); err != nil {
		t.Fatal(err)
	}
	torrent = filepath.Join(t.TempDir(), "movie.torrent")
	if err := os.WriteFile(torrent, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir, torrent, data
}

// seeder starts an in-process bittern session on loopback seeding dir.
func seeder(t *testing.T, dir, torrent string) netip.AddrPort {
	t.Helper()
	mi, err := metainfo.LoadFile(torrent)
	if err != nil {
		t.Fatal(err)
	}
	s, err := bittern.NewSession(&bittern.Config{ListenAddr: "127.0.0.1:0", DataDir: dir, NoTrackers: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	if _, err := s.AddTorrent(context.Background(), mi, nil); err != nil {
		t.Fatal(err)
	}
	return netip.MustParseAddrPort(s.Addr().String())
}

// start runs the program with args until the test ends, and returns the
// URLs it printed.
func start(t *testing.T, args ...string) []string {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	var stderr bytes.Buffer
	code := make(chan int, 1)
	go func() {
		code <- run(ctx, args, pw, &stderr)
		pw.Close()
	}()
	t.Cleanup(func() {
		cancel()
		if c := <-code; c != 0 {
			t.Errorf("exit status %d; stderr: %s", c, stderr.String())
		}
	})
	var urls []string
	sc := bufio.NewScanner(pr)
	for sc.Scan() {
		line := sc.Text()
		t.Log(line)
		if strings.HasPrefix(line, "http://") {
			urls = append(urls, line)
		}
		if strings.HasPrefix(line, "serving on") {
			go io.Copy(io.Discard, pr) // the rest, until it exits
			return urls
		}
	}
	t.Fatalf("no URLs printed; stderr: %s", stderr.String())
	return nil
}

func TestStreamRange(t *testing.T) {
	dir, torrent, data := fixture(t)
	peer := seeder(t, dir, torrent)
	out := t.TempDir()
	urls := start(t, "-listen", "127.0.0.1:0", "-bt-listen", "127.0.0.1:0", "-o", out, "-no-dht", "-peer", peer.String(), torrent)
	if len(urls) != 2 || !strings.HasSuffix(urls[0], "/0/part0.mkv") || !strings.HasSuffix(urls[1], "/1/part1.mkv") {
		t.Fatalf("URLs %q, want /0/part0.mkv and /1/part1.mkv", urls)
	}
	tr := &http.Transport{}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: time.Minute}

	req, err := http.NewRequest("GET", urls[1], nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Range", "bytes=500000-600009")
	res, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(res.Body)
	res.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	if res.StatusCode != http.StatusPartialContent || !bytes.Equal(body, data[1][500_000:600_010]) {
		t.Fatalf("status %d, %d bytes; want 206 and the file's bytes 500000-600009", res.StatusCode, len(body))
	}
	if cr := res.Header.Get("Content-Range"); cr != "bytes 500000-600009/900001" {
		t.Errorf("Content-Range %q", cr)
	}

	// The whole first file, the index page, and a missing file.
	for _, c := range []struct {
		url    string
		status int
		want   []byte
	}{
		{urls[0], http.StatusOK, data[0]},
		{strings.TrimSuffix(urls[0], "0/part0.mkv"), http.StatusOK, []byte("part1.mkv")},
		{strings.TrimSuffix(urls[0], "0/part0.mkv") + "7/x", http.StatusNotFound, nil},
	} {
		res, err := client.Get(c.url)
		if err != nil {
			t.Fatal(err)
		}
		body, err := io.ReadAll(res.Body)
		res.Body.Close()
		if err != nil {
			t.Fatal(err)
		}
		if res.StatusCode != c.status || !bytes.Contains(body, c.want) {
			t.Errorf("GET %s: status %d, %d bytes", c.url, res.StatusCode, len(body))
		}
	}
}

func TestUsage(t *testing.T) {
	var o, e bytes.Buffer
	if c := run(context.Background(), []string{"-h"}, &o, &e); c != 0 || !strings.Contains(e.String(), "usage: stream") {
		t.Errorf("-h: status %d, %q", c, e.String())
	}
	e.Reset()
	if c := run(context.Background(), nil, &o, &e); c != 2 || !strings.Contains(e.String(), "want one FILE.torrent") {
		t.Errorf("no argument: status %d, %q", c, e.String())
	}
	e.Reset()
	if c := run(context.Background(), []string{"-no-dht", "-listen", "127.0.0.1:0", filepath.Join(t.TempDir(), "missing.torrent")}, &o, &e); c != 1 {
		t.Errorf("missing torrent: status %d, %q", c, e.String())
	}
}
