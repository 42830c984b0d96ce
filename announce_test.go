package bittern

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/bittern/bittern/bencode"
	"github.com/bittern/bittern/metainfo"
	"github.com/bittern/bittern/storage"
	"github.com/bittern/bittern/tracker"
)

// handlerTransport serves HTTP requests with a handler in memory, as if
// they came from host.
type handlerTransport struct {
	h     http.Handler
	host  netip.Addr
	count *atomic.Int64 // requests seen, if not nil
}

func (ht handlerTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	if ht.count != nil {
		ht.count.Add(1)
	}
	if err := r.Context().Err(); err != nil {
		return nil, err
	}
	r = r.Clone(r.Context())
	r.RemoteAddr = netip.AddrPortFrom(ht.host, 1).String()
	rec := httptest.NewRecorder()
	ht.h.ServeHTTP(rec, r)
	return rec.Result(), nil
}

// hangingTransport never answers: each request waits for its context.
type hangingTransport struct{ count *atomic.Int64 }

func (ht hangingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	ht.count.Add(1)
	<-r.Context().Done()
	return nil, r.Context().Err()
}

// withAnnounce returns mi with its announce URL set to url.
func withAnnounce(t testing.TB, mi *metainfo.MetaInfo, url string) *metainfo.MetaInfo {
	t.Helper()
	b, err := bencode.Marshal(map[string]any{"announce": url, "info": mi.InfoBytes})
	if err != nil {
		t.Fatal(err)
	}
	out, err := metainfo.Parse(b)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func trackerConfig(h http.Handler, addr string) tracker.MultiConfig {
	host := netip.MustParseAddrPort(addr).Addr()
	return tracker.MultiConfig{Config: tracker.Config{HTTPClient: &http.Client{Transport: handlerTransport{h: h, host: host}}}}
}

// Peers find each other only through the tracker; Close sends "stopped",
// so the tracker forgets them.
func TestTrackerSwarm(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := newPipeNet()
		srv := tracker.NewServer(&tracker.ServerConfig{Interval: time.Minute})
		data := randomData(1<<20+77, 40)
		mi := withAnnounce(t, makeTorrent(t, "tracked.bin", data, 32<<10), "http://tracker.test/announce")
		st := &storage.Memory{}
		fill(t, st, mi, data)
		seeder := newPipeSession(t, n, "10.0.0.1:6881", &Config{Storage: st, Tracker: trackerConfig(srv, "10.0.0.1:6881")})
		defer seeder.Close()
		seed, err := seeder.AddTorrent(context.Background(), mi, nil)
		if err != nil {
			t.Fatal(err)
		}
		ls := &leecherSet{}
		defer ls.close()
		for i := range 3 {
			addr := netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, 0, 1, byte(i + 1)}), 6881).String()
			st := &storage.Memory{}
			s := newPipeSession(t, n, addr, &Config{Storage: st, Tracker: trackerConfig(srv, addr)})
			tor, err := s.AddTorrent(context.Background(), mi, nil)
			if err != nil {
				t.Fatal(err)
			}
			ls.sessions = append(ls.sessions, s)
			ls.stores = append(ls.stores, st)
			ls.torrents = append(ls.torrents, tor)
		}
		ls.waitAll(t, mi, data, time.Hour)
		synctest.Wait()
		if got := srv.Stats(); got.Peers != 4 || got.Seeders != 4 {
			t.Errorf("tracker lists %+v, want 4 peers, all seeders (\"completed\" announced)", got)
		}
		for i, tor := range ls.torrents {
			if st := tor.Stats(); st.TrackerAnnounces < 2 || st.TrackerErrors != 0 {
				t.Errorf("leecher %d: %d announces, %d errors; want started and completed", i, st.TrackerAnnounces, st.TrackerErrors)
			}
		}
		if st := seed.Stats(); st.Uploaded == 0 {
			t.Error("the seeder uploaded nothing")
		}
		// Regular announces continue at the tracker's interval.
		before := ls.torrents[0].Stats().TrackerAnnounces
		time.Sleep(3 * time.Minute)
		if after := ls.torrents[0].Stats().TrackerAnnounces; after < before+2 {
			t.Errorf("%d announces in 3 minutes with a 1-minute interval", after-before)
		}
		ls.close()
		seeder.Close()
		if got := srv.Stats(); got.Peers != 0 {
			t.Errorf("after Close the tracker still lists %d peers: \"stopped\" not sent", got.Peers)
		}
	})
}

