package dht

import (
	"context"
	"errors"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/netip"
	"sync"
	"time"

	"github.com/bittern/bittern/bencode"
)

// DefaultBootstrapNodes are the well-known mainline DHT routers, used when
// Config.BootstrapNodes is nil.
var DefaultBootstrapNodes = []string{
	"router.bittorrent.com:6881",
	"dht.transmissionbt.com:6881",
	"router.utorrent.com:6881",
	"dht.libtorrent.org:25401",
}

// Defaults for Config fields.
const (
	DefaultAlpha           = 3
	DefaultQueryTimeout    = 3 * time.Second
	DefaultRefreshInterval = 15 * time.Minute
	// maxPacket is the largest datagram read (8 KiB): KRPC messages are far
	// smaller, and so are those of the protocols sharing the socket (uTP,
	// UDP trackers); a longer datagram is truncated.
	maxPacket = 8 << 10
	// pingQueueLen bounds the verification pings waiting to be sent.
	pingQueueLen = 64
	// clientVersion is sent as "v": "BN" and version 0.1.
	clientVersion = "BN\x00\x01"
)

// Errors returned by Server methods.
var (
	// ErrClosed is returned by calls on a closed Server and by queries that
	// were pending when it closed.
	ErrClosed = errors.New("dht: server closed")
	// ErrTimeout is returned when a queried node does not answer in time.
	ErrTimeout = errors.New("dht: query timed out")
	// ErrNoNodes is returned by lookups when the routing table is empty and
	// there is nobody to ask: bootstrap first.
	ErrNoNodes = errors.New("dht: no nodes to query")
	// ErrNoResponse is returned by lookups when no queried node answered.
	ErrNoResponse = errors.New("dht: no node answered")
	// ErrBadResponse is returned when a node answers with a response missing
	// what the query asks for.
	ErrBadResponse = errors.New("dht: bad response")
)

// Config configures a Server. The zero value (or nil) works.
type Config struct {
	// NodeID is our node ID. If zero, a random one is chosen.
	NodeID ID
	// BootstrapNodes are "host:port" addresses Bootstrap asks first. If nil,
	// DefaultBootstrapNodes; an empty non-nil slice means none (bootstrap
	// from Nodes or AddNode only).
	BootstrapNodes []string
	// Nodes seeds the routing table, typically from a previous Server's
	// Nodes, so that a restart needs no bootstrap. If nil, the table starts
	// empty.
	Nodes []NodeInfo
	// Alpha is the number of queries a lookup keeps in flight. If zero,
	// DefaultAlpha.
	Alpha int
	// QueryTimeout bounds the wait for one response. If zero,
	// DefaultQueryTimeout.
	QueryTimeout time.Duration
	// RefreshInterval is how long a bucket may go unchanged before it is
	// refreshed with a lookup. If zero, DefaultRefreshInterval.
	RefreshInterval time.Duration
	// ReadOnly puts the node in BEP 43 read-only mode: it marks its queries
	// "ro" so that other nodes leave it out of their routing tables, and
	// answers no queries. It can still look up, announce and put; use it
	// for short-lived or unreachable nodes.
	ReadOnly bool
	// EnforceNodeID keeps nodes whose IDs do not match their IPs (BEP 42)
	// out of the routing table. If false, they are accepted, as libtorrent
	// does by default.
	EnforceNodeID bool
	// UnrestrictedRoutingIPs lets a routing table bucket hold several nodes
	// from one /24 (IPv4) or /64 (IPv6) of public addresses. If false, one
	// per bucket, as libtorrent does, against one host posing as many
	// nodes. Private and loopback addresses are never restricted.
	UnrestrictedRoutingIPs bool
	// QueryRate and QueryBurst limit the queries accepted from one source IP
	// per second and at once. If zero, DefaultQueryRate and DefaultQueryBurst.
	QueryRate, QueryBurst float64
	// PeerTTL is how long an announced peer is kept. If zero, DefaultPeerTTL.
	PeerTTL time.Duration
	// MaxInfoHashes and MaxPeersPerInfoHash bound the peer store. If zero,
	// DefaultMaxInfoHashes and DefaultMaxPeersPerInfoHash.
	MaxInfoHashes, MaxPeersPerInfoHash int
	// MaxItems bounds the BEP 44 item store. If zero, DefaultMaxItems.
	MaxItems int
	// Unhandled receives every packet that is not KRPC, so that other
	// protocols (uTP, the UDP tracker client) can share the socket. The
	// slice is only valid during the call, which runs on the server's read
	// goroutine and must not block; the other protocol writes its own
	// packets to the conn directly. If nil, such packets are counted in
	// Stats and dropped.
	Unhandled func(b []byte, from netip.AddrPort)
	// KeepConnOpen makes Close leave the conn open (it only interrupts the
	// server's read with a deadline), for a socket the caller shares with
	// other protocols and closes itself. If false, Close closes the conn.
	KeepConnOpen bool
	// Resolve looks up bootstrap host names. If nil,
	// net.DefaultResolver.LookupNetIP with network "ip".
	Resolve func(ctx context.Context, host string) ([]netip.Addr, error)
	// Logger receives protocol chatter at Debug level. If nil, nothing is
	// logged.
	Logger *slog.Logger
}

