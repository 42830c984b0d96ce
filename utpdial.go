package bittern

import (
	"context"
	"errors"
	"net"
	"sync"

	"github.com/bittern/bittern/peerwire"
)

// maxTransportMemory bounds the addresses whose working transport the
// session remembers; when full, the memory starts over.
const maxTransportMemory = 4096

// transport is a way to reach a peer.
type transport uint8

const (
	transportTCP transport = iota + 1
	transportUTP
)

func (tr transport) String() string {
	if tr == transportUTP {
		return "utp"
	}
	return "tcp"
}

// transportMemory remembers, per peer address, the transport to try first.
type transportMemory struct {
	mu sync.Mutex
	m  map[string]transport
}

// get returns the transport remembered for addr, or 0.
func (tm *transportMemory) get(addr string) transport {
	tm.mu.Lock()
	defer tm.mu.Unlock()
	return tm.m[addr]
}

// set remembers tr for addr; if hint, only when nothing is remembered yet.
func (tm *transportMemory) set(addr string, tr transport, hint bool) {
	tm.mu.Lock()
	defer tm.mu.Unlock()
	if _, ok := tm.m[addr]; ok && hint {
		return
	}
	if tm.m == nil || len(tm.m) >= maxTransportMemory {
		tm.m = make(map[string]transport)
	}
	tm.m[addr] = tr
}

// dialPeer opens a connection to a peer. Without uTP it is a TCP dial
// through Config.Dialer. With uTP it tries the transport remembered for
// addr (else uTP, or TCP with Config.PreferTCP) for at most
// Config.UTPConnectTimeout, then the other one, and remembers the one
// that connected.
func (s *Session) dialPeer(ctx context.Context, addr string) (net.Conn, error) {
	if s.utp == nil {
		return s.cfg.Dialer.DialContext(ctx, "tcp", addr)
	}
	first := s.transports.get(addr)
	if first == 0 {
		first = transportUTP
		if s.cfg.PreferTCP {
			first = transportTCP
		}
	}
	conn, err := s.dialTransport(ctx, first, addr, true)
	if err == nil {
		s.transports.set(addr, first, false)
		return conn, nil
	}
	if ctx.Err() != nil {
		return nil, err
	}
	second := transportTCP
	if first == transportTCP {
		second = transportUTP
	}
	s.cfg.Logger.Debug("dial failed; trying the other transport", "peer", addr, "transport", first, "err", err, "next", second)
	conn, err2 := s.dialTransport(ctx, second, addr, false)
	if err2 != nil {
		return nil, errors.Join(err, err2)
	}
	s.transports.set(addr, second, false)
	return conn, nil
}

// dialTransport dials addr over tr, bounded by Config.UTPConnectTimeout
// if bounded.
func (s *Session) dialTransport(ctx context.Context, tr transport, addr string, bounded bool) (net.Conn, error) {
	if bounded {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, s.cfg.UTPConnectTimeout)
		defer cancel()
	}
	if tr == transportUTP {
		c, err := s.utp.Dial(ctx, addr)
		if err != nil {
			return nil, err
		}
		return c, nil
	}
	return s.cfg.Dialer.DialContext(ctx, "tcp", addr)
}

// pexTransportHint notes, for a peer address learnt from PEX (BEP 11)
// that has no remembered transport yet, the one to try first: uTP if the
// sender flags the peer as supporting it, else TCP.
func (s *Session) pexTransportHint(p peerwire.PEXPeer) {
	if s.utp == nil {
		return
	}
	tr := transportTCP
	if p.Flags&peerwire.PEXUTP != 0 {
		tr = transportUTP
	}
	s.transports.set(p.Addr.String(), tr, true)
}
