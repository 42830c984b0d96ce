package tracker

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/bittern/bittern/metainfo"
)

// MultiConfig configures a Multi. The zero value works.
type MultiConfig struct {
	// Config configures the per-tracker clients.
	Config Config
	// AllTiers announces to the first working tracker of every tier, all
	// tiers at once, instead of stopping at the first tier that answers;
	// peers are merged.
	AllTiers bool
	// Backoff is the wait after a tracker's first failure before it is tried
	// again; it doubles with each further failure. If zero, 15 seconds.
	Backoff time.Duration
	// MaxBackoff caps the wait. If zero, 30 minutes.
	MaxBackoff time.Duration
	// TrackerTimeout bounds one announce or scrape to one tracker, so a dead
	// tracker (a UDP one would otherwise retransmit for two hours, BEP 15)
	// does not hold up the next. If zero, 60 seconds.
	TrackerTimeout time.Duration
}

// Multi announces to a torrent's trackers as BEP 12 describes: tiers in
// order, each tier shuffled once, a tracker that answers promoted to the front
// of its tier. A failed tracker is skipped until its backoff ends. Each
// tracker gets its own event sequence: "started" first, "completed" once
// when it last saw us incomplete, "stopped" only if it saw us start. A
// request with EventPaused (a partial seed, BEP 21) is sent "paused" in
// every announce that has no other event to carry. Safe for concurrent use;
// announces are serialised.
type Multi struct {
	cfg MultiConfig
	// newTracker makes the per-URL clients; tests replace it.
	newTracker func(url string, cfg *Config) (Tracker, error)
	sem        chan struct{} // serialises announces; guards tiers
	tiers      [][]*trackerState
	all        []*trackerState // every tracker, fixed at construction
}

type trackerState struct {
	url      string
	t        Tracker // nil if the URL is unusable (err)
	err      error   // why t is nil
	started  bool    // the tracker has accepted our "started"
	leeching bool    // the tracker last saw us with bytes left
	fails    int
	retryAt  time.Time
	lastErr  error
	lastOK   time.Time
}

// TrackerStatus describes one tracker of a Multi.
type TrackerStatus struct {
	URL     string
	Tier    int       // index of its tier
	Started bool      // it has accepted our "started" and not seen "stopped"
	Fails   int       // consecutive failures
	RetryAt time.Time // while backing off, when it will be tried again
	LastOK  time.Time // when it last answered, zero if never
	LastErr error     // its last error, nil after a success
}

// Status returns every tracker's state, in the order they are tried.
func (m *Multi) Status() []TrackerStatus {
	m.sem <- struct{}{}
	defer func() { <-m.sem }()
	var out []TrackerStatus
	for i, tier := range m.tiers {
		for _, st := range tier {
			e := st.lastErr
			if st.t == nil {
				e = st.err
			}
			out = append(out, TrackerStatus{URL: st.url, Tier: i, Started: st.started, Fails: st.fails,
				RetryAt: st.retryAt, LastOK: st.lastOK, LastErr: e})
		}
	}
	return out
}

// NewMulti returns a Multi over tiers of announce URLs (a metainfo
// announce-list; a single announce URL is [][]string{{url}}). Empty tiers
// and duplicate URLs are dropped. cfg may be nil.
func NewMulti(tiers [][]string, cfg *MultiConfig) *Multi {
	return newMulti(tiers, cfg, New)
}

func newMulti(tiers [][]string, cfg *MultiConfig, newTracker func(string, *Config) (Tracker, error)) *Multi {
	m := &Multi{sem: make(chan struct{}, 1), newTracker: newTracker}
	if cfg != nil {
		m.cfg = *cfg
	}
	if m.cfg.Backoff <= 0 {
		m.cfg.Backoff = 15 * time.Second
	}
	if m.cfg.MaxBackoff <= 0 {
		m.cfg.MaxBackoff = 30 * time.Minute
	}
	if m.cfg.TrackerTimeout <= 0 {
		m.cfg.TrackerTimeout = time.Minute
	}
	seen := make(map[string]bool)
	for _, tier := range tiers {
		var ts []*trackerState
		for _, u := range tier {
			if u == "" || seen[u] {
				continue
			}
			seen[u] = true
			st := &trackerState{url: u}
			st.t, st.err = m.newTracker(u, &m.cfg.Config)
			ts = append(ts, st)
			m.all = append(m.all, st)
		}
		rand.Shuffle(len(ts), func(i, j int) { ts[i], ts[j] = ts[j], ts[i] })
		if len(ts) > 0 {
			m.tiers = append(m.tiers, ts)
		}
	}
	return m
}

