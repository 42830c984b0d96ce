package dht

import (
	"time"
)

// maintainInterval is how often the server does its housekeeping.
const maintainInterval = time.Minute

// maintain pings questionable nodes, refreshes stale buckets and expires
// stored data, until the server closes.
func (s *Server) maintain() {
	defer s.wg.Done()
	ctx := s.ctx
	t := time.NewTicker(maintainInterval)
	defer t.Stop()
	for {
		select {
		case <-s.done:
			return
		case <-t.C:
		}
		now := time.Now()
		var refresh []ID
		s.mu.Lock()
		for i, tb := range s.tables {
			if (i == 0 && !s.local4) || (i == 1 && !s.local6) || tb.count == 0 {
				continue
			}
			for _, n := range tb.questionable(now, K) {
				s.pingLater(n.Addr)
			}
			for _, bi := range tb.staleBuckets(now, s.cfg.RefreshInterval) {
				refresh = append(refresh, randomIDWithPrefix(s.id, bi))
				tb.buckets[bi].changed = now
			}
		}
		s.peers.purge(now, false)
		s.items.evict(now)
		s.limiter.gc(now)
		s.mu.Unlock()
		for _, target := range refresh {
			if _, err := s.FindNode(ctx, target); err != nil && ctx.Err() != nil {
				return
			}
		}
	}
}
