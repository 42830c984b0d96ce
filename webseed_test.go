package bittern

import (
	"bytes"
	"context"
	"crypto/sha1"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/bittern/bittern/bencode"
	"github.com/bittern/bittern/internal/cputime"
	"github.com/bittern/bittern/metainfo"
	"github.com/bittern/bittern/storage"
)

// wsServer is a web seed for tests: it serves files by URL path with
// range support (http.ServeContent) and records the requests.
type wsServer struct {
	mu     sync.Mutex
	files  map[string][]byte
	reqs   []string // "path range"
	served int64    // body bytes of the answers it served files with
	// hook, if not nil, may answer a request itself (returning true).
	hook func(w http.ResponseWriter, r *http.Request) bool
	// delay is slept (in virtual time under synctest) before answering.
	delay time.Duration
}

func newWSServer() *wsServer { return &wsServer{files: make(map[string][]byte)} }

func (s *wsServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	s.reqs = append(s.reqs, r.URL.Path+" "+r.Header.Get("Range"))
	hook, delay := s.hook, s.delay
	b, ok := s.files[r.URL.Path]
	s.mu.Unlock()
	if delay > 0 {
		time.Sleep(delay)
	}
	if hook != nil && hook(w, r) {
		return
	}
	if !ok {
		http.NotFound(w, r)
		return
	}
	cw := &wsCountingWriter{ResponseWriter: w}
	http.ServeContent(cw, r, "", time.Time{}, bytes.NewReader(b))
	s.mu.Lock()
	s.served += cw.n
	s.mu.Unlock()
}

func (s *wsServer) requests() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.reqs)
}

func (s *wsServer) setHook(h func(w http.ResponseWriter, r *http.Request) bool) {
	s.mu.Lock()
	s.hook = h
	s.mu.Unlock()
}

type wsCountingWriter struct {
	http.ResponseWriter
	n int64
}

func (w *wsCountingWriter) Write(p []byte) (int, error) {
	n, err := w.ResponseWriter.Write(p)
	w.n += int64(n)
	return n, err
}

// newWSSession starts a session without a listener whose web seed
// requests go to h in memory.
func newWSSession(t testing.TB, h http.Handler, cfg *Config) *Session {
	t.Helper()
	var c Config
	if cfg != nil {
		c = *cfg
	}
	c.NoListen = true
	c.WebSeedClient = &http.Client{Transport: handlerTransport{h: h}}
	if c.Storage == nil {
		c.Storage = &storage.Memory{}
	}
	s, err := NewSession(&c)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// wsFile is a file of a test torrent: its path elements and length.
type wsFile struct {
	path []string
	n    int
}

// makeWSMulti builds a multi-file v1 torrent and its data, and adds its
// files to srv under prefix (the URL path of the web seed's directory).
func makeWSMulti(t testing.TB, name string, files []wsFile, pieceLen int, srv *wsServer, prefix string) (*metainfo.MetaInfo, []byte) {
	t.Helper()
	total := 0
	var list []any
	for _, f := range files {
		total += f.n
		list = append(list, map[string]any{"length": f.n, "path": f.path})
	}
	data := randomData(total, 77)
	var pieces []byte
	for off := 0; off < len(data); off += pieceLen {
		sum := sha1.Sum(data[off:min(off+pieceLen, len(data))])
		pieces = append(pieces, sum[:]...)
	}
	ib, err := bencode.Marshal(map[string]any{"name": name, "piece length": pieceLen, "pieces": pieces, "files": list})
	if err != nil {
		t.Fatal(err)
	}
	tb, err := bencode.Marshal(map[string]any{"info": bencode.RawMessage(ib)})
	if err != nil {
		t.Fatal(err)
	}
	mi, err := metainfo.Parse(tb)
	if err != nil {
		t.Fatal(err)
	}
	off := 0
	for _, f := range files {
		srv.files[prefix+name+"/"+strings.Join(f.path, "/")] = data[off : off+f.n]
		off += f.n
	}
	return mi, data
}

// waitDone waits (an hour of virtual time at most) for the torrent.
func waitDone(t *testing.T, tor *Torrent) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Hour)
	defer cancel()
	if err := tor.Wait(ctx); err != nil {
		t.Fatalf("wait: %v; %+v", err, tor.Stats())
	}
}

