package utp

import (
	"context"
	"errors"
	"math/rand/v2"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"
)

// Errors returned by sockets and connections.
var (
	// ErrTimeout: the peer stopped answering (SYN retries, retransmission
	// timeouts or the idle timeout ran out).
	ErrTimeout = errors.New("utp: connection timed out")
	// ErrReset: the peer answered with ST_RESET.
	ErrReset = errors.New("utp: connection reset by peer")
	// ErrTooManyConns: Dial on a socket holding Config.MaxConns
	// connections.
	ErrTooManyConns = errors.New("utp: too many connections")
)

// connKey identifies a connection: the peer's address and our receive ID.
type connKey struct {
	addr netip.AddrPort
	id   uint16
}

// Socket runs uTP over one net.PacketConn, which it owns. Packets that are
// not uTP go to the view returned by PacketConn, so a DHT node and a UDP
// tracker client can share the port. A Socket is safe for concurrent use.
type Socket struct {
	pc    net.PacketConn
	cfg   Config
	start time.Time
	fb    *fallbackConn

	mu       sync.Mutex
	conns    map[connKey]*Conn
	backlog  []*Conn       // accepted from the network, not yet by Accept
	acceptCh chan struct{} // holds a token while backlog is non-empty
	closed   bool

	closing    chan struct{}
	readerDone chan struct{}

	// The Linux fast path of a *net.UDPConn (udp_linux.go): gso while
	// UDP GSO sends work, gro if reads return coalesced datagrams.
	// sendGSO is writeGSO on udp (a seam for tests).
	udp     *net.UDPConn
	gso     atomic.Bool
	gro     bool
	sendGSO func(b []byte, seg int, to *net.UDPAddr) error
	batches sync.Pool // of *gsoBatch

	stats struct {
		packetsIn, packetsOut, fallback, fallbackDropped,
		resetsSent, ignored, invalid, syns, refused, writeErrors,
		retransmits, timeouts, probes atomic.Uint64
	}
}

// NewSocket starts uTP on pc. cfg may be nil. The socket owns pc: Close
// closes it.
func NewSocket(pc net.PacketConn, cfg *Config) *Socket {
	s := &Socket{
		pc:         pc,
		cfg:        cfg.withDefaults(),
		start:      time.Now(),
		conns:      make(map[connKey]*Conn),
		acceptCh:   make(chan struct{}, 1),
		closing:    make(chan struct{}),
		readerDone: make(chan struct{}),
	}
	s.fb = newFallback(s, s.cfg.FallbackQueue)
	// Bursts of a large window overflow the default UDP buffers (about
	// 200 KiB on Linux); ask for more, as far as the system allows.
	if b, ok := pc.(interface{ SetReadBuffer(int) error }); ok {
		_ = b.SetReadBuffer(socketBuffer)
	}
	if b, ok := pc.(interface{ SetWriteBuffer(int) error }); ok {
		_ = b.SetWriteBuffer(socketBuffer)
	}
	if uc, ok := pc.(*net.UDPConn); ok {
		gso, gro := setupUDP(uc)
		s.udp, s.gro = uc, gro
		s.gso.Store(gso)
		s.sendGSO = func(b []byte, seg int, to *net.UDPAddr) error { return writeGSO(uc, b, seg, to) }
	}
	s.batches.New = func() any { return new(gsoBatch) }
	go s.readLoop()
	return s
}

// Addr returns the local address of the socket.
func (s *Socket) Addr() net.Addr { return s.pc.LocalAddr() }

// PacketConn returns the view of the socket through which the packets that
// are not uTP are read, and through which any packet can be written. Its
// Close only closes the view.
func (s *Socket) PacketConn() net.PacketConn { return s.fb }

// now returns the socket's microsecond clock, as sent in timestamps.
func (s *Socket) now() (time.Time, uint32) {
	t := time.Now()
	return t, uint32(t.Sub(s.start).Microseconds())
}

