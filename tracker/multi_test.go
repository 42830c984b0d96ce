package tracker

import (
	"context"
	"errors"
	"net/netip"
	"slices"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/bittern/bittern/metainfo"
)

// fakeTracker records the events it is sent and fails while down is set.
type fakeTracker struct {
	url  string
	mu   sync.Mutex
	evs  []Event
	down bool
	hang bool // block until the context ends
}

var errDown = errors.New("down")

func (f *fakeTracker) Announce(ctx context.Context, req AnnounceRequest) (*AnnounceResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.evs = append(f.evs, req.Event)
	if f.hang {
		f.mu.Unlock()
		<-ctx.Done()
		f.mu.Lock()
		return nil, ctx.Err()
	}
	if f.down {
		return nil, errDown
	}
	peer := netip.AddrPortFrom(netip.AddrFrom4([4]byte{1, 1, 1, byte(len(f.url))}), 1)
	return &AnnounceResponse{Interval: time.Duration(len(f.url)) * time.Minute, Peers: []netip.AddrPort{peer}, Seeders: -1, Leechers: -1}, nil
}

func (f *fakeTracker) Scrape(context.Context, ...metainfo.Hash) (map[metainfo.Hash]ScrapeStats, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.down {
		return nil, errDown
	}
	return map[metainfo.Hash]ScrapeStats{{}: {Complete: len(f.url)}}, nil
}

func (f *fakeTracker) URL() string  { return f.url }
func (f *fakeTracker) Close() error { return nil }

func (f *fakeTracker) events() []Event {
	f.mu.Lock()
	defer f.mu.Unlock()
	e := f.evs
	f.evs = nil
	return e
}

func (f *fakeTracker) setDown(d bool) { f.mu.Lock(); f.down = d; f.mu.Unlock() }

func newFakeMulti(tiers [][]string, cfg *MultiConfig) (*Multi, map[string]*fakeTracker) {
	fakes := map[string]*fakeTracker{}
	m := newMulti(tiers, cfg, func(u string, _ *Config) (Tracker, error) {
		if u == "bad" {
			return nil, ErrUnsupportedScheme
		}
		f := &fakeTracker{url: u}
		fakes[u] = f
		return f, nil
	})
	return m, fakes
}

func TestMultiTiersAndPromotion(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m, f := newFakeMulti([][]string{{"a1", "a22", "a333"}, {"b1"}, {}, {"a1", "bad"}}, nil)
		defer m.Close()
		tiers := m.Tiers()
		require.Len(t, tiers, 3)
		require.ElementsMatch(t, []string{"a1", "a22", "a333"}, tiers[0])
		require.Equal(t, []string{"bad"}, tiers[2])

		first := tiers[0][0]
		r, err := m.Announce(t.Context(), AnnounceRequest{Left: 1, Event: EventStarted})
		require.NoError(t, err)
		require.Len(t, r.Peers, 1)
		require.Equal(t, []Event{EventStarted}, f[first].events())

		// The first tracker fails: the next one answers and is promoted.
		f[first].setDown(true)
		second := tiers[0][1]
		_, err = m.Announce(t.Context(), AnnounceRequest{Left: 1})
		require.NoError(t, err)
		require.Equal(t, []Event{EventNone}, f[first].events())
		require.Equal(t, []Event{EventStarted}, f[second].events()) // its own first announce
		require.Equal(t, []string{second, first, tiers[0][2]}, m.Tiers()[0])

		// The whole first tier down: the backup tier answers. The failed
		// trackers are skipped while backing off.
		for _, u := range tiers[0] {
			f[u].setDown(true)
		}
		r, err = m.Announce(t.Context(), AnnounceRequest{Left: 1})
		require.NoError(t, err)
		require.Equal(t, time.Duration(len("b1"))*time.Minute, r.Interval)
		require.Empty(t, f[first].events(), "backing off")
		require.Len(t, f[second].events(), 1)
		require.Equal(t, []Event{EventStarted}, f[tiers[0][2]].events()) // tried, failed
		require.Equal(t, []Event{EventStarted}, f["b1"].events())

		// After the backoff the first tier is tried again; completed goes
		// to each tracker that saw us leeching.
		time.Sleep(15 * time.Second)
		f[first].setDown(false)
		_, err = m.Announce(t.Context(), AnnounceRequest{Left: 0, Event: EventCompleted})
		require.NoError(t, err)
		require.Equal(t, []Event{EventCompleted}, f[first].events())
		_, _ = m.Announce(t.Context(), AnnounceRequest{Left: 0})
		require.Equal(t, []Event{EventNone}, f[first].events())

		// stopped goes to every tracker that saw us start.
		for _, u := range tiers[0] {
			f[u].setDown(false)
			f[u].events()
		}
		_, err = m.Announce(t.Context(), AnnounceRequest{Event: EventStopped})
		require.NoError(t, err)
		for u, ft := range f {
			switch u {
			case first, second, "b1":
				require.Equal(t, []Event{EventStopped}, ft.events(), u)
			default:
				require.Empty(t, ft.events(), u)
			}
		}
		// After stopping, the next announce is a fresh start.
		_, _ = m.Announce(t.Context(), AnnounceRequest{Left: 0})
		require.Equal(t, []Event{EventStarted}, f[first].events())

		st := m.Status()
		require.Len(t, st, 5)
		require.Equal(t, TrackerStatus{URL: first, Tier: 0, Started: true, LastOK: time.Now()}, st[0])
		require.Equal(t, "bad", st[4].URL)
		require.Equal(t, 2, st[4].Tier)
		require.ErrorIs(t, st[4].LastErr, ErrUnsupportedScheme)
	})
}