// Tiers returns the announce URLs in the order they will be tried.
func (m *Multi) Tiers() [][]string {
	m.sem <- struct{}{}
	defer func() { <-m.sem }()
	out := make([][]string, len(m.tiers))
	for i, tier := range m.tiers {
		for _, st := range tier {
			out[i] = append(out[i], st.url)
		}
	}
	return out
}

// Close closes every tracker client; an announce in flight fails.
func (m *Multi) Close() error {
	var errs []error
	for _, st := range m.all {
		if st.t != nil {
			errs = append(errs, st.t.Close())
		}
	}
	return errors.Join(errs...)
}

// eventFor returns the event tracker st should get for req. The first
// that applies wins: "stopped" when the torrent stops; "started" to a
// tracker that has not accepted it, even from a partial seed; "completed"
// when the tracker last saw bytes left and there are none now; "paused"
// when the torrent says it is a partial seed (req.Event is EventPaused);
// otherwise none. A partial seed reports its bytes left, so it is "leeching"
// to the tracker and becoming a full seed later earns "completed", as in
// libtorrent (which sends "completed" only as a seed). libtorrent differs
// on the first announce: it turns a plain announce into "paused" before it
// picks "started" per tracker, so a partial seed from the outset never
// sends "started" there. We send "started" first anyway, so a tracker sees
// the session begin as BEP 3 asks, and "paused" in every announce after.
func (st *trackerState) eventFor(req AnnounceRequest) Event {
	switch {
	case req.Event == EventStopped:
		return EventStopped
	case !st.started:
		return EventStarted
	case st.leeching && req.Left == 0:
		return EventCompleted
	case req.Event == EventPaused && req.Left > 0:
		return EventPaused
	}
	return EventNone
}

func (m *Multi) backoff(fails int) time.Duration {
	d := m.cfg.Backoff
	for i := 1; i < fails && d < m.cfg.MaxBackoff; i++ {
		d *= 2
	}
	return min(d, m.cfg.MaxBackoff)
}