// A tracker that never answers neither holds up Close (the "stopped"
// announce is bounded by Config.TrackerStopTimeout) nor the download.
func TestTrackerUnreachable(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := newPipeNet()
		var count atomic.Int64
		hang := tracker.MultiConfig{
			Config:         tracker.Config{HTTPClient: &http.Client{Transport: hangingTransport{&count}}},
			TrackerTimeout: 10 * time.Second,
		}
		data := randomData(300<<10, 41)
		mi := withAnnounce(t, makeTorrent(t, "hang.bin", data, 32<<10), "http://dead.test/announce")
		st := &storage.Memory{}
		fill(t, st, mi, data)
		seeder := newPipeSession(t, n, "10.0.0.1:6881", &Config{Storage: st, Tracker: hang})
		defer seeder.Close()
		if _, err := seeder.AddTorrent(context.Background(), mi, nil); err != nil {
			t.Fatal(err)
		}
		leecher := newPipeSession(t, n, "10.0.1.1:6881", &Config{Tracker: hang, TrackerStopTimeout: 2 * time.Second})
		tor, err := leecher.AddTorrent(context.Background(), mi, &TorrentOptions{Peers: []netip.AddrPort{netip.MustParseAddrPort("10.0.0.1:6881")}})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Hour)
		defer cancel()
		if err := tor.Wait(ctx); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Minute)
		if st := tor.Stats(); st.TrackerErrors == 0 || st.TrackerAnnounces != 0 {
			t.Errorf("stats %+v: want tracker errors only", st)
		}
		start := time.Now()
		leecher.Close()
		if d := time.Since(start); d > 3*time.Second {
			t.Errorf("Close took %v with a 2s TrackerStopTimeout", d)
		}
		if count.Load() == 0 {
			t.Error("no announce was attempted")
		}
	})
}

// NoTrackers: nothing is announced.
func TestNoTrackers(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := newPipeNet()
		var count atomic.Int64
		srv := tracker.NewServer(nil)
		cfg := tracker.MultiConfig{Config: tracker.Config{HTTPClient: &http.Client{Transport: handlerTransport{h: srv, host: netip.MustParseAddr("10.0.0.1"), count: &count}}}}
		data := randomData(10<<10, 42)
		mi := withAnnounce(t, makeTorrent(t, "quiet.bin", data, 16<<10), "http://tracker.test/announce")
		s := newPipeSession(t, n, "10.0.0.1:6881", &Config{NoTrackers: true, Tracker: cfg})
		if _, err := s.AddTorrent(context.Background(), mi, nil); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Hour)
		s.Close()
		if count.Load() != 0 {
			t.Errorf("%d requests with NoTrackers", count.Load())
		}
	})
}

// Extra tiers from TorrentOptions.Trackers are announced to as well.
func TestTorrentOptionsTrackers(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := newPipeNet()
		var count atomic.Int64
		srv := tracker.NewServer(nil)
		cfg := tracker.MultiConfig{Config: tracker.Config{HTTPClient: &http.Client{Transport: handlerTransport{h: srv, host: netip.MustParseAddr("10.0.0.1"), count: &count}}}}
		data := randomData(10<<10, 43)
		mi := makeTorrent(t, "extra.bin", data, 16<<10)
		s := newPipeSession(t, n, "10.0.0.1:6881", &Config{Tracker: cfg})
		if _, err := s.AddTorrent(context.Background(), mi, &TorrentOptions{Trackers: [][]string{{"http://tracker.test/announce"}}}); err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		if got := srv.Stats(); got.Peers != 1 {
			t.Errorf("tracker lists %d peers, want 1", got.Peers)
		}
		s.Close()
		if got := srv.Stats(); got.Peers != 0 || count.Load() != 2 {
			t.Errorf("after Close: %d peers, %d requests; want 0 and 2 (started, stopped)", got.Peers, count.Load())
		}
	})
}

// eventRecorder passes announces on to a tracker handler and records each
// announce's "event" per client host.
type eventRecorder struct {
	h      http.Handler
	mu     sync.Mutex
	events map[string][]string
}

