package utp

import (
	"net"
	"os"
	"sync"
	"time"
)

// fallbackConn is the net.PacketConn view of a Socket for the protocols
// sharing its port: ReadFrom returns the datagrams that are not uTP,
// WriteTo writes to the shared packet conn.
type fallbackConn struct {
	s     *Socket
	limit int

	mu     sync.Mutex
	queue  []datagram
	ready  chan struct{} // holds a token while queue is non-empty
	closed chan struct{}
	once   sync.Once
	rdl    deadline
}

type datagram struct {
	b    []byte
	from net.Addr
}

func newFallback(s *Socket, limit int) *fallbackConn {
	f := &fallbackConn{s: s, limit: limit, ready: make(chan struct{}, 1), closed: make(chan struct{})}
	f.rdl.init()
	return f
}

// deliver queues a copy of b; a full queue or a closed view drops it,
// counted in Stats.FallbackDropped.
func (f *fallbackConn) deliver(b []byte, from net.Addr) {
	f.s.stats.fallback.Add(1)
	f.mu.Lock()
	defer f.mu.Unlock()
	select {
	case <-f.closed:
		f.s.stats.fallbackDropped.Add(1)
		return
	default:
	}
	if len(f.queue) >= f.limit {
		f.s.stats.fallbackDropped.Add(1)
		return
	}
	f.queue = append(f.queue, datagram{append([]byte(nil), b...), from})
	select {
	case f.ready <- struct{}{}:
	default:
	}
}

// ReadFrom returns the next datagram that was not uTP.
func (f *fallbackConn) ReadFrom(b []byte) (int, net.Addr, error) {
	for {
		f.mu.Lock()
		select {
		case <-f.closed:
			f.mu.Unlock()
			return 0, nil, f.opErr("read", net.ErrClosed)
		default:
		}
		if f.rdl.expired() {
			f.mu.Unlock()
			return 0, nil, f.opErr("read", os.ErrDeadlineExceeded)
		}
		if len(f.queue) > 0 {
			d := f.queue[0]
			f.queue[0] = datagram{}
			f.queue = f.queue[1:]
			if len(f.queue) > 0 {
				select {
				case f.ready <- struct{}{}:
				default:
				}
			}
			f.mu.Unlock()
			return copy(b, d.b), d.from, nil
		}
		f.mu.Unlock()
		select {
		case <-f.ready:
		case <-f.closed:
		case <-f.rdl.wait():
		}
	}
}

// WriteTo writes b to addr through the shared packet conn.
func (f *fallbackConn) WriteTo(b []byte, addr net.Addr) (int, error) {
	select {
	case <-f.closed:
		return 0, f.opErr("write", net.ErrClosed)
	default:
	}
	return f.s.pc.WriteTo(b, addr)
}

// Close closes the view, not the socket.
func (f *fallbackConn) Close() error {
	err := error(nil)
	select {
	case <-f.closed:
		err = net.ErrClosed
	default:
	}
	f.closeQueue()
	return err
}

func (f *fallbackConn) closeQueue() {
	f.once.Do(func() {
		f.mu.Lock()
		close(f.closed)
		f.queue = nil
		f.mu.Unlock()
		f.rdl.stop()
	})
}

func (f *fallbackConn) LocalAddr() net.Addr { return f.s.pc.LocalAddr() }

// SetDeadline sets the read deadline; writes never block.
func (f *fallbackConn) SetDeadline(t time.Time) error { return f.SetReadDeadline(t) }

func (f *fallbackConn) SetReadDeadline(t time.Time) error { f.rdl.set(t); return nil }

// SetWriteDeadline does nothing: writes never block.
func (f *fallbackConn) SetWriteDeadline(time.Time) error { return nil }

func (f *fallbackConn) opErr(op string, err error) error {
	return &net.OpError{Op: op, Net: "udp", Addr: f.s.pc.LocalAddr(), Err: err}
}
