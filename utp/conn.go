package utp

import (
	"io"
	"net"
	"os"
	"sync"
	"time"
)

type connState int

const (
	stateSynSent   connState = iota // we sent a SYN, no answer yet
	stateSynRecv                    // we answered a SYN, no data yet
	stateConnected                  // established
	stateDead                       // ended: failed, or closed and finished
)

// Conn is a uTP connection. It implements net.Conn; its addresses are
// *net.UDPAddr values. A Conn is safe for concurrent use.
type Conn struct {
	s              *Socket
	key            connKey
	raddr          net.Addr
	recvID, sendID uint16

	established chan struct{} // closed when a dial's handshake ends
	readable    chan struct{} // token: something for Read changed
	writable    chan struct{} // token: something for Write changed
	rdl, wdl    deadline
	timer       *time.Timer

	mu          sync.Mutex
	state       connState
	err         error // why the connection ended, for Read and Write
	localClosed bool  // Close was called
	lingering   bool  // finished; answering retransmitted FINs until lingerUntil
	lingerUntil time.Time
	timerAt     time.Time

	// Sending.
	seq        uint16    // next sequence number
	ackedTo    uint16    // the peer's cumulative ack
	out        []*outPkt // sent, not cumulatively acked, in sequence order
	resends    int       // packets in out marked resend
	sendBuf    sendQueue // written, not yet in a packet
	outBytes   int       // payload bytes in out
	inflight   int       // payload bytes sent and neither acked nor lost
	peerWnd    int
	cc         ledbat
	rtt        rttEstimator
	lossSeq    uint16 // losses of packets up to here belong to the last window cut
	dupAcks    int
	timeouts   int
	rtoAt      time.Time
	finSent    bool
	finAcked   bool
	cwndFull   bool
	replyMicro uint32 // timestamp_difference to send
	lastSend   time.Time
	scratch    []byte
	wb         *gsoBatch // while flush gathers packets for one GSO send

	// Tail-loss probe, and the loss detection its ack starts (probe.go).
	probeAt         time.Time     // when a probe is due
	probing         bool          // a probe is out, its ack awaited
	probeN          int           // probes sent since the last ack
	probeDups       int           // duplicate acks probes may yet cause, not counted as such
	probeSeq        uint16        // the packet sent as the probe
	probeSentAt     time.Time     // when the probe was sent
	probeOrigSentAt time.Time     // when the probe's packet was sent before
	lossBefore      time.Time     // packets sent before this are checked by detectLoss
	lossShift       time.Duration // and lost when unacked this long after their send
	lossAt          time.Time     // the next detectLoss deadline

	// Receiving.
	ack        uint16 // last sequence number received in order
	rbuf       []byte // unread data is rbuf[roff:]
	roff       int
	ooo        map[uint16][]byte // packets past a gap
	oooBytes   int
	finRecv    bool
	finSeq     uint16
	eof        bool
	lastAdvWnd int
	lastRecv   time.Time
	unacked    int       // data packets received since our last ack
	ackAt      time.Time // when a delayed ack is due
	inBatch    bool      // handling a coalesced read: acks and sends wait for endBatch
}

// outPkt is a sent packet kept for retransmission.
type outPkt struct {
	seq      uint16
	typ      uint8
	payload  []byte
	chunk    *chunk // of the send queue, holding payload; released when acked
	sentAt   time.Time
	sends    int
	acked    bool // selectively acked
	inFlight bool // counted in Conn.inflight
	resend   bool // lost: send again when the window allows
}

func newConn(s *Socket, key connKey, raddr net.Addr, recvID, sendID uint16) *Conn {
	now := time.Now()
	c := &Conn{
		s: s, key: key, raddr: raddr, recvID: recvID, sendID: sendID,
		established: make(chan struct{}),
		readable:    make(chan struct{}, 1),
		writable:    make(chan struct{}, 1),
		cc:          newLedbat(s.cfg.TargetDelay, now),
		rtt:         newRTT(),
		lastRecv:    now,
		lastSend:    now,
		ooo:         make(map[uint16][]byte),
		scratch:     make([]byte, 0, MaxPacketSize+2+maxSackBytes),
	}
	c.rdl.init()
	c.wdl.init()
	c.timer = time.AfterFunc(time.Hour, c.onTimer)
	c.timer.Stop()
	return c
}

func kick(ch chan struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}

func (c *Conn) opErr(op string, err error) error {
	return &net.OpError{Op: op, Net: "utp", Source: c.LocalAddr(), Addr: c.raddr, Err: err}
}

