package dht

import (
	"context"
	"net/netip"
	"slices"
	"time"
)

// maxCandidates bounds the node list one lookup keeps.
const maxCandidates = 8 * K

type candState uint8

const (
	candNew candState = iota
	candInFlight
	candReplied
	candFailed
)

type candidate struct {
	NodeInfo
	state candState
	depth int    // round trip on which we learnt of it (1 for table nodes)
	token string // from get_peers / get
	slow  bool   // in flight past the short timeout
}

// LookupStats describes a finished iterative lookup.
type LookupStats struct {
	// Queried is the number of nodes queried, Replied the number that
	// answered.
	Queried, Replied int
	// RoundTrips is the number of sequential round trips the lookup needed:
	// the deepest hop among the closest nodes that answered.
	RoundTrips int
	// FirstPeerRoundTrip is, for get_peers, the round trip on which the
	// first peer from another node arrived (0 if none did).
	FirstPeerRoundTrip int
	// Closest are the up to K closest nodes that answered.
	Closest []NodeInfo
}

type lookupReply struct {
	c   *candidate
	m   *Msg
	err error
}

// lookup is one iterative Kademlia lookup toward target. It runs on the
// caller's goroutine; responses arrive on a channel.
type lookup struct {
	s       *Server
	self    ID
	target  ID
	method  string
	args    func() *Args
	onReply func(c *candidate, r *Return) // on the lookup goroutine
	cands   []*candidate
	seen    map[netip.AddrPort]bool
	stats   LookupStats
	// seenPeers are the peers a get_peers lookup has reported.
	seenPeers map[netip.AddrPort]bool
}

func (s *Server) newLookup(target ID, method string, args func() *Args, onReply func(*candidate, *Return)) *lookup {
	l := &lookup{s: s, self: s.ID(), target: target, method: method, args: args, onReply: onReply,
		seen: make(map[netip.AddrPort]bool)}
	s.mu.Lock()
	var seed []NodeInfo
	if s.local4 {
		seed = append(seed, s.tables[0].closest(target, 2*K)...)
	}
	if s.local6 {
		seed = append(seed, s.tables[1].closest(target, 2*K)...)
	}
	s.mu.Unlock()
	for _, n := range seed {
		l.add(n, 1)
	}
	return l
}

// add considers a node as a candidate.
func (l *lookup) add(n NodeInfo, depth int) {
	if l.seen[n.Addr] || n.ID == l.self || !l.s.usable(n.Addr) {
		return
	}
	if l.s.cfg.EnforceNodeID && !NodeIDValid(n.ID, n.Addr.Addr()) {
		return
	}
	l.seen[n.Addr] = true
	c := &candidate{NodeInfo: n, depth: depth}
	i, _ := slices.BinarySearchFunc(l.cands, c, func(a, b *candidate) int { return distCmp(l.target, a.ID, b.ID) })
	if i >= maxCandidates {
		return
	}
	l.cands = slices.Insert(l.cands, i, c)
	if len(l.cands) > maxCandidates {
		// Drop the farthest candidate that is not in flight.
		for j := len(l.cands) - 1; j >= 0; j-- {
			if l.cands[j].state != candInFlight {
				l.cands = slices.Delete(l.cands, j, j+1)
				break
			}
		}
	}
}

// next returns the closest unqueried candidate among the K closest live
// ones, or nil; done reports that the K closest live candidates have all
// answered.
func (l *lookup) next() (c *candidate, done bool) {
	live := 0
	done = true
	for _, cd := range l.cands {
		if cd.state == candFailed {
			continue
		}
		live++
		switch cd.state {
		case candNew:
			if c == nil {
				c = cd
			}
			done = false
		case candInFlight:
			done = false
		}
		if live == K {
			break
		}
	}
	return c, done
}

