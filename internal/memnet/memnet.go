package memnet

import (
	"errors"
	"net"
	"net/netip"
	"os"
	"sync"
	"time"
)

// Errors returned by the network.
var (
	// ErrAddrInUse is returned by Listen when the address is already bound.
	ErrAddrInUse = errors.New("memnet: address already in use")
	// ErrBadAddr is returned by Listen and WriteTo for an address that is not
	// a valid IP address and port.
	ErrBadAddr = errors.New("memnet: invalid address")
	// ErrTooLarge is returned by WriteTo for a packet over MaxPacket bytes.
	ErrTooLarge = errors.New("memnet: packet too large")
)

// Default limits.
const (
	DefaultQueueLen  = 256
	DefaultMaxPacket = 65507
)

// Config configures a Network. The zero value (or nil) works.
type Config struct {
	// Latency delays every packet by this much. If zero, packets are queued
	// at the receiver immediately.
	Latency time.Duration
	// QueueLen bounds each conn's receive queue in packets; packets arriving
	// at a full queue are dropped. If zero, DefaultQueueLen.
	QueueLen int
	// MaxPacket bounds a packet's size. If zero, DefaultMaxPacket.
	MaxPacket int
	// Drop, if not nil, is asked about every packet; returning true loses it.
	Drop func(from, to netip.AddrPort, b []byte) bool
}

// Network is a set of in-memory packet conns that can reach each other.
// It is safe for concurrent use.
type Network struct {
	cfg Config

	mu       sync.Mutex
	conns    map[netip.AddrPort]*PacketConn
	nextPort uint16
	sent     uint64
	dropped  uint64
}

// New returns an empty network. cfg may be nil.
func New(cfg *Config) *Network {
	n := &Network{conns: make(map[netip.AddrPort]*PacketConn), nextPort: 49152}
	if cfg != nil {
		n.cfg = *cfg
	}
	if n.cfg.QueueLen <= 0 {
		n.cfg.QueueLen = DefaultQueueLen
	}
	if n.cfg.MaxPacket <= 0 {
		n.cfg.MaxPacket = DefaultMaxPacket
	}
	return n
}

// Listen binds a new conn to addr. A zero port picks a free one.
func (n *Network) Listen(addr netip.AddrPort) (*PacketConn, error) {
	if !addr.Addr().IsValid() {
		return nil, ErrBadAddr
	}
	addr = netip.AddrPortFrom(addr.Addr().Unmap(), addr.Port())
	n.mu.Lock()
	defer n.mu.Unlock()
	if addr.Port() == 0 {
		for i := 0; ; i++ {
			if i == 1<<16 {
				return nil, ErrAddrInUse
			}
			p := n.nextPort
			n.nextPort++
			if n.nextPort == 0 {
				n.nextPort = 1024
			}
			cand := netip.AddrPortFrom(addr.Addr(), p)
			if _, ok := n.conns[cand]; !ok && p != 0 {
				addr = cand
				break
			}
		}
	}
	if _, ok := n.conns[addr]; ok {
		return nil, ErrAddrInUse
	}
	c := &PacketConn{
		net:    n,
		addr:   addr,
		ready:  make(chan struct{}, 1),
		closed: make(chan struct{}),
	}
	c.readDL.init()
	n.conns[addr] = c
	return c, nil
}

// Stats reports how many packets were sent and how many of them were
// dropped (no listener, full queue, or Config.Drop).
func (n *Network) Stats() (sent, dropped uint64) {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.sent, n.dropped
}

func (n *Network) send(from, to netip.AddrPort, b []byte) {
	n.mu.Lock()
	n.sent++
	dst := n.conns[to]
	drop := dst == nil || (n.cfg.Drop != nil && n.cfg.Drop(from, to, b))
	if drop {
		n.dropped++
	}
	n.mu.Unlock()
	if drop {
		return
	}
	p := packet{from: from, data: append([]byte(nil), b...)}
	if n.cfg.Latency > 0 {
		time.AfterFunc(n.cfg.Latency, func() { n.deliver(dst, p) })
		return
	}
	n.deliver(dst, p)
}

func (n *Network) deliver(dst *PacketConn, p packet) {
	if !dst.enqueue(p, n.cfg.QueueLen) {
		n.mu.Lock()
		n.dropped++
		n.mu.Unlock()
	}
}

func (n *Network) remove(c *PacketConn) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.conns[c.addr] == c {
		delete(n.conns, c.addr)
	}
}

type packet struct {
	from netip.AddrPort
	data []byte
}

// PacketConn is one endpoint of a Network. It implements net.PacketConn;
// its addresses are *net.UDPAddr values.
type PacketConn struct {
	net  *Network
	addr netip.AddrPort

	mu     sync.Mutex
	queue  []packet
	ready  chan struct{} // holds a token while queue is non-empty
	closed chan struct{}
	once   sync.Once
	readDL deadline
	wrDL   deadline
}

var _ net.PacketConn = (*PacketConn)(nil)

func (c *PacketConn) enqueue(p packet, limit int) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	select {
	case <-c.closed:
		return false
	default:
	}
	if len(c.queue) >= limit {
		return false
	}
	c.queue = append(c.queue, p)
	select {
	case c.ready <- struct{}{}:
	default:
	}
	return true
}

