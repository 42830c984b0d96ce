package tracker

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"os"
	"sync"
	"time"
)

// memNet is an in-memory UDP network for tests. Blocking reads wait on
// channels and deadlines use timers, so it works inside synctest bubbles.
type memNet struct {
	mu       sync.Mutex
	sockets  map[netip.AddrPort]*memConn
	nextPort uint16
	// drop, if set, decides whether a datagram is lost.
	drop func(from, to netip.AddrPort, pkt []byte) bool
	// delay, if set, is how long a datagram takes to arrive.
	delay func(from, to netip.AddrPort, pkt []byte) time.Duration
	sent  []memPkt // every datagram sent, lost or not
}

type memPkt struct {
	from, to netip.AddrPort
	data     []byte
	at       time.Time
}

func newMemNet() *memNet {
	return &memNet{sockets: make(map[netip.AddrPort]*memConn), nextPort: 40000}
}

func (n *memNet) listen(addr netip.AddrPort) *memConn {
	n.mu.Lock()
	defer n.mu.Unlock()
	if addr.Port() == 0 {
		n.nextPort++
		addr = netip.AddrPortFrom(addr.Addr(), n.nextPort)
	}
	c := &memConn{net: n, local: addr, in: make(chan memPkt, 64), closed: make(chan struct{}), dl: make(chan struct{}), changed: make(chan struct{})}
	n.sockets[addr] = c
	return c
}

// dialer returns a Config.Dial that connects from local to the named address.
func (n *memNet) dialer(local netip.Addr) func(context.Context, string, string) (net.Conn, error) {
	return func(_ context.Context, _, address string) (net.Conn, error) {
		to, err := netip.ParseAddrPort(address)
		if err != nil {
			return nil, err
		}
		c := n.listen(netip.AddrPortFrom(local, 0))
		c.remote = to
		return c, nil
	}
}

func (n *memNet) packets() []memPkt {
	n.mu.Lock()
	defer n.mu.Unlock()
	return append([]memPkt(nil), n.sent...)
}

func (n *memNet) send(from, to netip.AddrPort, b []byte) {
	pkt := memPkt{from: from, to: to, data: append([]byte(nil), b...), at: time.Now()}
	n.mu.Lock()
	n.sent = append(n.sent, pkt)
	dst := n.sockets[to]
	lost := n.drop != nil && n.drop(from, to, b)
	var d time.Duration
	if n.delay != nil {
		d = n.delay(from, to, b)
	}
	n.mu.Unlock()
	if dst == nil || lost {
		return
	}
	if d > 0 {
		time.AfterFunc(d, func() { dst.deliver(pkt) })
		return
	}
	dst.deliver(pkt)
}

// deliver queues pkt unless the socket is closed or its queue full.
func (c *memConn) deliver(pkt memPkt) {
	select {
	case c.in <- pkt:
	case <-c.closed:
	default: // queue full: lost, as UDP would
	}
}

type memConn struct {
	net    *memNet
	local  netip.AddrPort
	remote netip.AddrPort // valid for dialed sockets
	in     chan memPkt

	closeOnce sync.Once
	closed    chan struct{}

	mu      sync.Mutex
	dl      chan struct{} // closed when the read deadline passes
	changed chan struct{} // closed when the deadline is replaced
	timer   *time.Timer
}

var errMemClosed = errors.New("memnet: closed")

func (c *memConn) ReadFrom(b []byte) (int, net.Addr, error) {
	for {
		c.mu.Lock()
		dl, changed := c.dl, c.changed
		c.mu.Unlock()
		select {
		case <-c.closed:
			return 0, nil, errMemClosed
		case <-dl:
			return 0, nil, os.ErrDeadlineExceeded
		case <-changed: // a new deadline applies to this blocked read too
		case p := <-c.in:
			return copy(b, p.data), net.UDPAddrFromAddrPort(p.from), nil
		}
	}
}

func (c *memConn) Read(b []byte) (int, error) {
	for {
		n, from, err := c.ReadFrom(b)
		if err != nil {
			return n, err
		}
		if from.(*net.UDPAddr).AddrPort() == c.remote {
			return n, nil
		}
	}
}

func (c *memConn) WriteTo(b []byte, to net.Addr) (int, error) {
	select {
	case <-c.closed:
		return 0, errMemClosed
	default:
	}
	c.net.send(c.local, to.(*net.UDPAddr).AddrPort(), b)
	return len(b), nil
}

func (c *memConn) Write(b []byte) (int, error) {
	return c.WriteTo(b, net.UDPAddrFromAddrPort(c.remote))
}

func (c *memConn) Close() error {
	c.closeOnce.Do(func() {
		close(c.closed)
		c.net.mu.Lock()
		delete(c.net.sockets, c.local)
		c.net.mu.Unlock()
		c.mu.Lock()
		if c.timer != nil {
			c.timer.Stop()
		}
		c.mu.Unlock()
	})
	return nil
}

func (c *memConn) LocalAddr() net.Addr  { return net.UDPAddrFromAddrPort(c.local) }
func (c *memConn) RemoteAddr() net.Addr { return net.UDPAddrFromAddrPort(c.remote) }

func (c *memConn) SetDeadline(t time.Time) error      { return c.SetReadDeadline(t) }
func (c *memConn) SetWriteDeadline(t time.Time) error { return nil }

func (c *memConn) SetReadDeadline(t time.Time) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.timer != nil {
		c.timer.Stop()
		c.timer = nil
	}
	ch := make(chan struct{})
	c.dl = ch
	close(c.changed)
	c.changed = make(chan struct{})
	switch {
	case t.IsZero():
	case !t.After(time.Now()):
		close(ch)
	default:
		c.timer = time.AfterFunc(time.Until(t), func() { close(ch) })
	}
	return nil
}