// run drives the lookup to completion or ctx's end. A query that has not
// been answered within a third of the query timeout stops counting against
// Alpha, so that dead nodes slow a lookup down less (it still waits for
// them to time out before deciding they are not among the closest).
func (l *lookup) run(ctx context.Context) (*LookupStats, error) {
	if len(l.cands) == 0 {
		return &l.stats, ErrNoNodes
	}
	alpha := l.s.cfg.Alpha
	slowAfter := l.s.cfg.QueryTimeout / 3
	// Every query sends exactly one final reply; at most maxCandidates+1
	// queries are in flight (in-flight candidates are never dropped), so
	// sends never block even after run returns.
	ch := make(chan lookupReply, maxCandidates+1)
	slow := make(chan *candidate, alpha)
	inflight, slowCount := 0, 0
	for {
		for inflight-slowCount < alpha {
			c, _ := l.next()
			if c == nil {
				break
			}
			c.state = candInFlight
			inflight++
			l.stats.Queried++
			timer := time.AfterFunc(slowAfter, func() {
				select {
				case slow <- c:
				default: // a lost hint only costs speed
				}
			})
			l.s.sendQuery(c.Addr, l.method, l.args(), func(m *Msg, err error) {
				timer.Stop()
				ch <- lookupReply{c, m, err}
			})
		}
		if _, done := l.next(); done || inflight == 0 {
			break
		}
		select {
		case r := <-ch:
			inflight--
			if r.c.slow {
				slowCount--
			}
			l.handle(r)
		case c := <-slow:
			if c.state == candInFlight && !c.slow {
				c.slow = true
				slowCount++
			}
		case <-ctx.Done():
			return &l.stats, ctx.Err()
		}
	}
	if l.stats.Replied == 0 {
		l.s.mu.Lock()
		closed := l.s.closed
		l.s.mu.Unlock()
		if closed {
			return &l.stats, ErrClosed
		}
		return &l.stats, ErrNoResponse
	}
	for _, c := range l.cands {
		if c.state == candReplied {
			l.stats.Closest = append(l.stats.Closest, c.NodeInfo)
			l.stats.RoundTrips = max(l.stats.RoundTrips, c.depth)
			if len(l.stats.Closest) == K {
				break
			}
		}
	}
	return &l.stats, nil
}

func (l *lookup) handle(r lookupReply) {
	c := r.c
	if r.err != nil || r.m.R == nil {
		l.s.log.Debug("dht: lookup query failed", "method", l.method, "node", c.Addr, "err", r.err)
		c.state = candFailed
		return
	}
	rid := ID([]byte(r.m.R.ID))
	if rid != c.ID && !c.ID.IsZero() {
		// It answered with a different ID than the one we were told: keep
		// it under its real ID.
		c.ID = rid
		slices.SortStableFunc(l.cands, func(a, b *candidate) int { return distCmp(l.target, a.ID, b.ID) })
	}
	c.state = candReplied
	c.token = r.m.R.Token
	l.stats.Replied++
	if l.onReply != nil {
		l.onReply(c, r.m.R)
	}
	if nodes, ok := parseCompactNodes(r.m.R.Nodes, false, 2*K); ok {
		for _, n := range nodes {
			l.add(n, c.depth+1)
		}
	}
	if nodes, ok := parseCompactNodes(r.m.R.Nodes6, true, 2*K); ok {
		for _, n := range nodes {
			l.add(n, c.depth+1)
		}
	}
}

// closestWithTokens returns up to K of the closest answering nodes with the
// tokens they gave.
func (l *lookup) closestWithTokens() []*candidate {
	var out []*candidate
	for _, c := range l.cands {
		if c.state == candReplied && c.token != "" {
			out = append(out, c)
			if len(out) == K {
				break
			}
		}
	}
	return out
}

// want returns the BEP 32 "want" list for our socket's families.
func (s *Server) want() []string {
	if s.local4 && s.local6 {
		return []string{"n4", "n6"}
	}
	return nil
}