func (s *Socket) readLoop() {
	defer close(s.readerDone)
	buf := make([]byte, 64<<10)
	var oob []byte
	if s.gro {
		oob = make([]byte, 64)
	}
	for {
		n, seg, from, err := s.read(buf, oob)
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			s.shutdown()
			return
		}
		s.handleRead(buf[:n], seg, from)
	}
}

// read reads one datagram; with GRO, several coalesced ones of seg bytes
// each (the last may be shorter), else seg is 0.
func (s *Socket) read(buf, oob []byte) (n, seg int, from net.Addr, err error) {
	if !s.gro {
		n, from, err = s.pc.ReadFrom(buf)
		return n, 0, from, err
	}
	n, oobn, _, ua, err := s.udp.ReadMsgUDP(buf, oob)
	if err != nil {
		return 0, 0, nil, err
	}
	return n, groSegment(oob[:oobn]), ua, nil
}

// handleRead handles what one read returned: a datagram, or with GRO
// several coalesced. The packets of a coalesced read that go to one conn
// are handled as a batch: its acks and sends wait for the batch's end, as
// libtorrent defers acks to the end of each batch read from its socket.
func (s *Socket) handleRead(b []byte, seg int, from net.Addr) {
	if seg <= 0 || seg >= len(b) {
		s.stats.packetsIn.Add(1)
		s.handle(b, from, false)
		return
	}
	var pending *Conn
	splitSegments(b, seg, func(p []byte, _ bool) {
		s.stats.packetsIn.Add(1)
		c := s.handle(p, from, true)
		if pending != nil && c != pending {
			pending.endBatch()
		}
		pending = c
	})
	if pending != nil {
		pending.endBatch()
	}
}

func addrPortOf(a net.Addr) (netip.AddrPort, bool) {
	if u, ok := a.(*net.UDPAddr); ok {
		ap := u.AddrPort()
		return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port()), ap.Addr().IsValid()
	}
	ap, err := netip.ParseAddrPort(a.String())
	return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port()), err == nil
}

// handle dispatches one received packet. With batched, a conn's acks and
// sends wait for its endBatch, and handle returns the conn that needs it.
func (s *Socket) handle(b []byte, from net.Addr, batched bool) *Conn {
	h, payload, err := decodePacket(b)
	addr, ok := addrPortOf(from)
	if errors.Is(err, errExtension) && ok {
		s.stats.invalid.Add(1)
		return nil
	}
	if err != nil || !ok {
		s.fb.deliver(b, from)
		return nil
	}
	if h.typ == stSyn {
		s.handleSyn(&h, addr, from)
		return nil
	}
	s.mu.Lock()
	c := s.conns[connKey{addr, h.connID}]
	if c == nil && h.typ == stReset {
		// A reset may carry our send ID (libutp and libtorrent answer an
		// unknown packet with its own connection ID).
		for _, id := range []uint16{h.connID + 1, h.connID - 1} {
			if cc := s.conns[connKey{addr, id}]; cc != nil && cc.sendID == h.connID {
				c = cc
			}
		}
	}
	s.mu.Unlock()
	if c == nil {
		if h.typ != stReset {
			s.sendReset(h.connID, h.seq, from)
		} else {
			s.stats.ignored.Add(1)
		}
		return nil
	}
	c.receive(&h, payload, batched)
	if batched {
		return c
	}
	return nil
}

func (s *Socket) handleSyn(h *header, addr netip.AddrPort, from net.Addr) {
	s.stats.syns.Add(1)
	key := connKey{addr, h.connID + 1}
	s.mu.Lock()
	if c := s.conns[key]; c != nil {
		s.mu.Unlock()
		c.receive(h, nil, false) // a retransmitted SYN: the conn answers again
		return
	}
	if s.closed || len(s.conns) >= s.cfg.MaxConns || len(s.backlog) >= s.cfg.AcceptBacklog {
		s.mu.Unlock()
		s.stats.refused.Add(1)
		s.sendReset(h.connID, h.seq, from)
		return
	}
	c := newConn(s, key, from, h.connID+1, h.connID)
	// Nobody else can reach c yet, so taking its lock under s.mu cannot
	// deadlock; and Accept never sees it half set up.
	c.acceptSyn(h)
	s.conns[key] = c
	s.backlog = append(s.backlog, c)
	select {
	case s.acceptCh <- struct{}{}:
	default:
	}
	s.mu.Unlock()
}

