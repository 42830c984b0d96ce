package bittern

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/bittern/bittern/dht"
	"github.com/bittern/bittern/metainfo"
	"github.com/bittern/bittern/peerwire"
	"github.com/bittern/bittern/peerwire/mse"
	"github.com/bittern/bittern/utp"
)

// ourReserved is the set of extensions this version advertises in its
// handshake: the Fast extension (BEP 6) and the Extension Protocol (BEP 10).
var ourReserved = peerwire.Reserved{}.Set(peerwire.ReservedFast).Set(peerwire.ReservedExtension)

// Session downloads and seeds torrents. It listens on one TCP port for all
// of them. Its methods are safe for concurrent use.
type Session struct {
	cfg    Config
	peerID [20]byte
	// announceKey is the tracker "key" of every announce (BEP 3, BEP 15).
	announceKey uint32
	ln          Listener
	io          *ioPool

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup // the accept loop and incoming handshakes
	adding sync.WaitGroup // AddTorrent calls in progress

	handshakes chan struct{} // semaphore of incoming handshakes
	numConns   atomic.Int64  // peer connections of all torrents
	writeSlots chan struct{} // semaphore of received blocks not yet written

	mu       sync.Mutex // guards torrents and closed
	torrents map[metainfo.Hash]*Torrent
	closed   bool
	// v2Alias maps the truncated v2 info-hash of each hybrid torrent to it
	// (BEP 52: it joins both swarms); guarded by mu.
	v2Alias map[metainfo.Hash]*Torrent

	skeys   mse.SKeys                    // info-hashes of the torrents and fetches, for incoming MSE
	fetches map[metainfo.Hash]*metaFetch // magnets whose metadata is being fetched

	sources []PeerSource // Config.DHT and Config.PeerSources
	ownDHT  *dht.Server  // started for Config.DHTListenAddr; closed by Close
	extIP   atomic.Value // netip.Addr: our address as a tracker saw it (BEP 24)

	// utp is the uTP socket (Config.UTP), or nil; utpWG waits for its
	// accept loop; transports remembers which transport reached a peer.
	utp        *utp.Socket
	utpWG      sync.WaitGroup
	transports transportMemory

	closeOnce sync.Once

	downLimit, upLimit rateLimit // Config.DownloadRateLimit, UploadRateLimit
	hub                eventHub  // subscriptions to events
	web                webSeedClient
}

// NewSession starts a session. cfg may be nil: the zero Config works.
// Unless cfg.NoListen is set, it listens for peers before returning.
func NewSession(cfg *Config) (*Session, error) {
	c := cfg.withDefaults()
	s := &Session{
		cfg:         c,
		peerID:      c.PeerID,
		torrents:    make(map[metainfo.Hash]*Torrent),
		fetches:     make(map[metainfo.Hash]*metaFetch),
		handshakes:  make(chan struct{}, c.MaxPendingHandshakes),
		writeSlots:  make(chan struct{}, c.MaxQueuedBlocks),
		announceKey: newAnnounceKey(),
	}
	if s.peerID == ([20]byte{}) {
		s.peerID = peerwire.NewPeerID(peerwire.PeerIDPrefix)
	}
	if !c.NoListen {
		s.ln = c.Listener
		if s.ln == nil {
			ln, err := net.Listen("tcp", c.ListenAddr)
			if err != nil {
				return nil, fmt.Errorf("bittern: listen: %w", err)
			}
			s.ln = ln
		}
	}
	if c.UTP {
		if err := s.startUTP(); err != nil {
			if s.ln != nil {
				s.ln.Close()
			}
			return nil, err
		}
	}
	if c.DHT == nil && c.DHTListenAddr != "" {
		var (
			srv *dht.Server
			err error
		)
		if s.sharesUTPSocket() {
			srv, err = s.startSharedDHT()
		} else {
			srv, err = startDHT(&c)
		}
		if err != nil {
			if s.ln != nil {
				s.ln.Close()
			}
			if s.utp != nil {
				s.utp.Close()
			}
			return nil, err
		}
		s.ownDHT = srv
		s.cfg.DHT = srv
	}
	if s.cfg.DHT != nil {
		s.sources = append(s.sources, s.cfg.DHT)
	}
	s.sources = append(s.sources, c.PeerSources...)
	s.ctx, s.cancel = context.WithCancel(context.Background())
	s.SetRateLimits(c.DownloadRateLimit, c.UploadRateLimit)
	s.io = newIOPool(c.IOWorkers)
	if s.ownDHT != nil {
		s.wg.Add(1)
		go s.bootstrapDHT()
	}
	if s.ln != nil {
		s.wg.Add(1)
		go s.acceptLoop()
	}
	if s.utp != nil {
		s.utpWG.Add(1)
		go s.utpAcceptLoop()
	}
	return s, nil
}

// DHT returns the session's DHT node: the one it started for
// Config.DHTListenAddr, or nil.
func (s *Session) DHT() *dht.Server { return s.ownDHT }

// PeerID returns the session's peer ID.
func (s *Session) PeerID() [20]byte { return s.peerID }

// Addr returns the address the session accepts peers on, or nil if it does
// not listen.
func (s *Session) Addr() net.Addr {
	if s.ln == nil {
		return nil
	}
	return s.ln.Addr()
}

// releaseWriteSlot gives back a slot of writeSlots.
func (s *Session) releaseWriteSlot() {
	select {
	case <-s.writeSlots:
	default:
	}
}

// reserveConn takes one of the session's Config.MaxConnections, if one is
// free. forget and closeAll give it back.
func (s *Session) reserveConn() bool {
	for {
		n := s.numConns.Load()
		if n >= int64(s.cfg.MaxConnections) {
			return false
		}
		if s.numConns.CompareAndSwap(n, n+1) {
			return true
		}
	}
}

// listenPort returns the TCP port the session listens on, or 0.
func (s *Session) listenPort() int {
	if s.ln == nil {
		return 0
	}
	if a, ok := s.ln.Addr().(*net.TCPAddr); ok {
		return a.Port
	}
	return 0
}

// Remove stops the torrent and forgets it, keeping its data in storage
// (with its completion record, when the storage keeps one, so adding it
// again resumes). It returns once everything the torrent started has ended.
func (s *Session) Remove(t *Torrent) {
	s.mu.Lock()
	s.removeLocked(t)
	s.mu.Unlock()
	t.shutdown()
}

// Torrents returns the session's torrents, in no particular order.
func (s *Session) Torrents() []*Torrent {
	s.mu.Lock()
	defer s.mu.Unlock()
	ts := make([]*Torrent, 0, len(s.torrents))
	for _, t := range s.torrents {
		ts = append(ts, t)
	}
	return ts
}

// Torrent returns the torrent with info-hash ih (for a v2-only torrent,
// its truncated v2 info-hash; a hybrid torrent is found by either), or nil.
func (s *Session) Torrent(ih metainfo.Hash) *Torrent {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.lookupLocked(ih)
}

// Close stops every torrent (saving its completion record when the
// storage keeps one), closes every connection and the listener, and
// returns once every goroutine the session started has ended.
func (s *Session) Close() error {
	s.closeOnce.Do(func() {
		s.mu.Lock()
		s.closed = true
		ts := make([]*Torrent, 0, len(s.torrents))
		for _, t := range s.torrents {
			ts = append(ts, t)
		}
		s.mu.Unlock()
		s.cancel()
		if s.ln != nil {
			s.ln.Close()
		}
		s.wg.Wait()
		s.adding.Wait() // they see closed and give up
		for _, t := range ts {
			t.shutdown()
		}
		s.closeWebClient()
		s.io.close()
		if s.ownDHT != nil {
			s.ownDHT.Close()
		}
		s.closeUTP()
		s.hub.close()
	})
	return nil
}

func (s *Session) acceptLoop() {
	defer s.wg.Done()
	for {
		conn, err := s.ln.Accept()
		if err != nil {
			if s.ctx.Err() != nil || errors.Is(err, net.ErrClosed) {
				return
			}
			s.cfg.Logger.Debug("accept", "err", err)
			t := time.NewTimer(100 * time.Millisecond)
			select {
			case <-s.ctx.Done():
				t.Stop()
				return
			case <-t.C:
			}
			continue
		}
		select {
		case s.handshakes <- struct{}{}:
		default:
			conn.Close() // too many handshakes in progress
			continue
		}
		s.wg.Add(1)
		go s.handleIncoming(conn)
	}
}

// handleIncoming answers the handshake of an accepted connection and hands
// it to the torrent it names.
func (s *Session) handleIncoming(conn net.Conn) {
	defer s.wg.Done()
	defer func() { <-s.handshakes }()
	stop := context.AfterFunc(s.ctx, func() { conn.Close() })
	defer stop()
	ctx, cancel := context.WithTimeout(s.ctx, s.cfg.HandshakeTimeout)
	defer cancel()
	conn.SetDeadline(time.Now().Add(s.cfg.HandshakeTimeout))
	wconn, rd, t, f, hs, err := s.acceptHandshake(ctx, conn)
	if err != nil {
		s.cfg.Logger.Debug("incoming handshake", "remote", conn.RemoteAddr(), "err", err)
		conn.Close()
		return
	}
	if hs.PeerID == s.peerID {
		// We dialled ourselves: the reply above lets the dialling side
		// see its own peer ID and stop trying this address.
		s.cfg.Logger.Debug("incoming handshake", "remote", conn.RemoteAddr(), "err", errSelfConnection)
		conn.Close()
		return
	}
	conn.SetDeadline(time.Time{})
	if !stop() {
		conn.Close()
		return
	}
	if f != nil {
		f.handoff(wconn, rd, hs)
		return
	}
	t.handoff(wconn, rd, hs, false)
}