// Stats are counters and sizes of a Server.
type Stats struct {
	Nodes, Nodes6       int    // routing table sizes (IPv4, IPv6)
	InfoHashes, Peers   int    // peer store
	Items               int    // BEP 44 store
	QueriesIn           uint64 // queries received and answered or refused
	QueriesOut          uint64 // queries sent
	Timeouts            uint64 // queries sent that were not answered
	RateLimited         uint64 // queries dropped by the per-IP limit
	Malformed           uint64 // KRPC-looking packets that failed to decode
	Unhandled           uint64 // non-KRPC packets (handed to Config.Unhandled if set)
	UnknownTransactions uint64 // responses matching no pending query
}

// Server is a DHT node on a net.PacketConn. Its methods are safe for
// concurrent use.
type Server struct {
	conn   net.PacketConn
	cfg    Config
	log    *slog.Logger
	local4 bool // the socket can reach IPv4 nodes
	local6 bool // the socket can reach IPv6 nodes

	mu      sync.Mutex
	id      ID
	tables  [2]*table // IPv4, IPv6
	txs     map[string]*transaction
	tokens  *tokens
	peers   *peerStore
	items   *itemStore
	limiter *ipLimiter
	voters  map[netip.Addr]netip.Addr // responder IP -> our IP as it sees it (BEP 42)
	stats   Stats
	closed  bool

	pings  chan netip.AddrPort // queued verification pings
	done   chan struct{}
	ctx    context.Context // canceled by Close, for the server's own lookups
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// NewServer starts a DHT node on conn. The Server reads conn from now on
// and closes it in Close, unless Config.KeepConnOpen. cfg may be nil.
func NewServer(conn net.PacketConn, cfg *Config) (*Server, error) {
	if conn == nil {
		return nil, errors.New("dht: NewServer needs a net.PacketConn")
	}
	s := &Server{conn: conn, txs: make(map[string]*transaction), done: make(chan struct{}),
		pings:  make(chan netip.AddrPort, pingQueueLen),
		voters: make(map[netip.Addr]netip.Addr)}
	if cfg != nil {
		s.cfg = *cfg
	}
	c := &s.cfg
	if c.BootstrapNodes == nil {
		c.BootstrapNodes = DefaultBootstrapNodes
	}
	if c.Alpha <= 0 {
		c.Alpha = DefaultAlpha
	}
	if c.QueryTimeout <= 0 {
		c.QueryTimeout = DefaultQueryTimeout
	}
	if c.RefreshInterval <= 0 {
		c.RefreshInterval = DefaultRefreshInterval
	}
	if c.QueryRate <= 0 {
		c.QueryRate = DefaultQueryRate
	}
	if c.QueryBurst <= 0 {
		c.QueryBurst = DefaultQueryBurst
	}
	if c.PeerTTL <= 0 {
		c.PeerTTL = DefaultPeerTTL
	}
	if c.MaxInfoHashes <= 0 {
		c.MaxInfoHashes = DefaultMaxInfoHashes
	}
	if c.MaxPeersPerInfoHash <= 0 {
		c.MaxPeersPerInfoHash = DefaultMaxPeersPerInfoHash
	}
	if c.MaxItems <= 0 {
		c.MaxItems = DefaultMaxItems
	}
	s.log = c.Logger
	if s.log == nil {
		s.log = discardLogger()
	}
	s.id = c.NodeID
	if s.id.IsZero() {
		s.id = RandomID()
	}
	s.local4, s.local6 = true, true
	if ap, err := addrPortOf(conn.LocalAddr()); err == nil && !ap.Addr().IsUnspecified() {
		s.local4 = ap.Addr().Is4()
		s.local6 = !s.local4
		if c.NodeID.IsZero() && !bep42Exempt(ap.Addr()) {
			// Bound to a public address: that is our external IP (BEP 42).
			s.id = NodeIDForIP(ap.Addr(), byte(rand.IntN(256)))
		}
	} else if err == nil && ap.Addr().Is4() {
		s.local6 = false
	}
	now := time.Now()
	s.tables = [2]*table{newTable(s.id, now), newTable(s.id, now)}
	for _, t := range s.tables {
		t.restrictIPs = !c.UnrestrictedRoutingIPs
	}
	s.tokens = newTokens(now)
	s.peers = newPeerStore(c.PeerTTL, c.MaxInfoHashes, c.MaxPeersPerInfoHash)
	s.items = newItemStore(c.MaxItems)
	s.limiter = newIPLimiter(c.QueryRate, c.QueryBurst)
	for _, n := range c.Nodes {
		if s.usable(n.Addr) {
			s.tableFor(n.Addr).insert(n, true, now)
		}
	}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	s.wg.Add(3)
	go s.readLoop()
	go s.maintain()
	go s.pinger()
	return s, nil
}

// ID returns our node ID.
func (s *Server) ID() ID {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.id
}

// Addr returns the local address of the socket.
func (s *Server) Addr() net.Addr { return s.conn.LocalAddr() }

// Close stops the server, closes its socket, fails pending queries with
// ErrClosed and waits for its goroutines.
func (s *Server) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return ErrClosed
	}
	s.closed = true
	close(s.done)
	s.cancel()
	pending := s.txs
	s.txs = make(map[string]*transaction)
	s.mu.Unlock()
	var err error
	if s.cfg.KeepConnOpen {
		// Wake the reader without closing the socket, then give the
		// socket back as it was.
		err = s.conn.SetReadDeadline(time.Now())
		s.wg.Wait()
		if e := s.conn.SetReadDeadline(time.Time{}); err == nil {
			err = e
		}
	} else {
		err = s.conn.Close()
		s.wg.Wait()
	}
	for _, tx := range pending {
		tx.timer.Stop()
		tx.cb(nil, ErrClosed)
	}
	return err
}