// sendReset answers a packet of an unknown connection.
func (s *Socket) sendReset(connID, seq uint16, to net.Addr) {
	_, ts := s.now()
	h := header{typ: stReset, connID: connID, timestamp: ts, seq: uint16(rand.Uint32()), ack: seq}
	var buf [headerSize]byte
	s.write(appendPacket(buf[:0], &h, nil), to)
	s.stats.resetsSent.Add(1)
}

func (s *Socket) write(b []byte, to net.Addr) {
	if _, err := s.pc.WriteTo(b, to); err == nil {
		s.stats.packetsOut.Add(1)
	} else {
		s.stats.writeErrors.Add(1) // the retransmission timer resends
	}
}

// Dial opens a uTP connection to addr ("host:port" on UDP) and waits for
// the peer's answer, ctx's end, or ErrTimeout after Config.SynRetries
// resends of the SYN.
func (s *Socket) Dial(ctx context.Context, addr string) (*Conn, error) {
	ua, err := net.ResolveUDPAddr("udp", addr)
	if err != nil {
		return nil, err
	}
	return s.DialAddr(ctx, ua)
}

// DialContext is Dial with the signature of (*net.Dialer).DialContext, so a
// Socket can stand where a dialer of peer connections is expected. network
// is not looked at: the address is dialled over uTP whatever the caller
// names ("tcp" from code written for TCP, "utp", "udp").
func (s *Socket) DialContext(ctx context.Context, network, address string) (net.Conn, error) {
	c, err := s.Dial(ctx, address)
	if err != nil {
		return nil, err
	}
	return c, nil
}

// DialAddr is Dial to a resolved address.
func (s *Socket) DialAddr(ctx context.Context, addr *net.UDPAddr) (*Conn, error) {
	ap, ok := addrPortOf(addr)
	if !ok {
		return nil, &net.AddrError{Err: "invalid address", Addr: addr.String()}
	}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil, net.ErrClosed
	}
	if len(s.conns) >= s.cfg.MaxConns {
		s.mu.Unlock()
		return nil, ErrTooManyConns
	}
	var key connKey
	for {
		id := uint16(rand.Uint32())
		key = connKey{ap, id}
		if s.conns[key] == nil && s.conns[connKey{ap, id + 1}] == nil {
			break
		}
	}
	c := newConn(s, key, addr, key.id, key.id+1)
	s.conns[key] = c
	s.mu.Unlock()
	c.sendSyn()
	select {
	case <-c.established:
		c.mu.Lock()
		err := c.err
		c.mu.Unlock()
		if err != nil {
			return nil, &net.OpError{Op: "dial", Net: "utp", Addr: addr, Err: err}
		}
		return c, nil
	case <-ctx.Done():
		c.abort(ctx.Err(), true)
		return nil, &net.OpError{Op: "dial", Net: "utp", Addr: addr, Err: ctx.Err()}
	}
}

// Accept waits for and returns the next connection a peer opened.
func (s *Socket) Accept() (*Conn, error) {
	for {
		s.mu.Lock()
		for len(s.backlog) > 0 {
			c := s.backlog[0]
			s.backlog[0] = nil
			s.backlog = s.backlog[1:]
			if len(s.backlog) > 0 {
				select {
				case s.acceptCh <- struct{}{}:
				default:
				}
			}
			if s.conns[c.key] == c { // not ended while waiting
				s.mu.Unlock()
				return c, nil
			}
		}
		closed := s.closed
		s.mu.Unlock()
		if closed {
			return nil, &net.OpError{Op: "accept", Net: "utp", Addr: s.Addr(), Err: net.ErrClosed}
		}
		select {
		case <-s.acceptCh:
		case <-s.closing:
		}
	}
}

