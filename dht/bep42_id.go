package dht

import (
	"math/rand/v2"
	"net/netip"
	"time"
)

// External IP voting (BEP 42).
const (
	// maxVoters bounds the responders whose view of our IP we remember.
	maxVoters = 256
	// minVotes is how many distinct responders must agree on our external
	// IP before we derive our node ID from it.
	minVotes = 5
)

// vote records that the responder at voter sees us as ip, and adopts a
// BEP 42 node ID once enough responders agree. s.mu held.
func (s *Server) vote(voter, ip netip.Addr) {
	voter, ip = voter.Unmap(), ip.Unmap()
	if _, ok := s.voters[voter]; !ok && len(s.voters) >= maxVoters {
		for k := range s.voters { // forget one at random
			delete(s.voters, k)
			break
		}
	}
	s.voters[voter] = ip
	if !s.cfg.NodeID.IsZero() {
		return // the caller chose our ID
	}
	ext, n := s.externalIP()
	if n < minVotes || 2*n <= len(s.voters) || bep42Exempt(ext) || NodeIDValid(s.id, ext) {
		return
	}
	s.setID(NodeIDForIP(ext, byte(rand.IntN(256))))
	s.log.Debug("dht: adopted a BEP 42 node ID", "ip", ext, "id", s.id)
}

// externalIP returns the IP most voters report and how many do. s.mu held.
func (s *Server) externalIP() (netip.Addr, int) {
	count := make(map[netip.Addr]int, 4)
	var best netip.Addr
	n := 0
	for _, ip := range s.voters {
		count[ip]++
		if c := count[ip]; c > n {
			best, n = ip, c
		}
	}
	return best, n
}

// setID changes our node ID and rebuilds the routing tables around it,
// keeping every node and its state. s.mu held.
func (s *Server) setID(id ID) {
	s.id = id
	now := time.Now()
	for i, old := range s.tables {
		t := newTable(id, now)
		t.restrictIPs = old.restrictIPs
		for _, b := range old.buckets {
			for _, n := range b.nodes {
				if res, _ := t.insert(n.NodeInfo, !n.lastReply.IsZero(), now); res == inserted {
					*t.lookup(n.ID) = *n
				}
			}
		}
		s.tables[i] = t
	}
}