// A single-file torrent downloads from its web seed alone, named by the
// URL itself or by a directory URL plus the torrent's name.
func TestWebSeedSingleFile(t *testing.T) {
	for _, tc := range []struct{ name, url, path string }{
		{"file URL", "http://ws.example/files/any-name.bin", "/files/any-name.bin"},
		{"directory URL", "http://ws.example/pub/", "/pub/single file#1.bin"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				data := randomData(300<<10+123, 1)
				mi := makeTorrent(t, "single file#1.bin", data, 32<<10)
				srv := newWSServer()
				srv.files[tc.path] = data
				st := &storage.Memory{}
				s := newWSSession(t, srv, &Config{Storage: st})
				defer s.Close()
				sub := s.Subscribe(1024)
				tor, err := s.AddTorrent(context.Background(), mi, &TorrentOptions{WebSeeds: []string{tc.url}})
				if err != nil {
					t.Fatal(err)
				}
				waitDone(t, tor)
				if !bytes.Equal(contents(t, st, mi), data) {
					t.Fatal("data differs")
				}
				ts := tor.Stats()
				if ts.WebSeedDownloaded != int64(len(data)) || ts.Downloaded != ts.WebSeedDownloaded || ts.Wasted != 0 || ts.WebSeeds != 1 {
					t.Fatalf("stats %+v", ts)
				}
				synctest.Wait()
				verified := 0
				for len(sub.C) > 0 {
					if _, ok := (<-sub.C).(PieceVerified); ok {
						verified++
					}
				}
				if verified != mi.Info().NumPieces() {
					t.Fatalf("%d PieceVerified events, want %d", verified, mi.Info().NumPieces())
				}
				for _, r := range srv.requests() {
					// A job covering the whole file asks without a range.
					if !strings.HasPrefix(r, tc.path+" ") {
						t.Fatalf("request %q", r)
					}
				}
			})
		})
	}
}

// With small pieces, a web seed reads long runs of contiguous pieces
// (BEP 19): far fewer GETs than pieces.
func TestWebSeedLongRuns(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		data := randomData(4<<20, 15)
		mi := makeTorrent(t, "runs.bin", data, 16<<10) // 256 pieces
		srv := newWSServer()
		srv.files["/runs.bin"] = data
		s := newWSSession(t, srv, nil)
		defer s.Close()
		tor, err := s.AddTorrent(context.Background(), mi, &TorrentOptions{WebSeeds: []string{"http://ws.example/runs.bin"}})
		if err != nil {
			t.Fatal(err)
		}
		waitDone(t, tor)
		reqs := len(srv.requests())
		t.Logf("%d GETs for %d pieces", reqs, mi.Info().NumPieces())
		if reqs > mi.Info().NumPieces()/8 { // 16 jobs of 16 pieces, and a few restarts
			t.Fatalf("%d GETs for %d pieces", reqs, mi.Info().NumPieces())
		}
	})
}

// wsMultiFiles are files not aligned to pieces, with names that need
// escaping and empty files.
var wsMultiFiles = []wsFile{
	{[]string{"a.bin"}, 10000},
	{[]string{"empty"}, 0},
	{[]string{"sub dir", "ü 100%?#.txt"}, 50001},
	{[]string{"one"}, 1},
	{[]string{"sub dir", "empty too"}, 0},
	{[]string{"z", "last+file"}, 70000},
}

// A multi-file torrent downloads from a directory URL: pieces spanning
// files take a ranged GET per file, paths are escaped, empty files are
// not asked for.
func TestWebSeedMultiFile(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := newWSServer()
		mi, data := makeWSMulti(t, "multi name", wsMultiFiles, 16<<10, srv, "/pub/")
		st := &storage.Memory{}
		s := newWSSession(t, srv, &Config{Storage: st})
		defer s.Close()
		// Without the trailing slash: a multi-file URL is a directory.
		tor, err := s.AddTorrent(context.Background(), mi, &TorrentOptions{WebSeeds: []string{"http://ws.example/pub"}})
		if err != nil {
			t.Fatal(err)
		}
		waitDone(t, tor)
		if !bytes.Equal(contents(t, st, mi), data) {
			t.Fatal("data differs")
		}
		for _, r := range srv.requests() {
			if strings.Contains(r, "empty") {
				t.Fatalf("empty file requested: %q", r)
			}
		}
		if ts := tor.Stats(); ts.WebSeedDownloaded != int64(len(data)) {
			t.Fatalf("stats %+v", ts)
		}
	})
}

// Over real sockets on loopback: the escaped paths reach an HTTP server
// intact, connections are kept alive, and Close leaves no goroutine.
func TestWebSeedLoopback(t *testing.T) {
	srv := newWSServer()
	mi, data := makeWSMulti(t, "loop back", wsMultiFiles, 16<<10, srv, "/d/")
	hs := httptest.NewServer(srv)
	defer hs.Close()
	st := &storage.Memory{}
	s, err := NewSession(&Config{NoListen: true, Storage: st})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	tor, err := s.AddTorrent(context.Background(), mi, &TorrentOptions{WebSeeds: []string{hs.URL + "/d/"}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := tor.Wait(ctx); err != nil {
		t.Fatalf("%v; %+v", err, tor.Stats())
	}
	if !bytes.Equal(contents(t, st, mi), data) {
		t.Fatal("data differs")
	}
}

// The .torrent's url-list is used; a URL of another scheme is ignored.
func TestWebSeedURLList(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		data := randomData(100<<10, 3)
		mi := makeTorrent(t, "f.bin", data, 16<<10)
		mi.URLList = []string{"ftp://ws.example/f.bin", "http://ws.example/f.bin"}
		srv := newWSServer()
		srv.files["/f.bin"] = data
		s := newWSSession(t, srv, nil)
		defer s.Close()
		tor, err := s.AddTorrent(context.Background(), mi, nil)
		if err != nil {
			t.Fatal(err)
		}
		waitDone(t, tor)
		if ts := tor.Stats(); ts.WebSeeds != 1 {
			t.Fatalf("%d web seeds in use, want 1", ts.WebSeeds)
		}
	})
}

