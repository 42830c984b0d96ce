package dht

import (
	"net"
	"net/netip"
	"sync"
)

// sentQuery is a query a watchConn saw go out.
type sentQuery struct {
	Method string
	To     netip.AddrPort
	A      *Args
}

// watchConn wraps a server's conn and records the KRPC queries it sends,
// and for those of one method, how many are outstanding (sent and not yet
// answered) at most. A query counts as answered when its
// response is read from the socket, before the server handles it, so the
// outstanding count it sees never exceeds the server's own.
type watchConn struct {
	net.PacketConn
	method string

	mu          sync.Mutex
	outstanding map[string]bool // transaction IDs
	maxOut      int
	sent        []sentQuery
}

func newWatchConn(c net.PacketConn, method string) *watchConn {
	return &watchConn{PacketConn: c, method: method, outstanding: make(map[string]bool)}
}

// WriteTo notes a query, then sends it.
func (w *watchConn) WriteTo(b []byte, addr net.Addr) (int, error) {
	var m Msg
	if to, err := addrPortOf(addr); err == nil && DecodeMsg(b, &m) == nil && m.Y == typeQuery {
		w.mu.Lock()
		if m.Q == w.method {
			w.outstanding[m.T] = true
			w.maxOut = max(w.maxOut, len(w.outstanding))
		}
		w.sent = append(w.sent, sentQuery{m.Q, to, m.A})
		w.mu.Unlock()
	}
	return w.PacketConn.WriteTo(b, addr)
}

// ReadFrom reads a packet and notes the answer to a watched query.
func (w *watchConn) ReadFrom(b []byte) (int, net.Addr, error) {
	n, from, err := w.PacketConn.ReadFrom(b)
	if err == nil {
		var m Msg
		if DecodeMsg(b[:n], &m) == nil && m.Y != typeQuery {
			w.mu.Lock()
			delete(w.outstanding, m.T)
			w.mu.Unlock()
		}
	}
	return n, from, err
}

// reset forgets what was seen so far.
func (w *watchConn) reset() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.maxOut = 0
	w.sent = nil
	clear(w.outstanding)
}

// snapshot returns the highest outstanding count of the watched method
// and the queries of method sent.
func (w *watchConn) snapshot(method string) (maxOut int, sent []sentQuery) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, q := range w.sent {
		if q.Method == method {
			sent = append(sent, q)
		}
	}
	return w.maxOut, sent
}