// ReadFrom reads the next packet, blocking until one arrives, the conn is
// closed (net.ErrClosed) or the read deadline passes (os.ErrDeadlineExceeded).
// A packet longer than b is truncated.
func (c *PacketConn) ReadFrom(b []byte) (int, net.Addr, error) {
	n, from, err := c.ReadFromAddrPort(b)
	if err != nil {
		return 0, nil, err
	}
	return n, net.UDPAddrFromAddrPort(from), nil
}

// ReadFromAddrPort is ReadFrom returning a netip.AddrPort.
func (c *PacketConn) ReadFromAddrPort(b []byte) (int, netip.AddrPort, error) {
	for {
		c.mu.Lock()
		select {
		case <-c.closed:
			c.mu.Unlock()
			return 0, netip.AddrPort{}, c.opErr("read", net.ErrClosed)
		default:
		}
		if len(c.queue) > 0 {
			p := c.queue[0]
			c.queue[0] = packet{}
			c.queue = c.queue[1:]
			if len(c.queue) == 0 {
				c.queue = nil
			} else {
				select {
				case c.ready <- struct{}{}:
				default:
				}
			}
			c.mu.Unlock()
			return copy(b, p.data), p.from, nil
		}
		c.mu.Unlock()
		select {
		case <-c.ready:
		case <-c.closed:
		case <-c.readDL.wait():
			return 0, netip.AddrPort{}, c.opErr("read", os.ErrDeadlineExceeded)
		}
	}
}

// WriteTo sends b to addr, which must be a *net.UDPAddr or another net.Addr
// whose String is an IP:port. It never blocks.
func (c *PacketConn) WriteTo(b []byte, addr net.Addr) (int, error) {
	var to netip.AddrPort
	switch a := addr.(type) {
	case *net.UDPAddr:
		to = a.AddrPort()
	case nil:
		return 0, c.opErr("write", ErrBadAddr)
	default:
		var err error
		if to, err = netip.ParseAddrPort(a.String()); err != nil {
			return 0, c.opErr("write", ErrBadAddr)
		}
	}
	return c.WriteToAddrPort(b, to)
}

// WriteToAddrPort is WriteTo taking a netip.AddrPort.
func (c *PacketConn) WriteToAddrPort(b []byte, to netip.AddrPort) (int, error) {
	select {
	case <-c.closed:
		return 0, c.opErr("write", net.ErrClosed)
	case <-c.wrDL.wait():
		return 0, c.opErr("write", os.ErrDeadlineExceeded)
	default:
	}
	if !to.Addr().IsValid() {
		return 0, c.opErr("write", ErrBadAddr)
	}
	if len(b) > c.net.cfg.MaxPacket {
		return 0, c.opErr("write", ErrTooLarge)
	}
	to = netip.AddrPortFrom(to.Addr().Unmap(), to.Port())
	c.net.send(c.addr, to, b)
	return len(b), nil
}

// Close unbinds the conn; blocked reads return net.ErrClosed.
func (c *PacketConn) Close() error {
	err := c.opErr("close", net.ErrClosed)
	c.once.Do(func() {
		c.mu.Lock()
		close(c.closed)
		c.queue = nil
		c.mu.Unlock()
		c.readDL.set(time.Time{})
		c.wrDL.set(time.Time{})
		c.net.remove(c)
		err = nil
	})
	return err
}

// LocalAddr returns the conn's address as a *net.UDPAddr.
func (c *PacketConn) LocalAddr() net.Addr { return net.UDPAddrFromAddrPort(c.addr) }

// AddrPort returns the conn's address.
func (c *PacketConn) AddrPort() netip.AddrPort { return c.addr }

// SetDeadline sets both deadlines.
func (c *PacketConn) SetDeadline(t time.Time) error {
	c.readDL.set(t)
	c.wrDL.set(t)
	return nil
}

// SetReadDeadline sets the read deadline; it also applies to a read already
// blocked. A zero t means no deadline.
func (c *PacketConn) SetReadDeadline(t time.Time) error { c.readDL.set(t); return nil }

// SetWriteDeadline sets the write deadline. Writes never block, so it only
// makes writes after t fail.
func (c *PacketConn) SetWriteDeadline(t time.Time) error { c.wrDL.set(t); return nil }

func (c *PacketConn) opErr(op string, err error) error {
	return &net.OpError{Op: op, Net: "udp", Addr: net.UDPAddrFromAddrPort(c.addr), Err: err}
}

// deadline is a channel that is closed when a settable time passes.
type deadline struct {
	mu     sync.Mutex
	timer  *time.Timer
	expire chan struct{} // closed when the deadline passes
}

func (d *deadline) init() { d.expire = make(chan struct{}) }

func (d *deadline) set(t time.Time) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.expire == nil {
		d.expire = make(chan struct{})
	}
	if d.timer != nil && !d.timer.Stop() {
		<-d.expire // the timer fired or is firing; wait for it to close expire
	}
	d.timer = nil
	select {
	case <-d.expire:
		d.expire = make(chan struct{})
	default:
	}
	if t.IsZero() {
		return
	}
	dur := time.Until(t)
	if dur <= 0 {
		close(d.expire)
		return
	}
	ch := d.expire
	d.timer = time.AfterFunc(dur, func() { close(ch) })
}

func (d *deadline) wait() <-chan struct{} {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.expire == nil {
		d.expire = make(chan struct{})
	}
	return d.expire
}