// Read reads data the peer sent, in order. It returns io.EOF after the
// peer's FIN and all data before it.
func (c *Conn) Read(b []byte) (int, error) {
	for {
		c.mu.Lock()
		if c.localClosed {
			c.mu.Unlock()
			return 0, c.opErr("read", net.ErrClosed)
		}
		if c.rdl.expired() {
			c.mu.Unlock()
			return 0, c.opErr("read", os.ErrDeadlineExceeded)
		}
		if c.roff < len(c.rbuf) {
			n := copy(b, c.rbuf[c.roff:])
			c.roff += n
			if c.roff == len(c.rbuf) {
				c.rbuf, c.roff = c.rbuf[:0], 0
			}
			if c.state != stateDead && c.recvWindow()-c.lastAdvWnd >= c.s.cfg.RecvBuffer/2 {
				c.sendState() // the window opened: tell the peer
			}
			c.mu.Unlock()
			return n, nil
		}
		if c.eof {
			c.mu.Unlock()
			return 0, io.EOF
		}
		if c.state == stateDead {
			err := c.err
			c.mu.Unlock()
			return 0, c.opErr("read", err)
		}
		if len(b) == 0 {
			c.mu.Unlock()
			return 0, nil
		}
		c.mu.Unlock()
		select {
		case <-c.readable:
		case <-c.rdl.wait():
		}
	}
}

// Write queues b for sending, blocking while the send buffer is full.
// Small writes are coalesced while earlier data is unacknowledged.
func (c *Conn) Write(b []byte) (int, error) {
	written := 0
	for written < len(b) {
		c.mu.Lock()
		if c.localClosed {
			c.mu.Unlock()
			return written, c.opErr("write", net.ErrClosed)
		}
		if c.state == stateDead {
			err := c.err
			c.mu.Unlock()
			return written, c.opErr("write", err)
		}
		if c.wdl.expired() {
			c.mu.Unlock()
			return written, c.opErr("write", os.ErrDeadlineExceeded)
		}
		if space := c.s.cfg.SendBuffer - c.sendBuf.len() - c.outBytes; space > 0 && c.state != stateSynSent {
			n := min(space, len(b)-written)
			c.sendBuf.push(b[written : written+n])
			written += n
			now := time.Now()
			c.flush(now)
			c.arm(now)
			c.mu.Unlock()
			continue
		}
		c.mu.Unlock()
		select {
		case <-c.writable:
		case <-c.wdl.wait():
		}
	}
	return written, nil
}

// Close ends the connection: Read and Write fail from now on, written data
// is still delivered and followed by a FIN, in the background.
func (c *Conn) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.localClosed {
		return c.opErr("close", net.ErrClosed)
	}
	c.localClosed = true
	kick(c.readable)
	kick(c.writable)
	c.rbuf, c.roff = nil, 0
	switch c.state {
	case stateDead:
	case stateSynSent:
		c.fail(net.ErrClosed, true)
	case stateSynRecv:
		// Nothing was sent yet (see flush): end it with a reset.
		c.fail(net.ErrClosed, true)
	default:
		now := time.Now()
		c.flush(now)
		c.checkDone(now)
		c.arm(now)
	}
	return nil
}

// LocalAddr returns the socket's address.
func (c *Conn) LocalAddr() net.Addr { return c.s.pc.LocalAddr() }

// RemoteAddr returns the peer's address.
func (c *Conn) RemoteAddr() net.Addr { return c.raddr }

// SetDeadline sets the read and write deadlines.
func (c *Conn) SetDeadline(t time.Time) error {
	c.rdl.set(t)
	c.wdl.set(t)
	return nil
}

// SetReadDeadline sets the deadline for Read calls, pending ones included.
func (c *Conn) SetReadDeadline(t time.Time) error { c.rdl.set(t); return nil }

// SetWriteDeadline sets the deadline for Write calls, pending ones
// included.
func (c *Conn) SetWriteDeadline(t time.Time) error { c.wdl.set(t); return nil }

// fail ends the connection with err, optionally telling the peer with an
// ST_RESET. Called with c.mu held.
func (c *Conn) fail(err error, reset bool) {
	if c.state == stateDead {
		if c.lingering {
			c.lingering = false
			c.timer.Stop()
			c.s.remove(c)
		}
		return
	}
	if reset && c.state != stateSynSent {
		c.sendPacket(stReset, c.seq, nil, nil)
	}
	c.state = stateDead
	c.err = err
	c.timer.Stop()
	c.rdl.stop()
	c.wdl.stop()
	c.out, c.ooo, c.resends = nil, nil, 0
	c.sendBuf.reset()
	select {
	case <-c.established:
	default:
		close(c.established)
	}
	kick(c.readable)
	kick(c.writable)
	c.s.remove(c)
}

// abort is fail from outside the conn.
func (c *Conn) abort(err error, reset bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.fail(err, reset)
}