// Config.DisableWebSeeds: no request is made.
func TestWebSeedDisabled(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		data := randomData(64<<10, 4)
		mi := makeTorrent(t, "f.bin", data, 16<<10)
		srv := newWSServer()
		srv.files["/f.bin"] = data
		s := newWSSession(t, srv, &Config{DisableWebSeeds: true})
		defer s.Close()
		tor, err := s.AddTorrent(context.Background(), mi, &TorrentOptions{WebSeeds: []string{"http://ws.example/f.bin"}})
		if err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Minute)
		synctest.Wait()
		if n := len(srv.requests()); n != 0 || tor.Stats().PiecesHave != 0 {
			t.Fatalf("%d requests, stats %+v", n, tor.Stats())
		}
	})
}

// Skipped files are not fetched; the pieces they share with wanted files
// are.
func TestWebSeedSkippedFiles(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := newWSServer()
		files := []wsFile{{[]string{"keep1"}, 40 << 10}, {[]string{"skip"}, 200 << 10}, {[]string{"keep2"}, 30 << 10}}
		mi, data := makeWSMulti(t, "sel", files, 16<<10, srv, "/")
		st := &storage.Memory{}
		s := newWSSession(t, srv, &Config{Storage: st})
		defer s.Close()
		prios := []Priority{PriorityNormal, PrioritySkip, PriorityNormal}
		tor, err := s.AddTorrent(context.Background(), mi, &TorrentOptions{FilePriorities: prios, WebSeeds: []string{"http://ws.example/"}})
		if err != nil {
			t.Fatal(err)
		}
		waitDone(t, tor)
		got := contents(t, st, mi)
		for _, i := range []int{0, 2} {
			f := mi.Info().Files[i]
			if !bytes.Equal(got[f.Offset:f.Offset+f.Length], data[f.Offset:f.Offset+f.Length]) {
				t.Fatalf("file %d differs", i)
			}
		}
		// Only the skipped file's bytes in the pieces it shares with the
		// others are fetched: under two pieces.
		var skipped int64
		for _, r := range srv.requests() {
			path, rng, _ := strings.Cut(r, " ")
			if path != "/sel/skip" {
				continue
			}
			var a, b int64
			if _, err := fmt.Sscanf(rng, "bytes=%d-%d", &a, &b); err != nil {
				t.Fatalf("request %q", r)
			}
			skipped += b - a + 1
		}
		if skipped >= 2*16<<10 {
			t.Fatalf("%d bytes of the skipped file fetched", skipped)
		}
	})
}

// A web seed and a slow peer download together: both contribute, and
// what is received twice stays within endgame.
func TestWebSeedWithSlowPeer(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := newPipeNet()
		n.rate = 200 << 10 // bytes per second per connection
		data := randomData(4<<20, 5)
		mi := makeTorrent(t, "both.bin", data, 64<<10)
		seeder := startSeeder(t, n, "10.0.0.1:6881", mi, data, nil)
		defer seeder.Close()
		srv := newWSServer()
		srv.files["/both.bin"] = data
		srv.delay = 400 * time.Millisecond // per request of 256 KiB: 2.5 MB/s with 4 at once
		st := &storage.Memory{}
		s := newPipeSession(t, n, "10.0.1.1:6881", &Config{Storage: st, WebSeedClient: &http.Client{Transport: handlerTransport{h: srv}}})
		defer s.Close()
		tor, err := s.AddTorrent(context.Background(), mi, &TorrentOptions{
			Peers:    []netip.AddrPort{netip.MustParseAddrPort("10.0.0.1:6881")},
			WebSeeds: []string{"http://ws.example/both.bin"},
		})
		if err != nil {
			t.Fatal(err)
		}
		waitDone(t, tor)
		if !bytes.Equal(contents(t, st, mi), data) {
			t.Fatal("data differs")
		}
		ts := tor.Stats()
		fromPeer := ts.Downloaded - ts.WebSeedDownloaded
		t.Logf("web seed %d bytes, peer %d bytes, wasted %d", ts.WebSeedDownloaded, fromPeer, ts.Wasted)
		// Duplicates (never written) only in endgame: at most what the
		// web seed has outstanding, plus a few of the peer's blocks.
		if ts.Wasted > MaxWebSeedRequests*webSeedJobBytes+1<<20 {
			t.Fatalf("wasted %d bytes", ts.Wasted)
		}
		if ts.WebSeedDownloaded-ts.Wasted <= 0 || fromPeer-ts.Wasted <= 0 {
			t.Fatalf("web seed %d bytes, peer %d, wasted %d: want both to contribute", ts.WebSeedDownloaded, fromPeer, ts.Wasted)
		}
	})
}

// wsEvents collects the WebSeedError events of a subscription.
func wsEvents(sub *Subscription) []WebSeedError {
	var evs []WebSeedError
	for len(sub.C) > 0 {
		if ev, ok := (<-sub.C).(WebSeedError); ok {
			evs = append(evs, ev)
		}
	}
	return evs
}