// Announce announces req (its Event is the torrent's: EventNone,
// EventPaused for a partial seed, or EventStopped; each tracker is sent the
// event its own history calls for) and returns the first answer, or with
// AllTiers the merged answers of every tier. If no tracker answers, the
// error joins every tracker's error; if every tracker is backing off it is
// ErrNoTrackers. A stopped announce goes to every tracker that saw us start.
func (m *Multi) Announce(ctx context.Context, req AnnounceRequest) (*AnnounceResponse, error) {
	select {
	case m.sem <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	defer func() { <-m.sem }()
	if req.Event == EventStopped {
		return m.stopAll(ctx, req)
	}
	var (
		merged *AnnounceResponse
		errs   []error
	)
	if m.cfg.AllTiers {
		// Tiers are independent: announce to all at once, merge in order.
		resps := make([]*AnnounceResponse, len(m.tiers))
		tierErrs := make([]error, len(m.tiers))
		var wg sync.WaitGroup
		for i, tier := range m.tiers {
			wg.Go(func() { resps[i], tierErrs[i] = m.announceTier(ctx, tier, req) })
		}
		wg.Wait()
		for i, r := range resps {
			if tierErrs[i] != nil {
				errs = append(errs, tierErrs[i])
			} else if merged == nil {
				merged = r
			} else {
				mergeResponse(merged, r)
			}
		}
	} else {
		for _, tier := range m.tiers {
			r, err := m.announceTier(ctx, tier, req)
			if err == nil {
				merged = r
				break
			}
			errs = append(errs, err)
			if ctx.Err() != nil {
				break
			}
		}
	}
	if merged != nil {
		return merged, nil
	}
	if ctx.Err() != nil {
		return nil, ctx.Err()
	}
	if len(errs) == 0 {
		return nil, ErrNoTrackers
	}
	return nil, errors.Join(errs...)
}

// announceTier tries the tier's trackers in order and promotes the first
// that answers. It returns ErrNoTrackers if all are backing off.
func (m *Multi) announceTier(ctx context.Context, tier []*trackerState, req AnnounceRequest) (*AnnounceResponse, error) {
	var errs []error
	now := time.Now()
	for i, st := range tier {
		if st.t == nil {
			errs = append(errs, st.err)
			continue
		}
		if now.Before(st.retryAt) {
			continue
		}
		r := req
		r.Event = st.eventFor(req)
		actx, cancel := context.WithTimeout(ctx, m.cfg.TrackerTimeout)
		resp, err := st.t.Announce(actx, r)
		cancel()
		if err != nil {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			st.fails++
			st.retryAt = time.Now().Add(m.backoff(st.fails))
			st.lastErr = err
			errs = append(errs, fmt.Errorf("%s: %w", st.url, err))
			continue
		}
		st.fails, st.retryAt, st.lastErr, st.lastOK = 0, time.Time{}, nil, time.Now()
		st.started = true
		st.leeching = req.Left > 0
		copy(tier[1:i+1], tier[:i])
		tier[0] = st
		return resp, nil
	}
	if len(errs) == 0 {
		return nil, ErrNoTrackers
	}
	return nil, errors.Join(errs...)
}

// stopAll sends "stopped" to every tracker that saw us start, concurrently.
func (m *Multi) stopAll(ctx context.Context, req AnnounceRequest) (*AnnounceResponse, error) {
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		first *AnnounceResponse
		errs  []error
	)
	for _, tier := range m.tiers {
		for _, st := range tier {
			if st.t == nil || !st.started {
				continue
			}
			st.started, st.leeching = false, false
			wg.Go(func() {
				r := req
				r.Event = EventStopped
				actx, cancel := context.WithTimeout(ctx, m.cfg.TrackerTimeout)
				defer cancel()
				resp, err := st.t.Announce(actx, r)
				mu.Lock()
				defer mu.Unlock()
				if err != nil {
					errs = append(errs, fmt.Errorf("%s: %w", st.url, err))
				} else if first == nil {
					first = resp
				}
			})
		}
	}
	wg.Wait()
	if first != nil {
		return first, nil
	}
	if len(errs) == 0 {
		return &AnnounceResponse{Seeders: -1, Leechers: -1}, nil
	}
	return nil, errors.Join(errs...)
}

// mergeResponse folds b into a: peers unioned, the shorter interval, the
// larger counts.
func mergeResponse(a, b *AnnounceResponse) {
	a.Peers = dedupPeers(append(a.Peers, b.Peers...))
	if b.Interval > 0 && (a.Interval == 0 || b.Interval < a.Interval) {
		a.Interval = b.Interval
	}
	a.MinInterval = max(a.MinInterval, b.MinInterval)
	a.Seeders = max(a.Seeders, b.Seeders)
	a.Leechers = max(a.Leechers, b.Leechers)
	if !a.ExternalIP.IsValid() {
		a.ExternalIP = b.ExternalIP
	}
	if a.Warning == "" {
		a.Warning = b.Warning
	}
}

// Scrape asks the trackers, in announce order, until one answers.
func (m *Multi) Scrape(ctx context.Context, hashes ...metainfo.Hash) (map[metainfo.Hash]ScrapeStats, error) {
	select {
	case m.sem <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	defer func() { <-m.sem }()
	var errs []error
	for _, tier := range m.tiers {
		for _, st := range tier {
			if st.t == nil {
				continue
			}
			sctx, cancel := context.WithTimeout(ctx, m.cfg.TrackerTimeout)
			r, err := st.t.Scrape(sctx, hashes...)
			cancel()
			if err == nil {
				return r, nil
			}
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			errs = append(errs, fmt.Errorf("%s: %w", st.url, err))
		}
	}
	if len(errs) == 0 {
		return nil, ErrNoTrackers
	}
	return nil, errors.Join(errs...)
}