// Stats returns the server's counters.
func (s *Server) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.stats
	st.Nodes, st.Nodes6 = s.tables[0].count, s.tables[1].count
	st.InfoHashes, st.Peers = len(s.peers.swarms), s.peers.npeers
	st.Items = len(s.items.m)
	return st
}

// Nodes returns the routing table's nodes (both families), to be saved and
// passed back in Config.Nodes on restart.
func (s *Server) Nodes() []NodeInfo {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append(s.tables[0].all(), s.tables[1].all()...)
}

// AddNode adds a node the caller knows about by pinging it; it enters the
// routing table when it answers.
func (s *Server) AddNode(ctx context.Context, addr netip.AddrPort) error {
	_, err := s.Ping(ctx, addr)
	return err
}

// ExternalIP returns our IP address as most responders see it (BEP 42),
// and false if no responder has told us yet.
func (s *Server) ExternalIP() (netip.Addr, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ip, n := s.externalIP()
	return ip, n > 0
}

func (s *Server) tableFor(a netip.AddrPort) *table {
	if a.Addr().Unmap().Is4() {
		return s.tables[0]
	}
	return s.tables[1]
}

// usable reports whether a is an address we can and may send to.
func (s *Server) usable(a netip.AddrPort) bool {
	ip := a.Addr().Unmap()
	if a.Port() == 0 || !ip.IsValid() || ip.IsUnspecified() || ip.IsMulticast() {
		return false
	}
	if ip.Is4() {
		return s.local4
	}
	return s.local6
}

