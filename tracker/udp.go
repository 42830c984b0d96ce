package tracker

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/url"
	"sync"
	"time"

	"github.com/bittern/bittern/metainfo"
)

// UDPTracker is a BEP 15 UDP tracker client. Each request opens its own
// socket, so an idle client holds no file descriptor; the connection ID is
// kept and reused for one minute across requests to the same tracker
// address, as trackers bind it to the client's IP address (should a tracker
// refuse it, a new one is obtained once within the request). Requests to
// the same tracker are sent one at a time. Safe for concurrent use.
type UDPTracker struct {
	url     string
	host    string // host:port to dial
	urlData string // BEP 41 path and query, "" if none
	cfg     Config

	sem    chan struct{} // held while one exchange runs; guards the fields below
	ipv6   bool
	connID uint64
	idAt   time.Time // when connID was received; zero if none
	idAddr string    // the tracker address connID is for

	mu     sync.Mutex // guards conn and closed, so Close interrupts an exchange
	conn   net.Conn
	closed bool
}

// NewUDP returns a client for a udp://host:port[/path] announce URL. A path
// and query are sent with each announce as BEP 41 URL data. cfg may be nil.
func NewUDP(announceURL string, cfg *Config) (*UDPTracker, error) {
	u, err := url.Parse(announceURL)
	if err != nil {
		return nil, fmt.Errorf("tracker: %w", err)
	}
	if u.Scheme != "udp" {
		return nil, fmt.Errorf("%w: %q", ErrUnsupportedScheme, u.Scheme)
	}
	if u.Port() == "" || u.Hostname() == "" {
		return nil, fmt.Errorf("tracker: %q: UDP tracker URL needs a host and port", announceURL)
	}
	t := &UDPTracker{url: announceURL, host: u.Host, cfg: cfg.orDefault(), sem: make(chan struct{}, 1)}
	if ru := u.RequestURI(); ru != "/" {
		t.urlData = ru
	}
	if len(t.urlData) > maxURLData {
		return nil, fmt.Errorf("tracker: %q: path and query longer than %d bytes", announceURL, maxURLData)
	}
	return t, nil
}

// URL returns the announce URL.
func (t *UDPTracker) URL() string { return t.url }

// Close closes the socket: a request in flight fails at once, later ones
// fail with an error too.
func (t *UDPTracker) Close() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.closed = true
	if t.conn != nil {
		err := t.conn.Close()
		t.conn = nil
		return err
	}
	return nil
}

// socket dials the socket for one exchange; release closes it.
func (t *UDPTracker) socket(ctx context.Context) (net.Conn, error) {
	t.mu.Lock()
	closed := t.closed
	t.mu.Unlock()
	if closed {
		return nil, ErrClosed
	}
	c, err := t.cfg.Dial(ctx, "udp", t.host)
	if err != nil {
		return nil, fmt.Errorf("tracker: %s: %w", t.url, err)
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		_ = c.Close()
		return nil, ErrClosed
	}
	t.conn = c
	remote := c.RemoteAddr().String()
	t.ipv6 = false
	if ap, ok := addrPortOf(c.RemoteAddr()); ok {
		t.ipv6 = ap.Addr().Unmap().Is6()
	}
	if remote != t.idAddr { // the name resolved to another tracker
		t.idAt, t.idAddr = time.Time{}, remote
	}
	return c, nil
}

// release closes an exchange's socket.
func (t *UDPTracker) release(c net.Conn) {
	t.mu.Lock()
	if t.conn == c {
		t.conn = nil
	}
	t.mu.Unlock()
	_ = c.Close()
}

// Announce sends an announce and returns the tracker's answer. A tracker
// error packet is a *FailureError; no reply after all retransmissions is
// ErrTimeout.
func (t *UDPTracker) Announce(ctx context.Context, req AnnounceRequest) (resp *AnnounceResponse, err error) {
	defer func() { logAnnounce(ctx, t.cfg.Logger, t.url, &req, resp, err) }()
	a := udpAnnounce{
		infoHash:   req.InfoHash,
		peerID:     req.PeerID,
		downloaded: req.Downloaded,
		left:       req.Left,
		uploaded:   req.Uploaded,
		event:      req.Event,
		key:        req.Key,
		numWant:    udpNumWant(req),
		port:       req.Port,
		urlData:    t.urlData,
	}
	if ip := req.IP.Unmap(); ip.Is4() {
		a.ip = ip.As4()
	}
	ip4 := a.ip
	r, err := t.exchange(ctx, actionAnnounce, func(b []byte, connID uint64, tid uint32) []byte {
		a.connID, a.tid = connID, tid
		// Over IPv6 the 32-bit IP field cannot name us and is sent as 0
		// (BEP 15); t.ipv6 is the family of this exchange's socket.
		a.ip = ip4
		if t.ipv6 {
			a.ip = [4]byte{}
		}
		return appendUDPAnnounce(b, &a)
	})
	if err != nil {
		return nil, err
	}
	interval := time.Duration(min(r.interval, uint32(maxInterval/time.Second))) * time.Second
	if interval == 0 {
		interval = defaultInterval
	}
	return &AnnounceResponse{
		Interval: interval,
		Seeders:  clampInt(r.seeders),
		Leechers: clampInt(r.leechers),
		Peers:    dedupPeers(r.peers),
	}, nil
}

func udpNumWant(req AnnounceRequest) int32 {
	switch {
	case req.Event == EventStopped || req.NumWant < 0:
		return 0
	case req.NumWant == 0:
		return -1
	case req.NumWant > 1<<20:
		return 1 << 20
	}
	return int32(req.NumWant)
}