// A web seed serving corrupt data is disabled after
// WebSeedMaxHashFailures pieces, without banning the peer; the download
// completes from the peer.
func TestWebSeedCorrupt(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := newPipeNet()
		n.rate = 1 << 20
		data := randomData(2<<20, 6)
		mi := makeTorrent(t, "c.bin", data, 32<<10)
		seeder := startSeeder(t, n, "10.0.0.1:6881", mi, data, nil)
		defer seeder.Close()
		bad := bytes.Clone(data)
		for i := 100; i < len(bad); i += 4096 {
			bad[i] ^= 0xff
		}
		srv := newWSServer()
		srv.files["/c.bin"] = bad
		st := &storage.Memory{}
		s := newPipeSession(t, n, "10.0.1.1:6881", &Config{Storage: st, WebSeedClient: &http.Client{Transport: handlerTransport{h: srv}}})
		defer s.Close()
		sub := s.Subscribe(4096)
		tor, err := s.AddTorrent(context.Background(), mi, &TorrentOptions{
			Peers:    []netip.AddrPort{netip.MustParseAddrPort("10.0.0.1:6881")},
			WebSeeds: []string{"http://ws.example/c.bin"},
		})
		if err != nil {
			t.Fatal(err)
		}
		waitDone(t, tor)
		if !bytes.Equal(contents(t, st, mi), data) {
			t.Fatal("data differs")
		}
		ts := tor.Stats()
		if ts.WebSeeds != 0 || ts.BannedPeers != 0 || ts.HashFailures < WebSeedMaxHashFailures {
			t.Fatalf("stats %+v", ts)
		}
		synctest.Wait()
		evs := wsEvents(sub)
		if len(evs) != 1 || !errors.Is(evs[0].Err, ErrWebSeedCorrupt) || !evs[0].RetryAt.IsZero() || evs[0].URL != "http://ws.example/c.bin" {
			t.Fatalf("events %+v", evs)
		}
		// Disabled for good: no request after an hour.
		before := len(srv.requests())
		time.Sleep(time.Hour)
		synctest.Wait()
		if after := len(srv.requests()); after != before {
			t.Fatalf("%d requests after it was disabled", after-before)
		}
	})
}

// 404 leaves the web seed alone for webSeedGoneRetry; then it is tried
// again and, the file being there now, finishes the download.
func TestWebSeedNotFound(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		data := randomData(200<<10, 7)
		mi := makeTorrent(t, "nf.bin", data, 16<<10)
		srv := newWSServer()
		s := newWSSession(t, srv, nil)
		defer s.Close()
		sub := s.Subscribe(64)
		tor, err := s.AddTorrent(context.Background(), mi, &TorrentOptions{WebSeeds: []string{"http://ws.example/nf.bin"}})
		if err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		evs := wsEvents(sub)
		var se *WebSeedStatusError
		if len(evs) != 1 || !errors.As(evs[0].Err, &se) || se.StatusCode != http.StatusNotFound {
			t.Fatalf("events %+v", evs)
		}
		if wait := time.Until(evs[0].RetryAt); wait != webSeedGoneRetry {
			t.Fatalf("retry in %v, want %v", wait, webSeedGoneRetry)
		}
		if ts := tor.Stats(); ts.WebSeeds != 0 {
			t.Fatalf("stats %+v", ts)
		}
		reqs := len(srv.requests())
		srv.mu.Lock()
		srv.files["/nf.bin"] = data
		srv.mu.Unlock()
		time.Sleep(webSeedGoneRetry - time.Second)
		synctest.Wait()
		if n := len(srv.requests()); n != reqs {
			t.Fatalf("%d requests during the wait", n-reqs)
		}
		waitDone(t, tor)
	})
}

// 503 with Retry-After: nothing is asked before it has passed.
func TestWebSeedRetryAfter(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		data := randomData(100<<10, 8)
		mi := makeTorrent(t, "ra.bin", data, 16<<10)
		srv := newWSServer()
		srv.files["/ra.bin"] = data
		busy := true
		srv.setHook(func(w http.ResponseWriter, r *http.Request) bool {
			if busy {
				w.Header().Set("Retry-After", "120")
				w.WriteHeader(http.StatusServiceUnavailable)
				return true
			}
			return false
		})
		s := newWSSession(t, srv, nil)
		defer s.Close()
		sub := s.Subscribe(64)
		start := time.Now()
		tor, err := s.AddTorrent(context.Background(), mi, &TorrentOptions{WebSeeds: []string{"http://ws.example/ra.bin"}})
		if err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		evs := wsEvents(sub)
		var se *WebSeedStatusError
		if len(evs) != 1 || !errors.As(evs[0].Err, &se) || se.StatusCode != 503 || se.RetryAfter != 120*time.Second {
			t.Fatalf("events %+v", evs)
		}
		reqs := len(srv.requests())
		time.Sleep(119 * time.Second)
		synctest.Wait()
		if n := len(srv.requests()); n != reqs {
			t.Fatalf("%d requests before Retry-After passed", n-reqs)
		}
		srv.mu.Lock()
		busy = false
		srv.mu.Unlock()
		waitDone(t, tor)
		if d := time.Since(start); d < 120*time.Second {
			t.Fatalf("done after %v", d)
		}
	})
}