func TestMultiBackoffGrows(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m, f := newFakeMulti([][]string{{"a"}}, &MultiConfig{Backoff: 10 * time.Second, MaxBackoff: 35 * time.Second})
		f["a"].setDown(true)
		var tried []time.Duration
		start := time.Now()
		for range 120 {
			_, err := m.Announce(t.Context(), AnnounceRequest{})
			require.Error(t, err)
			if len(f["a"].events()) > 0 {
				tried = append(tried, time.Since(start))
			} else {
				require.ErrorIs(t, err, ErrNoTrackers)
			}
			time.Sleep(time.Second)
		}
		st := m.Status()
		require.Len(t, st, 1)
		require.Equal(t, 5, st[0].Fails)
		require.ErrorIs(t, st[0].LastErr, errDown)
		require.True(t, st[0].RetryAt.After(time.Now()))
		// Retries after 10, 20, 35 (capped), 35 s.
		require.Equal(t, []time.Duration{0, 10 * time.Second, 30 * time.Second, 65 * time.Second, 100 * time.Second}, tried)
	})
}

func TestMultiAllTiers(t *testing.T) {
	m, f := newFakeMulti([][]string{{"a1"}, {"b22"}, {"c333"}}, &MultiConfig{AllTiers: true})
	f["c333"].setDown(true)
	r, err := m.Announce(t.Context(), AnnounceRequest{})
	require.NoError(t, err)
	require.Len(t, r.Peers, 2)
	require.Equal(t, 2*time.Minute, r.Interval) // the shorter one

	st, err := m.Scrape(t.Context(), metainfo.Hash{})
	require.NoError(t, err)
	require.Equal(t, 2, st[metainfo.Hash{}].Complete)

	for _, ft := range f {
		ft.setDown(true)
	}
	_, err = m.Announce(t.Context(), AnnounceRequest{})
	require.ErrorIs(t, err, errDown)
	_, err = m.Scrape(t.Context())
	require.ErrorIs(t, err, errDown)
	require.True(t, slices.Equal([]string{"a1"}, m.Tiers()[0]))

	_, err = NewMulti(nil, nil).Announce(t.Context(), AnnounceRequest{})
	require.ErrorIs(t, err, ErrNoTrackers)
}

func TestMultiTrackerTimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m, f := newFakeMulti([][]string{{"hang"}, {"ok"}}, &MultiConfig{TrackerTimeout: 20 * time.Second})
		f["hang"].hang = true
		start := time.Now()
		r, err := m.Announce(t.Context(), AnnounceRequest{})
		require.NoError(t, err)
		require.Equal(t, 2*time.Minute, r.Interval) // from "ok"
		require.Equal(t, 20*time.Second, time.Since(start))
		st := m.Status()
		require.ErrorIs(t, st[0].LastErr, context.DeadlineExceeded)

		// The caller's own deadline still wins and is reported as such.
		time.Sleep(time.Hour)
		ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
		defer cancel()
		_, err = m.Announce(ctx, AnnounceRequest{})
		require.ErrorIs(t, err, context.DeadlineExceeded)
		require.Equal(t, 1, m.Status()[0].Fails, "the caller's deadline is not the tracker's failure")
	})
}