// Listener returns a net.Listener whose Accept is the socket's and whose
// Close closes the socket.
func (s *Socket) Listener() net.Listener { return listener{s} }

type listener struct{ s *Socket }

func (l listener) Accept() (net.Conn, error) {
	c, err := l.s.Accept()
	if err != nil {
		return nil, err
	}
	return c, nil
}
func (l listener) Close() error   { return l.s.Close() }
func (l listener) Addr() net.Addr { return l.s.Addr() }

// remove forgets c.
func (s *Socket) remove(c *Conn) {
	s.mu.Lock()
	if s.conns[c.key] == c {
		delete(s.conns, c.key)
	}
	s.mu.Unlock()
}

// Close resets every connection, closes the packet conn and waits for the
// socket's goroutine to end. Reads and writes on its conns then fail with
// net.ErrClosed.
func (s *Socket) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return net.ErrClosed
	}
	s.closed = true
	conns := make([]*Conn, 0, len(s.conns))
	for _, c := range s.conns {
		conns = append(conns, c)
	}
	s.mu.Unlock()
	for _, c := range conns {
		c.abort(net.ErrClosed, true)
	}
	err := s.pc.Close()
	<-s.readerDone
	return err
}

// shutdown runs when the packet conn fails or is closed.
func (s *Socket) shutdown() {
	s.mu.Lock()
	wasClosed := s.closed
	s.closed = true
	conns := make([]*Conn, 0, len(s.conns))
	for _, c := range s.conns {
		conns = append(conns, c)
	}
	s.mu.Unlock()
	close(s.closing)
	for _, c := range conns {
		c.abort(net.ErrClosed, !wasClosed)
	}
	s.fb.closeQueue()
}

// Stats are a socket's counters since it started.
type Stats struct {
	Conns           int    // connections held now
	PacketsIn       uint64 // datagrams read from the packet conn
	PacketsOut      uint64 // datagrams written by uTP
	Fallback        uint64 // datagrams that were not uTP, queued for PacketConn
	FallbackDropped uint64 // of those, dropped: the queue was full or the view closed
	ResetsSent      uint64 // ST_RESET answers to unknown connections or refused SYNs
	Ignored         uint64 // uTP packets ignored: stray resets, acks of unsent data, out of window
	Invalid         uint64 // uTP packets whose extension chain runs past their end
	Syns            uint64 // ST_SYN packets received
	Refused         uint64 // SYNs refused: MaxConns, AcceptBacklog or closed
	WriteErrors     uint64 // packets the packet conn failed to send
	Retransmits     uint64 // packets sent again (lost, or timed out)
	Timeouts        uint64 // retransmission timeouts
	TailProbes      uint64 // tail-loss probes: a packet sent again when acks stopped before the timeout
}

// Stats returns the socket's counters.
func (s *Socket) Stats() Stats {
	s.mu.Lock()
	n := len(s.conns)
	s.mu.Unlock()
	return Stats{
		Conns:           n,
		PacketsIn:       s.stats.packetsIn.Load(),
		PacketsOut:      s.stats.packetsOut.Load(),
		Fallback:        s.stats.fallback.Load(),
		FallbackDropped: s.stats.fallbackDropped.Load(),
		ResetsSent:      s.stats.resetsSent.Load(),
		Ignored:         s.stats.ignored.Load(),
		Invalid:         s.stats.invalid.Load(),
		Syns:            s.stats.syns.Load(),
		Refused:         s.stats.refused.Load(),
		WriteErrors:     s.stats.writeErrors.Load(),
		Retransmits:     s.stats.retransmits.Load(),
		Timeouts:        s.stats.timeouts.Load(),
		TailProbes:      s.stats.probes.Load(),
	}
}
