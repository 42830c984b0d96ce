package dht

import (
	"net/netip"
	"slices"
	"time"
)

// handleQuery answers one decoded query.
func (s *Server) handleQuery(m *Msg, from netip.AddrPort) {
	if s.cfg.ReadOnly {
		return // BEP 43: read-only nodes do not answer
	}
	if !s.allow(from) {
		return
	}
	now := time.Now()
	s.mu.Lock()
	s.stats.QueriesIn++
	id := ID([]byte(m.A.ID))
	if m.RO != 1 && id != s.id && (!s.cfg.EnforceNodeID || NodeIDValid(id, from.Addr())) && s.usable(from) {
		if res, _ := s.tableFor(from).insert(NodeInfo{ID: id, Addr: from}, false, now); res == inserted {
			s.pingLater(from) // verify the newcomer
		}
	}
	r, e := s.answer(m, from, now)
	self := s.id
	s.mu.Unlock()

	reply := &Msg{T: m.T, V: clientVersion, IP: string(appendCompactAddr(nil, from))}
	if e != nil {
		reply.Y, reply.E = typeError, e
	} else {
		r.ID = string(self[:])
		reply.Y, reply.R = typeResponse, r
	}
	if err := s.sendReply(from, reply); err != nil {
		s.log.Debug("dht: reply failed", "to", from, "err", err)
	}
}

// answer computes the response to a query. s.mu held.
func (s *Server) answer(m *Msg, from netip.AddrPort, now time.Time) (*Return, *Error) {
	a := m.A
	switch m.Q {
	case methodPing:
		return &Return{}, nil
	case methodFindNode:
		if len(a.Target) != 20 {
			return nil, &Error{ErrCodeProtocol, "invalid target"}
		}
		r := &Return{}
		s.addNodes(r, ID([]byte(a.Target)), from, a.Want)
		return r, nil
	case methodGetPeers:
		if len(a.InfoHash) != 20 {
			return nil, &Error{ErrCodeProtocol, "invalid info_hash"}
		}
		ih := ID([]byte(a.InfoHash))
		r := &Return{Token: s.tokens.make(from.Addr(), now)}
		max := maxValuesPerReply
		if a.Scrape == 1 {
			if seeds, peers := s.peers.scrape(ih, now); seeds != (bloom{}) || peers != (bloom{}) {
				r.BFsd, r.BFpe = string(seeds[:]), string(peers[:])
				max /= 2 // keep the reply within one datagram
			}
		}
		for _, p := range s.peers.get(ih, max, !from.Addr().Is4(), a.NoSeed == 1, now) {
			r.Values = append(r.Values, string(appendCompactAddr(nil, p)))
		}
		s.addNodes(r, ih, from, a.Want) // nodes too, as libtorrent does: lookups go on
		return r, nil
	case methodAnnouncePeer:
		if len(a.InfoHash) != 20 {
			return nil, &Error{ErrCodeProtocol, "invalid info_hash"}
		}
		if !s.tokens.valid(a.Token, from.Addr(), now) {
			return nil, &Error{ErrCodeProtocol, "bad token"}
		}
		port := from.Port()
		if a.ImpliedPort == 0 {
			if a.Port <= 0 || a.Port > 65535 {
				return nil, &Error{ErrCodeProtocol, "invalid port"}
			}
			port = uint16(a.Port)
		}
		s.peers.add(ID([]byte(a.InfoHash)), netip.AddrPortFrom(from.Addr(), port), a.Seed == 1, now)
		return &Return{}, nil
	case methodGet:
		return s.answerGet(a, from, now)
	case methodPut:
		return s.answerPut(a, from, now)
	case methodSampleInfohashes:
		return s.answerSample(a, from)
	default:
		return nil, &Error{ErrCodeMethodUnknown, "method unknown"}
	}
}

// addNodes fills nodes/nodes6 with the K closest nodes to target: of the
// requester's family, or of those named in want (BEP 32). s.mu held.
func (s *Server) addNodes(r *Return, target ID, from netip.AddrPort, want []string) {
	v4, v6 := from.Addr().Is4(), !from.Addr().Is4()
	if len(want) > 0 {
		v4, v6 = slices.Contains(want, "n4"), slices.Contains(want, "n6")
	}
	if v4 {
		r.Nodes = string(appendCompactNodes(nil, closestExcept(s.tables[0], target, from), false))
	}
	if v6 {
		r.Nodes6 = string(appendCompactNodes(nil, closestExcept(s.tables[1], target, from), true))
	}
}

// closestExcept returns the K closest nodes to target other than the
// requester itself, whom telling about itself would only mislead.
func closestExcept(t *table, target ID, requester netip.AddrPort) []NodeInfo {
	nodes := t.closest(target, K+1)
	nodes = slices.DeleteFunc(nodes, func(n NodeInfo) bool { return n.Addr == requester })
	return nodes[:min(len(nodes), K)]
}