func TestMultiAllTiersConcurrent(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m, f := newFakeMulti([][]string{{"h1"}, {"h22"}, {"ok"}}, &MultiConfig{AllTiers: true, TrackerTimeout: 20 * time.Second})
		f["h1"].hang, f["h22"].hang = true, true
		start := time.Now()
		r, err := m.Announce(t.Context(), AnnounceRequest{})
		require.NoError(t, err)
		require.Len(t, r.Peers, 1)
		require.Equal(t, 20*time.Second, time.Since(start), "tiers are announced to at once")
	})
}

// TestMultiShuffle: each tier is shuffled once, at construction (BEP 12),
// so over many Multis every order of a three-tracker tier turns up, and a
// Multi keeps its order until a tracker is promoted.
func TestMultiShuffle(t *testing.T) {
	orders := map[string]int{}
	for range 300 {
		m, _ := newFakeMulti([][]string{{"a", "b", "c"}, {"d"}}, nil)
		tiers := m.Tiers()
		require.Equal(t, tiers, m.Tiers(), "the order is kept")
		require.Equal(t, []string{"d"}, tiers[1])
		orders[tiers[0][0]+tiers[0][1]+tiers[0][2]]++
	}
	require.Len(t, orders, 6, "orders seen: %v", orders)
}

// TestMultiAllTiersEvents: with AllTiers each tier's working tracker keeps
// its own started/completed/stopped sequence.
func TestMultiAllTiersEvents(t *testing.T) {
	m, f := newFakeMulti([][]string{{"a1", "a22"}, {"b1"}, {"c333"}}, &MultiConfig{AllTiers: true, Backoff: time.Nanosecond})
	ctx := t.Context()
	a := m.Tiers()[0]
	f["c333"].setDown(true)
	_, err := m.Announce(ctx, AnnounceRequest{Left: 1, Event: EventStarted})
	require.NoError(t, err)
	require.Equal(t, []Event{EventStarted}, f[a[0]].events())
	require.Empty(t, f[a[1]].events(), "a tier stops at its first answer")
	require.Equal(t, []Event{EventStarted}, f["b1"].events())

	// a[0] fails: a[1] starts; b1 goes on with a regular announce.
	f[a[0]].setDown(true)
	_, err = m.Announce(ctx, AnnounceRequest{Left: 1})
	require.NoError(t, err)
	require.Equal(t, []Event{EventNone}, f[a[0]].events())
	require.Equal(t, []Event{EventStarted}, f[a[1]].events())
	require.Equal(t, []Event{EventNone}, f["b1"].events())

	// completed goes once to each tracker that saw us leeching.
	_, err = m.Announce(ctx, AnnounceRequest{Left: 0, Event: EventCompleted})
	require.NoError(t, err)
	require.Equal(t, []Event{EventCompleted}, f[a[1]].events())
	require.Equal(t, []Event{EventCompleted}, f["b1"].events())
	_, err = m.Announce(ctx, AnnounceRequest{Left: 0})
	require.NoError(t, err)
	require.Equal(t, []Event{EventNone}, f[a[1]].events())
	require.Equal(t, []Event{EventNone}, f["b1"].events())

	// a[0] is back after missing the completion: it saw us start as a
	// leecher, so it gets its own completed now.
	f[a[0]].setDown(false)
	f[a[1]].setDown(true)
	_, err = m.Announce(ctx, AnnounceRequest{Left: 0})
	require.NoError(t, err)
	require.Equal(t, []Event{EventNone}, f[a[1]].events(), "promoted, so tried first")
	require.Equal(t, []Event{EventCompleted}, f[a[0]].events())
	require.Equal(t, []Event{EventNone}, f["b1"].events())
	f[a[1]].setDown(false)

	// c333 was down all along: it is told started until it answers, and
	// as it first saw us complete, it never gets completed.
	evs := f["c333"].events()
	require.Len(t, evs, 5)
	for _, ev := range evs {
		require.Equal(t, EventStarted, ev)
	}
	f["c333"].setDown(false)
	_, err = m.Announce(ctx, AnnounceRequest{Left: 0})
	require.NoError(t, err)
	_, err = m.Announce(ctx, AnnounceRequest{Left: 0})
	require.NoError(t, err)
	require.Equal(t, []Event{EventStarted, EventNone}, f["c333"].events())
	for _, u := range []string{"a1", "a22", "b1"} {
		f[u].events()
	}

	// stopped goes to every tracker that saw us start: all four.
	_, err = m.Announce(ctx, AnnounceRequest{Event: EventStopped})
	require.NoError(t, err)
	for _, u := range []string{"a1", "a22", "b1", "c333"} {
		require.Equal(t, []Event{EventStopped}, f[u].events(), u)
	}
}