func addrPortOf(a net.Addr) (netip.AddrPort, error) {
	if ua, ok := a.(*net.UDPAddr); ok {
		ap := ua.AddrPort()
		return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port()), nil
	}
	if a == nil {
		return netip.AddrPort{}, errors.New("dht: nil address")
	}
	ap, err := netip.ParseAddrPort(a.String())
	if err != nil {
		return ap, err
	}
	return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port()), nil
}

func (s *Server) readLoop() {
	defer s.wg.Done()
	buf := make([]byte, maxPacket)
	for {
		n, from, err := s.conn.ReadFrom(buf)
		if err != nil {
			select {
			case <-s.done:
				return
			default:
			}
			if errors.Is(err, net.ErrClosed) {
				return
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			// Transient errors (ICMP unreachable on some systems) must not
			// stop the node; back off briefly.
			s.log.Debug("dht: read error", "err", err)
			select {
			case <-s.done:
				return
			case <-time.After(10 * time.Millisecond):
			}
			continue
		}
		select {
		case <-s.done:
			return // closing: leave what follows to the conn's next reader
		default:
		}
		ap, err := addrPortOf(from)
		if err != nil {
			continue
		}
		s.handlePacket(buf[:n], ap)
	}
}

// handlePacket dispatches one datagram.
func (s *Server) handlePacket(b []byte, from netip.AddrPort) {
	if from.Port() == 0 {
		return // cannot be answered; no protocol sends from port 0
	}
	var m Msg
	err := DecodeMsg(b, &m)
	if errors.Is(err, ErrNotKRPC) {
		s.mu.Lock()
		s.stats.Unhandled++
		s.mu.Unlock()
		if s.cfg.Unhandled != nil {
			s.cfg.Unhandled(b, from)
		}
		return
	}
	if err != nil {
		s.mu.Lock()
		s.stats.Malformed++
		s.mu.Unlock()
		if m.Y == typeQuery && m.T != "" && len(m.T) <= maxTransactionID && !s.cfg.ReadOnly && s.allow(from) {
			s.sendError(from, m.T, ErrCodeProtocol, "malformed query")
		}
		return
	}
	if m.Y == typeQuery && len(m.T) > maxTransactionID {
		s.mu.Lock()
		s.stats.Malformed++
		s.mu.Unlock()
		return
	}
	switch m.Y {
	case typeQuery:
		s.handleQuery(&m, from)
	case typeResponse, typeError:
		s.handleReply(&m, from)
	}
}

func (s *Server) allow(from netip.AddrPort) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.limiter.allow(from.Addr(), time.Now()) {
		return true
	}
	s.stats.RateLimited++
	return false
}

// send encodes m and writes it to addr.
func (s *Server) send(addr netip.AddrPort, m *Msg) error {
	b, err := bencode.Marshal(m)
	if err != nil {
		return err
	}
	_, err = s.conn.WriteTo(b, net.UDPAddrFromAddrPort(addr))
	return err
}

func (s *Server) sendError(to netip.AddrPort, t string, code int, msg string) {
	_ = s.send(to, &Msg{T: t, Y: typeError, E: &Error{Code: code, Msg: msg}, V: clientVersion})
}

func discardLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }
