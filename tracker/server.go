package tracker

import (
	"context"
	"crypto/rand"
	"errors"
	"log/slog"
	"net/netip"
	"sync"
	"time"

	"github.com/bittern/bittern/metainfo"
)

// ServerConfig configures a Server. The zero value runs an open tracker.
type ServerConfig struct {
	// Interval is the announce interval told to clients. If zero, 30 minutes.
	Interval time.Duration
	// MinInterval is the "min interval" told to HTTP clients. If zero, none
	// is sent.
	MinInterval time.Duration
	// PeerTimeout is how long a peer stays listed after its last announce.
	// If zero, 1.5 × Interval: a client that announces on time never
	// expires, one that left without "stopped" does soon after.
	PeerTimeout time.Duration
	// DefaultNumWant is the number of peers given when a client does not
	// ask for a number. If zero, 50.
	DefaultNumWant int
	// MaxNumWant caps the number of peers one reply carries. If zero, 200.
	// A UDP reply also carries no more peers than fit one 1500-byte packet
	// (242 IPv4, 79 IPv6).
	MaxNumWant int
	// MaxPeersPerSwarm bounds each swarm; announces of new peers beyond it
	// are refused. If zero, 100,000.
	MaxPeersPerSwarm int
	// MaxSwarms bounds the number of swarms; announces for new info-hashes
	// beyond it are refused. If zero, 1,000,000.
	MaxSwarms int
	// Allow, if set, is the whitelist: announces and scrapes for info-hashes
	// it rejects fail with "torrent not allowed". If nil, the tracker is open.
	Allow func(metainfo.Hash) bool
	// TrustClientIP makes the server list a peer at the address it claims
	// (HTTP "ip" parameter, UDP IP field) instead of the request's source
	// address. If false, the claim is ignored.
	TrustClientIP bool
	// Logger receives one Info record per announce. If nil, nothing is
	// logged.
	Logger *slog.Logger
}

// Reasons a Server refuses an announce or scrape.
var (
	errNotAllowed  = errors.New("torrent not allowed")
	errSwarmFull   = errors.New("swarm full")
	errTrackerFull = errors.New("tracker full")
	errBadRequest  = errors.New("invalid request")
	errPeerIDInUse = errors.New("peer id in use at another address")
)

// Server is an in-memory BitTorrent tracker serving HTTP (as an
// http.Handler) and UDP (ServeUDP) announces and scrapes. It keeps no
// per-client state for UDP connection IDs. All methods are safe for
// concurrent use.
type Server struct {
	cfg    ServerConfig
	log    *slog.Logger
	secret [32]byte  // keys UDP connection IDs
	macs   sync.Pool // of hash.Hash: HMAC-SHA256 keyed with secret

	mu        sync.Mutex
	swarms    map[metainfo.Hash]*swarm
	lastSweep time.Time
}

// NewServer returns a Server configured by cfg (nil means the defaults).
func NewServer(cfg *ServerConfig) *Server {
	s := &Server{swarms: make(map[metainfo.Hash]*swarm)}
	if cfg != nil {
		s.cfg = *cfg
	}
	c := &s.cfg
	if c.Interval <= 0 {
		c.Interval = 30 * time.Minute
	}
	if c.PeerTimeout <= 0 {
		c.PeerTimeout = c.Interval + c.Interval/2
	}
	if c.DefaultNumWant <= 0 {
		c.DefaultNumWant = 50
	}
	if c.MaxNumWant <= 0 {
		c.MaxNumWant = 200
	}
	if c.MaxPeersPerSwarm <= 0 {
		c.MaxPeersPerSwarm = 100_000
	}
	if c.MaxSwarms <= 0 {
		c.MaxSwarms = 1_000_000
	}
	s.log = c.Logger
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	_, _ = rand.Read(s.secret[:]) // crypto/rand.Read never fails
	return s
}

// serverAnnounce is an announce as the server sees it, from either protocol.
type serverAnnounce struct {
	infoHash metainfo.Hash
	peerID   [20]byte
	addr     netip.AddrPort // where peers reach the client
	key      string         // the client's "key", if sent
	left     int64
	event    Event
	numWant  int // <0: default
	want4    bool
	want6    bool
}

