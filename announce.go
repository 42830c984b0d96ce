package bittern

import (
	"context"
	"errors"
	"math/rand/v2"
	"time"

	"github.com/bittern/bittern/metainfo"
	"github.com/bittern/bittern/tracker"
)

// Tracker announce timing.
const (
	// DefaultAnnounceInterval is used when a tracker's reply names no
	// interval.
	DefaultAnnounceInterval = 30 * time.Minute
	// MinAnnounceInterval is the shortest wait between regular announces,
	// whatever a tracker asks for.
	MinAnnounceInterval = 30 * time.Second
	// DefaultTrackerStopTimeout bounds the "stopped" announce made when a
	// torrent is removed or the session closes.
	DefaultTrackerStopTimeout = 5 * time.Second
	// announceRetryMin and announceRetryMax bound the wait after an
	// announce that no tracker answered; it doubles with each failure.
	announceRetryMin = 15 * time.Second
	announceRetryMax = 30 * time.Minute
)

// trackerTiers returns the announce tiers of a torrent: its metainfo's and
// then the extra ones given, without duplicates (tracker.NewMulti drops
// them too).
func trackerTiers(base, extra [][]string) [][]string {
	tiers := make([][]string, 0, len(base)+len(extra))
	for _, t := range base {
		tiers = append(tiers, append([]string(nil), t...))
	}
	for _, t := range extra {
		tiers = append(tiers, append([]string(nil), t...))
	}
	return tiers
}

// startAnnouncer starts the goroutine that announces the torrent to its
// trackers, if it has any and trackers are not disabled: one per swarm
// hash (a hybrid torrent announces its v1 and its v2 hash).
func (t *Torrent) startAnnouncer(tiers [][]string) {
	for _, ih := range t.swarmHashes() {
		t.startAnnouncerFor(tiers, ih)
	}
}

func (t *Torrent) startAnnouncerFor(tiers [][]string, ih metainfo.Hash) {
	if t.s.cfg.NoTrackers {
		return
	}
	n := 0
	for _, tier := range tiers {
		n += len(tier)
	}
	if n == 0 {
		return
	}
	mc := t.s.cfg.Tracker
	if mc.Config.Logger == nil {
		mc.Config.Logger = t.log
	}
	m := tracker.NewMulti(tiers, &mc)
	if len(m.Tiers()) == 0 {
		m.Close()
		return
	}
	t.bgMu.Lock()
	defer t.bgMu.Unlock()
	if t.bgDone {
		m.Close()
		return
	}
	t.bg.Add(1)
	go t.announceLoop(m, ih)
}

// announceRequest describes the torrent's state to its trackers.
func (t *Torrent) announceRequest(ev tracker.Event) tracker.AnnounceRequest {
	left := t.info.TotalLength() - t.bytesHave.Load()
	if left < 0 {
		left = 0
	}
	return tracker.AnnounceRequest{
		InfoHash:   t.ih,
		PeerID:     t.s.peerID,
		Port:       uint16(t.s.listenPort()),
		Uploaded:   t.uploaded.Load(),
		Downloaded: t.downloaded.Load(),
		Left:       left,
		Event:      ev,
		Key:        t.s.announceKey,
	}
}

// announceLoop announces to the torrent's trackers: at once (tracker.Multi
// sends "started" to each tracker first), then at the interval the tracker
// asks for, at once again when the torrent completes ("completed"), and
// "stopped" when the torrent ends, bounded by Config.TrackerStopTimeout.
// While the torrent is a partial seed the regular announces say "paused"
// (see regularEvent); becoming one is reported at the next of them.
// Peers in the replies go to the torrent's dial queue.
func (t *Torrent) announceLoop(m *tracker.Multi, ih metainfo.Hash) {
	request := func(ev tracker.Event) tracker.AnnounceRequest {
		r := t.announceRequest(ev)
		r.InfoHash = ih
		return r
	}
	defer t.bg.Done()
	defer m.Close()
	complete := t.complete
	select {
	case <-complete:
		complete = nil // complete from the start: nothing to report later
	default:
	}
	fails := 0
	for {
		resp, err := m.Announce(t.ctx, request(t.regularEvent()))
		if t.ctx.Err() != nil {
			break
		}
		var wait time.Duration
		if err != nil {
			fails++
			wait = min(announceRetryMin<<min(fails-1, 10), announceRetryMax)
			t.trackerErrors.Add(1)
			t.log.Debug("announce", "err", err, "retry", wait)
			t.emit(func(b EventBase) Event { return TrackerError{EventBase: b, Err: err} })
		} else {
			fails = 0
			t.trackerAnnounces.Add(1)
			wait = resp.Interval
			if wait <= 0 {
				wait = DefaultAnnounceInterval
			}
			wait = max(wait, resp.MinInterval, MinAnnounceInterval)
			t.log.Debug("announce", "peers", len(resp.Peers), "seeders", resp.Seeders, "leechers", resp.Leechers, "interval", wait)
			t.s.noteExternalIP(resp.ExternalIP)
			if len(resp.Peers) > 0 {
				t.addPeersFrom(ih, resp.Peers...)
			}
		}
		timer := time.NewTimer(wait)
		select {
		case <-t.ctx.Done():
		case <-timer.C:
		case <-complete:
			complete = nil // announce now: "completed"
		}
		timer.Stop()
		if t.ctx.Err() != nil {
			break
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), t.s.cfg.TrackerStopTimeout)
	defer cancel()
	if _, err := m.Announce(ctx, request(tracker.EventStopped)); err != nil && !errors.Is(err, tracker.ErrNoTrackers) {
		t.log.Debug("announce stopped", "err", err)
	}
}

// regularEvent is the event of a regular announce: tracker.EventPaused
// while the torrent is a partial seed (BEP 21: it must say so in every
// announce), tracker.EventNone otherwise. A partial seed has every selected
// piece verified, the state in which uploadonly.go sends upload_only
// (Complete is closed), but not every piece of the torrent (t.complete,
// the tracker's "completed", is open); "left" stays the bytes missing from
// the whole torrent. tracker.Multi still sends "started" first and
// "completed" once the whole torrent is done. It reads only the completion
// channels, so it is safe off the owner goroutine.
func (t *Torrent) regularEvent() tracker.Event {
	select {
	case <-t.complete:
		return tracker.EventNone // a seed
	default:
	}
	select {
	case <-t.done.wait():
		return tracker.EventPaused
	default:
		return tracker.EventNone
	}
}

// newAnnounceKey returns a random non-zero tracker "key".
func newAnnounceKey() uint32 {
	for {
		if k := rand.Uint32(); k != 0 {
			return k
		}
	}
}