// Network errors and malformed answers back off exponentially.
func TestWebSeedBackoff(t *testing.T) {
	for _, tc := range []struct {
		name string
		hook func(w http.ResponseWriter, r *http.Request) bool
		want error
	}{
		{"200 to a range", func(w http.ResponseWriter, r *http.Request) bool {
			w.WriteHeader(http.StatusOK)
			w.Write(make([]byte, 100<<10))
			return true
		}, ErrWebSeedResponse},
		{"wrong Content-Range", func(w http.ResponseWriter, r *http.Request) bool {
			w.Header().Set("Content-Range", "bytes 0-16383/102400")
			w.WriteHeader(http.StatusPartialContent)
			w.Write(make([]byte, 16384))
			return true
		}, ErrWebSeedResponse},
		{"short body", func(w http.ResponseWriter, r *http.Request) bool {
			var a, b int
			fmt.Sscanf(r.Header.Get("Range"), "bytes=%d-%d", &a, &b)
			w.Header().Set("Content-Range", fmt.Sprintf("bytes %d-%d/102400", a, b))
			w.WriteHeader(http.StatusPartialContent) // no Content-Length: read to the end
			w.Write(make([]byte, (b-a+1)/2))
			return true
		}, ErrWebSeedResponse},
		{"long body", func(w http.ResponseWriter, r *http.Request) bool {
			var a, b int
			fmt.Sscanf(r.Header.Get("Range"), "bytes=%d-%d", &a, &b)
			w.Header().Set("Content-Range", fmt.Sprintf("bytes %d-%d/102400", a, b))
			w.WriteHeader(http.StatusPartialContent)
			w.Write(make([]byte, b-a+1+10))
			return true
		}, ErrWebSeedResponse},
		{"500", func(w http.ResponseWriter, r *http.Request) bool {
			w.WriteHeader(http.StatusInternalServerError)
			return true
		}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				// Two files, so that requests are ranged.
				srv := newWSServer()
				mi, _ := makeWSMulti(t, "bo", []wsFile{{[]string{"a"}, 30 << 10}, {[]string{"b"}, 70 << 10}}, 64<<10, srv, "/")
				srv.setHook(tc.hook)
				s := newWSSession(t, srv, nil)
				defer s.Close()
				sub := s.Subscribe(64)
				tor, err := s.AddTorrent(context.Background(), mi, &TorrentOptions{WebSeeds: []string{"http://ws.example/"}})
				if err != nil {
					t.Fatal(err)
				}
				var waits []time.Duration
				for range 3 {
					synctest.Wait()
					evs := wsEvents(sub)
					if len(evs) != 1 {
						t.Fatalf("events %+v", evs)
					}
					if tc.want != nil && !errors.Is(evs[0].Err, tc.want) {
						t.Fatalf("error %v, want %v", evs[0].Err, tc.want)
					}
					wait := time.Until(evs[0].RetryAt)
					waits = append(waits, wait)
					time.Sleep(wait)
				}
				if waits[0] != webSeedBackoff || waits[1] != 2*webSeedBackoff || waits[2] != 4*webSeedBackoff {
					t.Fatalf("waits %v", waits)
				}
				if ts := tor.Stats(); ts.PiecesHave != 0 {
					t.Fatalf("stats %+v", ts)
				}
			})
		})
	}
}

// A magnet link's ws= web seeds are used once the metadata arrived, with
// AddMagnet and StartMagnet; AddWebSeeds before the metadata waits for it.
func TestWebSeedMagnet(t *testing.T) {
	for _, async := range []bool{false, true} {
		t.Run(fmt.Sprint("async=", async), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				n := newPipeNet()
				data := randomData(1<<20, 10)
				mi := makeTorrent(t, "mag.bin", data, 32<<10)
				// The peer gives the metadata but next to no data.
				seeder := startSeeder(t, n, "10.0.0.1:6881", mi, data, &Config{UploadRateLimit: 1})
				defer seeder.Close()
				srv := newWSServer()
				srv.files["/ws/mag.bin"] = data
				srv.files["/more/mag.bin"] = data
				st := &storage.Memory{}
				s := newPipeSession(t, n, "10.0.1.1:6881", &Config{Storage: st, WebSeedClient: &http.Client{Transport: handlerTransport{h: srv}}})
				defer s.Close()
				uri := "magnet:?xt=urn:btih:" + mi.InfoHash().String() + "&x.pe=10.0.0.1:6881&ws=" + "http%3A%2F%2Fws.example%2Fws%2Fmag.bin"
				var tor *Torrent
				var err error
				if async {
					tor, err = s.StartMagnet(uri, nil)
					if err == nil {
						tor.AddWebSeeds("http://ws.example/more/")
					}
				} else {
					tor, err = s.AddMagnet(context.Background(), uri, nil)
				}
				if err != nil {
					t.Fatal(err)
				}
				waitDone(t, tor)
				if !bytes.Equal(contents(t, st, mi), data) {
					t.Fatal("data differs")
				}
				ts := tor.Stats()
				want := 1
				if async {
					want = 2
				}
				if ts.WebSeeds != want || ts.WebSeedDownloaded < int64(len(data))/2 {
					t.Fatalf("stats %+v", ts)
				}
			})
		})
	}
}

// hangUntilCancelled is a hook whose requests wait for their context.
func hangUntilCancelled(started chan<- struct{}) func(w http.ResponseWriter, r *http.Request) bool {
	return func(w http.ResponseWriter, r *http.Request) bool {
		select {
		case started <- struct{}{}:
		default:
		}
		<-r.Context().Done()
		return true
	}
}

// Pause cancels the requests in flight and makes none until Resume;
// Remove does too, and returns with nothing left running.
func TestWebSeedPauseRemove(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		data := randomData(MaxWebSeedRequests*webSeedJobBytes+100, 11)
		mi := makeTorrent(t, "p.bin", data, 16<<10)
		srv := newWSServer()
		srv.files["/p.bin"] = data
		started := make(chan struct{}, 1)
		srv.setHook(hangUntilCancelled(started))
		st := &storage.Memory{}
		s := newWSSession(t, srv, &Config{Storage: st})
		defer s.Close()
		tor, err := s.AddTorrent(context.Background(), mi, &TorrentOptions{WebSeeds: []string{"http://ws.example/p.bin"}})
		if err != nil {
			t.Fatal(err)
		}
		<-started
		synctest.Wait()
		if n := len(srv.requests()); n != MaxWebSeedRequests {
			t.Fatalf("%d requests in flight, want %d", n, MaxWebSeedRequests)
		}
		tor.Pause()
		synctest.Wait() // every request returned: they are cancelled
		srv.setHook(nil)
		reqs := len(srv.requests())
		time.Sleep(time.Hour)
		synctest.Wait()
		if n := len(srv.requests()); n != reqs {
			t.Fatalf("%d requests while paused", n-reqs)
		}
		if ts := tor.Stats(); ts.WebSeeds != 0 {
			t.Fatalf("stats %+v", ts)
		}
		tor.Resume()
		waitDone(t, tor)
		if !bytes.Equal(contents(t, st, mi), data) {
			t.Fatal("data differs")
		}

		// Remove while requests hang.
		mi2 := makeTorrent(t, "r.bin", data, 16<<10)
		srv.setHook(hangUntilCancelled(started))
		tor2, err := s.AddTorrent(context.Background(), mi2, &TorrentOptions{WebSeeds: []string{"http://ws.example/r.bin"}})
		if err != nil {
			t.Fatal(err)
		}
		<-started
		s.Remove(tor2)
		synctest.Wait()
	})
}

// Redirects are followed, the Range header kept.
func TestWebSeedRedirect(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		data := randomData(200<<10, 12)
		mi := makeTorrent(t, "rd.bin", data, 16<<10)
		srv := newWSServer()
		srv.files["/new/rd.bin"] = data
		srv.setHook(func(w http.ResponseWriter, r *http.Request) bool {
			if strings.HasPrefix(r.URL.Path, "/old/") {
				http.Redirect(w, r, "http://mirror.example/new/"+strings.TrimPrefix(r.URL.Path, "/old/"), http.StatusFound)
				return true
			}
			return false
		})
		st := &storage.Memory{}
		s := newWSSession(t, srv, &Config{Storage: st})
		defer s.Close()
		tor, err := s.AddTorrent(context.Background(), mi, &TorrentOptions{WebSeeds: []string{"http://ws.example/old/"}})
		if err != nil {
			t.Fatal(err)
		}
		waitDone(t, tor)
		if !bytes.Equal(contents(t, st, mi), data) {
			t.Fatal("data differs")
		}
	})
}

// The download rate limit holds web seed bytes too.
func TestWebSeedRateLimit(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		data := randomData(1<<20, 13)
		mi := makeTorrent(t, "rl.bin", data, 16<<10)
		srv := newWSServer()
		srv.files["/rl.bin"] = data
		s := newWSSession(t, srv, &Config{DownloadRateLimit: 100 << 10})
		defer s.Close()
		start := time.Now()
		tor, err := s.AddTorrent(context.Background(), mi, &TorrentOptions{WebSeeds: []string{"http://ws.example/rl.bin"}})
		if err != nil {
			t.Fatal(err)
		}
		waitDone(t, tor)
		// 1 MiB at 100 KiB/s, less the first burst and the blocks in
		// flight when the limit bites: at least 9 s.
		if d := time.Since(start); d < 9*time.Second {
			t.Fatalf("done in %v", d)
		}
	})
}

// A server that stops sending is given up after webSeedStall, then
// retried with backoff.
func TestWebSeedStall(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		data := randomData(64<<10, 14)
		mi := makeTorrent(t, "st.bin", data, 16<<10)
		srv := newWSServer()
		srv.files["/st.bin"] = data
		srv.setHook(hangUntilCancelled(nil))
		s := newWSSession(t, srv, nil)
		defer s.Close()
		sub := s.Subscribe(64)
		start := time.Now()
		tor, err := s.AddTorrent(context.Background(), mi, &TorrentOptions{WebSeeds: []string{"http://ws.example/st.bin"}})
		if err != nil {
			t.Fatal(err)
		}
		ev := nextEvent[WebSeedError](t, sub)
		if !errors.Is(ev.Err, errWebSeedStalled) || time.Since(start) != webSeedStall {
			t.Fatalf("event %+v after %v", ev, time.Since(start))
		}
		srv.setHook(nil)
		waitDone(t, tor)
	})
}