// Scrape asks for the counts of up to MaxScrapeHashes swarms.
func (t *UDPTracker) Scrape(ctx context.Context, hashes ...metainfo.Hash) (map[metainfo.Hash]ScrapeStats, error) {
	if len(hashes) == 0 {
		return map[metainfo.Hash]ScrapeStats{}, nil
	}
	if len(hashes) > MaxScrapeHashes {
		return nil, ErrTooManyHashes
	}
	hs := make([][20]byte, len(hashes))
	for i, h := range hashes {
		hs[i] = h
	}
	r, err := t.exchange(ctx, actionScrape, func(b []byte, connID uint64, tid uint32) []byte {
		return appendUDPScrape(b, connID, tid, hs)
	})
	if err != nil {
		return nil, err
	}
	out := make(map[metainfo.Hash]ScrapeStats, len(hashes))
	for i, st := range r.scrape {
		if i >= len(hashes) {
			break
		}
		out[hashes[i]] = st
	}
	return out, nil
}

// exchange runs one request of the given action, connecting first when no
// fresh connection ID is held, retransmitting after UDPTimeout·2^n with n
// counting every timeout of the exchange (BEP 15). A retransmitted packet
// keeps its transaction ID, so a slow tracker's answer to an earlier copy
// is accepted.
func (t *UDPTracker) exchange(ctx context.Context, action uint32, build func(b []byte, connID uint64, tid uint32) []byte) (udpReply, error) {
	select {
	case t.sem <- struct{}{}:
	case <-ctx.Done():
		return udpReply{}, ctx.Err()
	}
	defer func() { <-t.sem }()
	conn, err := t.socket(ctx)
	if err != nil {
		return udpReply{}, err
	}
	defer t.release(conn)

	fired := make(chan struct{})
	stop := context.AfterFunc(ctx, func() {
		_ = conn.SetReadDeadline(time.Unix(1, 0))
		close(fired)
	})
	defer func() {
		if !stop() {
			<-fired
		}
	}()

	n := 0
	idHere := false // the connection ID was obtained in this exchange
	reconnected := false
	out := make([]byte, 0, 128)
	// A retransmission repeats its request with the same transaction ID, so
	// a late answer to an earlier copy still counts; each new request (a
	// connect, then the request itself) gets a fresh one.
	var tid uint32
	sentConnect, sentAny := false, false
	for {
		connecting := t.idAt.IsZero() || time.Since(t.idAt) >= udpConnIDLifetime
		if !sentAny || connecting != sentConnect {
			tid = rand.Uint32()
		}
		sentConnect, sentAny = connecting, true
		if connecting {
			out = appendUDPConnect(out[:0], tid)
		} else {
			out = build(out[:0], t.connID, tid)
		}
		if _, err := conn.Write(out); err != nil {
			t.forgetID()
			return udpReply{}, t.ioErr(ctx, err)
		}
		deadline := time.Now().Add(t.cfg.UDPTimeout << n)
		r, err := t.await(ctx, conn, tid, deadline)
		if err != nil {
			if errors.Is(err, errWait) {
				if n++; n > t.cfg.UDPRetries {
					return udpReply{}, fmt.Errorf("%w: %s", ErrTimeout, t.url)
				}
				continue
			}
			return udpReply{}, err
		}
		switch {
		case r.action == actionError:
			// The tracker may have forgotten our connection ID (a restart):
			// get a new one once before giving up.
			t.idAt = time.Time{}
			if !connecting && !idHere && !reconnected {
				reconnected = true
				continue
			}
			return udpReply{}, &FailureError{Reason: r.message}
		case connecting && r.action == actionConnect:
			t.connID, t.idAt = r.connID, time.Now()
			idHere = true
		case !connecting && r.action == action:
			return r, nil
		default:
			return udpReply{}, malformed("udp", fmt.Sprintf("reply action %d to request action %d", r.action, action))
		}
	}
}

// udpBufs holds receive buffers big enough for any datagram, lent out only
// while a reply is awaited, so idle clients hold no buffer.
var udpBufs = sync.Pool{New: func() any { b := make([]byte, 64<<10); return &b }}

// errWait marks a retransmission timeout inside exchange.
var errWait = errors.New("tracker: retransmit")

// await reads until a reply with transaction ID tid arrives, the deadline
// passes (errWait) or ctx is done. Packets that do not parse or carry
// another transaction ID are ignored.
func (t *UDPTracker) await(ctx context.Context, conn net.Conn, tid uint32, deadline time.Time) (udpReply, error) {
	bp := udpBufs.Get().(*[]byte)
	defer udpBufs.Put(bp)
	buf := *bp
	for {
		if err := conn.SetReadDeadline(deadline); err != nil {
			t.forgetID()
			return udpReply{}, t.ioErr(ctx, err)
		}
		if err := ctx.Err(); err != nil {
			return udpReply{}, err
		}
		n, err := conn.Read(buf)
		if err != nil {
			if ctx.Err() != nil {
				return udpReply{}, ctx.Err()
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				return udpReply{}, errWait
			}
			t.forgetID()
			return udpReply{}, t.ioErr(ctx, err)
		}
		r, err := parseUDPReply(buf[:n], t.ipv6)
		if err != nil || r.tid != tid {
			continue
		}
		return r, nil
	}
}

func (t *UDPTracker) ioErr(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	t.mu.Lock()
	closed := t.closed
	t.mu.Unlock()
	if closed {
		return ErrClosed
	}
	return fmt.Errorf("tracker: %s: %w", t.url, err)
}

// forgetID drops the connection ID after a socket error.
func (t *UDPTracker) forgetID() { t.idAt = time.Time{} }