// swarmPeer is a peer handed out in a reply.
type swarmPeer struct {
	id   [20]byte
	addr netip.AddrPort
}

type announceResult struct {
	peers    []swarmPeer
	seeders  int
	leechers int
}

// announce records a and picks the peers to return.
func (s *Server) announce(a *serverAnnounce) (announceResult, error) {
	if s.cfg.Allow != nil && !s.cfg.Allow(a.infoHash) {
		return announceResult{}, errNotAllowed
	}
	if !a.addr.IsValid() || a.addr.Port() == 0 {
		return announceResult{}, errBadRequest
	}
	now := time.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.sweepLocked(now)
	sw := s.swarms[a.infoHash]
	if sw == nil {
		if a.event == EventStopped {
			return announceResult{}, nil
		}
		if len(s.swarms) >= s.cfg.MaxSwarms {
			return announceResult{}, errTrackerFull
		}
		sw = newSwarm()
		s.swarms[a.infoHash] = sw
	}
	sw.expire(now.Add(-s.cfg.PeerTimeout))
	addr := netip.AddrPortFrom(a.addr.Addr().Unmap(), a.addr.Port())
	key := peerKey{id: a.peerID, v6: addr.Addr().Is6()}
	self, err := sw.update(key, addr, a.key, a.left, a.event, now, s.cfg.MaxPeersPerSwarm)
	if err != nil {
		return announceResult{}, err
	}
	n := a.numWant
	if n < 0 {
		n = s.cfg.DefaultNumWant
	}
	n = min(n, s.cfg.MaxNumWant)
	if a.event == EventStopped {
		n = 0
	}
	res := announceResult{seeders: sw.seeders, leechers: sw.leechers()}
	sampled := sw.sample(self, n, a.want4, a.want6)
	res.peers = make([]swarmPeer, len(sampled))
	for i, p := range sampled {
		res.peers[i] = swarmPeer{id: p.key.id, addr: p.addr}
	}
	if len(sw.list) == 0 {
		delete(s.swarms, a.infoHash)
	}
	if s.log.Enabled(context.Background(), slog.LevelInfo) {
		s.log.Info("announce", "info_hash", a.infoHash, "peer", addr, "event", a.event.String(),
			"left", a.left, "seeders", res.seeders, "leechers", res.leechers, "returned", len(res.peers))
	}
	return res, nil
}

// scrape returns the counts of the known swarms among hashes.
func (s *Server) scrape(hashes []metainfo.Hash) (map[metainfo.Hash]ScrapeStats, error) {
	if s.cfg.Allow != nil {
		for _, ih := range hashes {
			if !s.cfg.Allow(ih) {
				return nil, errNotAllowed
			}
		}
	}
	now := time.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.sweepLocked(now)
	out := make(map[metainfo.Hash]ScrapeStats, len(hashes))
	for _, ih := range hashes {
		sw := s.swarms[ih]
		if sw == nil {
			continue
		}
		sw.expire(now.Add(-s.cfg.PeerTimeout))
		out[ih] = ScrapeStats{Complete: sw.seeders, Incomplete: sw.leechers(), Downloaded: sw.downloaded,
			Downloaders: sw.leechers() - sw.partials, HasDownloaders: true}
	}
	return out, nil
}

// sweepLocked expires peers in every swarm and drops empty swarms, at most
// once per PeerTimeout, so swarms nobody announces to do not linger.
func (s *Server) sweepLocked(now time.Time) {
	if now.Sub(s.lastSweep) < s.cfg.PeerTimeout {
		return
	}
	s.lastSweep = now
	deadline := now.Add(-s.cfg.PeerTimeout)
	for ih, sw := range s.swarms {
		sw.expire(deadline)
		if len(sw.list) == 0 {
			delete(s.swarms, ih)
		}
	}
}

// Stats returns the server's size: swarms and peers listed.
func (s *Server) Stats() ServerStats {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := ServerStats{Swarms: len(s.swarms)}
	for _, sw := range s.swarms {
		st.Peers += len(sw.list)
		st.Seeders += sw.seeders
	}
	return st
}

// ServerStats counts what a Server holds (peers not yet expired included).
type ServerStats struct {
	Swarms  int
	Peers   int
	Seeders int
}