func (er *eventRecorder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if strings.HasSuffix(r.URL.Path, "/announce") {
		host, _, _ := net.SplitHostPort(r.RemoteAddr)
		er.mu.Lock()
		if er.events == nil {
			er.events = map[string][]string{}
		}
		er.events[host] = append(er.events[host], r.URL.Query().Get("event"))
		er.mu.Unlock()
	}
	er.h.ServeHTTP(w, r)
}

func (er *eventRecorder) of(host string) []string {
	er.mu.Lock()
	defer er.mu.Unlock()
	return slices.Clone(er.events[host])
}

// A partial seed (BEP 21) says "paused" in its regular announces: the
// tracker counts it as incomplete but not as a downloader. When the whole
// torrent completes it sends "completed" and plain announces after that.
func TestTrackerPartialSeed(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := newPipeNet()
		srv := tracker.NewServer(&tracker.ServerConfig{Interval: time.Minute})
		rec := &eventRecorder{h: srv}
		mi, data := makeMultiTorrent(t, []int{64 << 10, 64 << 10}, 32<<10, 63)
		mi = withAnnounce(t, mi, "http://tracker.test/announce")
		st := &storage.Memory{}
		fill(t, st, mi, data)
		seeder := newPipeSession(t, n, "10.0.0.1:6881", &Config{Storage: st, Tracker: trackerConfig(rec, "10.0.0.1:6881")})
		defer seeder.Close()
		if _, err := seeder.AddTorrent(context.Background(), mi, nil); err != nil {
			t.Fatal(err)
		}
		leecher := newPipeSession(t, n, "10.0.1.1:6881", &Config{Storage: &storage.Memory{}, Tracker: trackerConfig(rec, "10.0.1.1:6881")})
		defer leecher.Close()
		ctx, cancel := context.WithTimeout(context.Background(), time.Hour)
		defer cancel()
		tor, err := leecher.AddTorrent(ctx, mi, &TorrentOptions{FilePriorities: []Priority{PriorityNormal, PrioritySkip}})
		if err != nil {
			t.Fatal(err)
		}
		if err := tor.Wait(ctx); err != nil {
			t.Fatal(err)
		}
		// Two regular announces as a partial seed.
		time.Sleep(2*time.Minute + time.Second)
		synctest.Wait()
		evs := rec.of("10.0.1.1")
		if len(evs) < 3 || evs[0] != "started" || evs[len(evs)-1] != "paused" || slices.Contains(evs, "completed") {
			t.Fatalf("partial seed's events %q: want started, then paused", evs)
		}
		scrape := func() tracker.ScrapeStats {
			t.Helper()
			cl, err := tracker.NewHTTP("http://tracker.test/announce", &tracker.Config{HTTPClient: &http.Client{Transport: handlerTransport{h: srv, host: netip.MustParseAddr("10.9.9.9")}}})
			if err != nil {
				t.Fatal(err)
			}
			defer cl.Close()
			m, err := cl.Scrape(ctx, mi.InfoHash())
			if err != nil {
				t.Fatal(err)
			}
			return m[mi.InfoHash()]
		}
		if got, want := scrape(), (tracker.ScrapeStats{Complete: 1, Incomplete: 1, Downloaders: 0, HasDownloaders: true}); got != want {
			t.Errorf("scrape with a partial seed = %+v, want %+v", got, want)
		}

		// The rest selected: the leecher downloads it and says completed.
		if err := tor.SetFilePriorities([]Priority{PriorityNormal, PriorityNormal}); err != nil {
			t.Fatal(err)
		}
		if err := tor.Wait(ctx); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Minute + time.Second)
		synctest.Wait()
		evs = rec.of("10.0.1.1")
		i := slices.Index(evs, "completed")
		if i < 0 || slices.Contains(evs[i+1:], "completed") || slices.Contains(evs[i+1:], "paused") || len(evs) == i+1 {
			t.Fatalf("events %q: want one completed, then plain announces", evs)
		}
		if got, want := scrape(), (tracker.ScrapeStats{Complete: 2, Downloaded: 1, HasDownloaders: true}); got != want {
			t.Errorf("scrape after completion = %+v, want %+v", got, want)
		}
		leecher.Close()
		if evs := rec.of("10.0.1.1"); evs[len(evs)-1] != "stopped" {
			t.Errorf("last event %q, want stopped", evs[len(evs)-1])
		}
		if evs := rec.of("10.0.0.1"); slices.Contains(evs, "paused") {
			t.Errorf("the seeder sent %q: a full seed never says paused", evs)
		}
	})
}
