package dht

import (
	"context"
	"encoding/binary"
	"math/rand/v2"
	"net/netip"
	"time"
)

// transaction is a query waiting for its response.
type transaction struct {
	addr   netip.AddrPort
	method string
	timer  *time.Timer
	cb     func(*Msg, error) // called exactly once, never under s.mu
}

// sendQuery sends a query to addr and calls cb with the response (a Msg of
// type "r"), a *Error, ErrTimeout or ErrClosed. It never blocks on the
// network beyond the socket write.
func (s *Server) sendQuery(addr netip.AddrPort, method string, a *Args, cb func(*Msg, error)) {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		cb(nil, ErrClosed)
		return
	}
	var tb [4]byte
	var t string
	for {
		binary.BigEndian.PutUint32(tb[:], rand.Uint32())
		t = string(tb[:])
		if _, ok := s.txs[t]; !ok {
			break
		}
	}
	a.ID = string(s.id[:])
	tx := &transaction{addr: addr, method: method, cb: cb}
	tx.timer = time.AfterFunc(s.cfg.QueryTimeout, func() { s.expire(t, tx) })
	s.txs[t] = tx
	s.stats.QueriesOut++
	s.mu.Unlock()
	m := &Msg{T: t, Y: typeQuery, Q: method, A: a, V: clientVersion}
	if s.cfg.ReadOnly {
		m.RO = 1
	}
	if err := s.send(addr, m); err != nil {
		if s.take(t, tx) {
			cb(nil, err)
		}
	}
}

// take removes tx from the pending set, reporting whether it was still
// pending (so that exactly one party completes it).
func (s *Server) take(t string, tx *transaction) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.txs[t] != tx {
		return false
	}
	delete(s.txs, t)
	tx.timer.Stop()
	return true
}

func (s *Server) expire(t string, tx *transaction) {
	s.mu.Lock()
	if s.txs[t] != tx {
		s.mu.Unlock()
		return
	}
	delete(s.txs, t)
	s.stats.Timeouts++
	s.markFailed(tx.addr)
	s.mu.Unlock()
	tx.cb(nil, ErrTimeout)
}

// markFailed records a failed query to addr in the routing table. s.mu held.
func (s *Server) markFailed(addr netip.AddrPort) {
	t := s.tableFor(addr)
	for _, b := range t.buckets {
		for _, n := range b.nodes {
			if n.Addr == addr {
				t.failed(n.ID, addr)
				return
			}
		}
	}
}

// handleReply completes the transaction a response or error answers.
func (s *Server) handleReply(m *Msg, from netip.AddrPort) {
	s.mu.Lock()
	tx := s.txs[m.T]
	if tx == nil || tx.addr != from {
		s.stats.UnknownTransactions++
		s.mu.Unlock()
		return
	}
	delete(s.txs, m.T)
	tx.timer.Stop()
	if m.Y == typeResponse {
		s.noteResponder(m, from)
	}
	s.mu.Unlock()
	if m.Y == typeError {
		tx.cb(nil, m.E)
		return
	}
	tx.cb(m, nil)
}

// noteResponder adds a responding node to the routing table and counts its
// vote on our external IP. s.mu held.
func (s *Server) noteResponder(m *Msg, from netip.AddrPort) {
	if ip, ok := parseCompactAddr([]byte(m.IP)); ok && ip.Addr().IsValid() {
		s.vote(from.Addr(), ip.Addr())
	}
	if m.RO == 1 {
		return // BEP 43: read-only nodes stay out of routing tables
	}
	id := ID([]byte(m.R.ID))
	if s.cfg.EnforceNodeID && !NodeIDValid(id, from.Addr()) {
		return
	}
	t := s.tableFor(from)
	t.forgetAddr(from, id)
	if _, ping := t.insert(NodeInfo{ID: id, Addr: from}, true, time.Now()); ping != nil {
		s.pingLater(ping.Addr)
	}
}

// pingLater queues a ping whose only purpose is to update the routing
// table (on answer via noteResponder, on timeout via markFailed). s.mu may
// be held. The queue is bounded: under a flood of newcomers, pings that do
// not fit are skipped, and those nodes simply stay unverified.
func (s *Server) pingLater(addr netip.AddrPort) {
	select {
	case s.pings <- addr:
	default:
	}
}

// pinger sends the queued pings until the server closes.
func (s *Server) pinger() {
	defer s.wg.Done()
	for {
		select {
		case <-s.done:
			return
		case addr := <-s.pings:
			s.sendQuery(addr, methodPing, &Args{}, func(*Msg, error) {})
		}
	}
}

// query sends one query and waits for its outcome.
func (s *Server) query(ctx context.Context, addr netip.AddrPort, method string, a *Args) (*Msg, error) {
	type result struct {
		m   *Msg
		err error
	}
	ch := make(chan result, 1)
	s.sendQuery(addr, method, a, func(m *Msg, err error) { ch <- result{m, err} })
	select {
	case r := <-ch:
		return r.m, r.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}