// v2-only and hybrid torrents from a web seed: the blocks go through the
// merkle checks; files (and BEP 47 pad files, never requested) are laid
// out per piece.
func TestWebSeedV2(t *testing.T) {
	for _, v := range []metainfo.Version{metainfo.V2, metainfo.Hybrid} {
		t.Run(v.String(), func(t *testing.T) {
			dir := t.TempDir()
			srv := newWSServer()
			contentsByPath := map[string][]byte{
				"a.bin":        randomData(40<<10+7, 20),
				"b c/d%.bin":   randomData(100<<10, 21),
				"b c/tiny.txt": randomData(5, 22),
			}
			for p, b := range contentsByPath {
				full := filepath.Join(dir, "tree", filepath.FromSlash(p))
				if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(full, b, 0o644); err != nil {
					t.Fatal(err)
				}
				srv.files["/pub/tree/"+p] = b
			}
			mi, err := (&metainfo.Builder{Version: v, PieceLength: 16 << 10}).Build(context.Background(), filepath.Join(dir, "tree"))
			if err != nil {
				t.Fatal(err)
			}
			synctest.Test(t, func(t *testing.T) {
				st := &storage.Memory{}
				s := newWSSession(t, srv, &Config{Storage: st})
				defer s.Close()
				tor, err := s.AddTorrent(context.Background(), mi, &TorrentOptions{WebSeeds: []string{"http://ws.example/pub/"}})
				if err != nil {
					t.Fatal(err)
				}
				waitDone(t, tor)
				got := spaceOf(t, st, mi)
				for _, f := range mi.Info().Files {
					if f.Pad {
						continue
					}
					if want := contentsByPath[strings.Join(f.Path, "/")]; !bytes.Equal(got[f.Offset:f.Offset+f.Length], want) {
						t.Fatalf("file %v differs", f.Path)
					}
				}
				for _, r := range srv.requests() {
					if strings.Contains(r, ".pad") {
						t.Fatalf("pad file requested: %q", r)
					}
				}
			})
		})
	}
}

func TestWebSeedFileURL(t *testing.T) {
	single := &metainfo.Info{Name: "a b.iso", SingleFile: true, Files: []metainfo.File{{Path: []string{"a b.iso"}, Length: 10}}}
	multi := &metainfo.Info{Name: "dir #1", Files: []metainfo.File{
		{Path: []string{"x", "y?z.txt"}, Length: 1},
		{Path: []string{".pad", "5"}, Length: 5, Pad: true},
		{Path: []string{"ü/100%"}, Length: 1, Offset: 6},
	}}
	one := &metainfo.Info{Name: "d", Files: []metainfo.File{{Path: []string{"only"}, Length: 3}}}
	for _, tc := range []struct {
		base string
		info *metainfo.Info
		file int
		want string
	}{
		{"http://h/file.iso", single, 0, "http://h/file.iso"},
		{"http://h/pub/", single, 0, "http://h/pub/a%20b.iso"},
		{"http://h/pub/", multi, 0, "http://h/pub/dir%20%231/x/y%3Fz.txt"},
		{"http://h/pub", multi, 2, "http://h/pub/dir%20%231/%C3%BC%2F100%25"},
		{"http://h/one", one, 0, "http://h/one"},
		{"http://h/one/", one, 0, "http://h/one/d/only"},
	} {
		if got := webSeedFileURL(tc.base, tc.info, &tc.info.Files[tc.file]); got != tc.want {
			t.Errorf("webSeedFileURL(%q, %q, %d) = %q, want %q", tc.base, tc.info.Name, tc.file, got, tc.want)
		}
	}
}

func TestWebSeedContentRange(t *testing.T) {
	for _, tc := range []struct {
		h      string
		off, n int64
		ok     bool
	}{
		{"bytes 0-99/1000", 0, 100, true},
		{"bytes 100-199/*", 100, 100, true},
		{"bytes 100-199/1000", 0, 100, false},
		{"bytes 0-98/1000", 0, 100, false},
		{"bytes */1000", 0, 100, false},
		{"", 0, 100, false},
		{"items 0-99/1000", 0, 100, false},
		{"bytes 0-99", 0, 100, false},
		{"bytes -1-99/1000", 0, 100, false},
	} {
		if err := checkContentRange(tc.h, tc.off, tc.n); (err == nil) != tc.ok {
			t.Errorf("checkContentRange(%q, %d, %d) = %v", tc.h, tc.off, tc.n, err)
		}
	}
}

func TestWebSeedParseRetryAfter(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	for _, tc := range []struct {
		h    string
		want time.Duration
	}{
		{"", 0},
		{"120", 120 * time.Second},
		{" 7 ", 7 * time.Second},
		{"0", 0},
		{"-5", 0},
		{"99999999999", webSeedMaxRetryAfter},
		{now.Add(90 * time.Second).Format(http.TimeFormat), 90 * time.Second},
		{now.Add(-time.Hour).Format(http.TimeFormat), 0},
		{"soon", 0},
	} {
		if got := parseRetryAfter(tc.h, now); got != tc.want {
			t.Errorf("parseRetryAfter(%q) = %v, want %v", tc.h, got, tc.want)
		}
	}
}

func TestWebSeedUsableURL(t *testing.T) {
	for u, ok := range map[string]bool{
		"http://h/f":  true,
		"HTTPS://h/f": true,
		"ftp://h/f":   false,
		"http:///f":   false,
		"":            false,
		"::":          false,
		"http://h/" + strings.Repeat("a", MaxWebSeedURLLength): false,
	} {
		if usableWebSeed(u) != ok {
			t.Errorf("usableWebSeed(%q) = %v", u, !ok)
		}
	}
}

// BenchmarkWebSeedLoopback is BenchmarkLoopbackTransfer with an HTTP
// server on loopback (net/http, the data in memory) as the only source:
// 64 MiB, 256 KiB pieces (16 KiB for the small-pieces variant: a ranged
// GET per piece), written to files, SHA-1 verified on arrival.
func BenchmarkWebSeedLoopback(b *testing.B) { benchWebSeed(b, 256<<10) }

// BenchmarkWebSeedLoopbackSmallPieces is BenchmarkWebSeedLoopback with
// 16 KiB pieces.
func BenchmarkWebSeedLoopbackSmallPieces(b *testing.B) { benchWebSeed(b, 16<<10) }

func benchWebSeed(b *testing.B, pieceLen int) {
	const size = 64 << 20
	data := randomData(size, 14)
	mi := makeTorrent(b, "bench.bin", data, pieceLen)
	srv := newWSServer()
	srv.files["/bench.bin"] = data
	hs := httptest.NewServer(srv)
	defer hs.Close()
	b.SetBytes(size)
	cpu0 := cputime.Process()
	reqs0 := len(srv.requests())
	for b.Loop() {
		s, err := NewSession(&Config{NoListen: true, Storage: &storage.Dir{Root: b.TempDir()}})
		if err != nil {
			b.Fatal(err)
		}
		tor, err := s.AddTorrent(context.Background(), mi, &TorrentOptions{WebSeeds: []string{hs.URL + "/bench.bin"}})
		if err != nil {
			b.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		err = tor.Wait(ctx)
		cancel()
		s.Close()
		if err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(size)*float64(b.N)/(1<<20)/b.Elapsed().Seconds(), "MiB/s")
	b.ReportMetric((cputime.Process()-cpu0).Seconds()/(float64(size)*float64(b.N)/(1<<30)), "cpu-s/GiB")
	b.ReportMetric(float64(len(srv.requests())-reqs0)/float64(b.N), "GETs/op")
}

// A reader's deadlines are served by the web seed first: a read near the
// end returns long before the download completes.
func TestWebSeedStreaming(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		data := randomData(8<<20, 16)
		mi := makeTorrent(t, "stream.bin", data, 16<<10)
		srv := newWSServer()
		srv.files["/stream.bin"] = data
		srv.delay = time.Second // per GET: 4 jobs of 256 KiB a second, 8 s in all
		s := newWSSession(t, srv, nil)
		defer s.Close()
		tor, err := s.AddTorrent(context.Background(), mi, &TorrentOptions{WebSeeds: []string{"http://ws.example/stream.bin"}})
		if err != nil {
			t.Fatal(err)
		}
		r := tor.NewReader()
		defer r.Close()
		off := int64(len(data)) - 100<<10
		if _, err := r.Seek(off, 0); err != nil {
			t.Fatal(err)
		}
		buf := make([]byte, 64<<10)
		if _, err := io.ReadFull(r, buf); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(buf, data[off:off+int64(len(buf))]) {
			t.Fatal("read differs")
		}
		if ts := tor.Stats(); ts.Complete || ts.PiecesHave > ts.Pieces/2 {
			t.Fatalf("read returned late: %+v", ts)
		}
		waitDone(t, tor)
	})
}

// At most MaxWebSeeds web seeds are kept, duplicates and unusable URLs
// skipped.
func TestWebSeedLimit(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		data := randomData(16<<10, 17)
		mi := makeTorrent(t, "lim.bin", data, 16<<10)
		srv := newWSServer()
		s := newWSSession(t, srv, nil) // every request is a 404
		defer s.Close()
		urls := []string{"ftp://x/", "http://ws.example/0", "http://ws.example/0"}
		for i := range 2 * MaxWebSeeds {
			urls = append(urls, fmt.Sprintf("http://ws.example/%d", i))
		}
		tor, err := s.AddTorrent(context.Background(), mi, &TorrentOptions{WebSeeds: urls})
		if err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		paths := map[string]bool{}
		for _, r := range srv.requests() {
			paths[r] = true
		}
		if len(paths) != MaxWebSeeds || tor.Stats().WebSeeds != 0 {
			t.Fatalf("%d web seeds asked, stats %+v", len(paths), tor.Stats())
		}
	})
}
