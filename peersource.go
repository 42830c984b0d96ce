package bittern

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"time"

	"github.com/bittern/bittern/dht"
	"github.com/bittern/bittern/metainfo"
)

// PeerSource finds peers of a torrent: *dht.Server is one. FindPeers
// calls found for each peer address it learns (from any goroutine, but
// not after it returns) and returns when its search is over.
type PeerSource interface {
	FindPeers(ctx context.Context, ih metainfo.Hash, found func(netip.AddrPort)) error
}

// peerAnnouncer is a PeerSource that can also announce us as a peer, as
// *dht.Server does (BEP 5 announce_peer after a get_peers lookup).
type peerAnnouncer interface {
	Announce(ctx context.Context, ih metainfo.Hash, port int, impliedPort, seed bool, found func(netip.AddrPort)) (int, error)
}

var _ peerAnnouncer = (*dht.Server)(nil)

// Peer source timing.
const (
	// DefaultPeerSourceInterval is the default period of the lookups a
	// torrent makes in each peer source (Config.PeerSourceInterval); it is
	// libtorrent's DHT announce interval.
	DefaultPeerSourceInterval = 15 * time.Minute
	// peerSourceRetry is the wait after a lookup that failed.
	peerSourceRetry = time.Minute
)

// startDHT starts the DHT node Config.DHTListenAddr asks for.
func startDHT(c *Config) (*dht.Server, error) {
	pc, err := net.ListenPacket("udp", c.DHTListenAddr)
	if err != nil {
		return nil, fmt.Errorf("bittern: dht listen: %w", err)
	}
	srv, err := dht.NewServer(pc, c.DHTConfig)
	if err != nil {
		pc.Close()
		return nil, fmt.Errorf("bittern: %w", err)
	}
	return srv, nil
}

// Bootstrap retry bounds for the session's own DHT node.
const (
	dhtBootstrapRetry    = 10 * time.Second
	dhtBootstrapMaxRetry = 5 * time.Minute
)

// bootstrapDHT joins the DHT with the node the session started: it retries,
// backing off from dhtBootstrapRetry to dhtBootstrapMaxRetry, until one
// bootstrap succeeds or the session closes. Without it the node's routing
// table would stay empty and every lookup would fail.
func (s *Session) bootstrapDHT() {
	defer s.wg.Done()
	wait := dhtBootstrapRetry
	for {
		err := s.ownDHT.Bootstrap(s.ctx)
		if err == nil || s.ctx.Err() != nil {
			return
		}
		s.cfg.Logger.Debug("dht bootstrap", "err", err, "retry", wait)
		s.hub.publish(DHTError{EventBase: EventBase{Time: time.Now()}, Err: err})
		t := time.NewTimer(wait)
		select {
		case <-s.ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		wait = min(2*wait, dhtBootstrapMaxRetry)
	}
}

// peerSources returns the sources a torrent asks for peers: none for a
// private torrent (BEP 27).
func (t *Torrent) peerSources() []PeerSource {
	if t.info.Private {
		return nil
	}
	return t.s.sources
}

// startPeerSources starts one goroutine per peer source of the torrent.
func (t *Torrent) startPeerSources() {
	t.bgMu.Lock()
	defer t.bgMu.Unlock()
	if t.bgDone {
		return
	}
	for _, src := range t.peerSources() {
		for _, ih := range t.swarmHashes() {
			t.bg.Add(1)
			go t.peerSourceLoop(src, ih)
		}
	}
}

// peerSourceLoop asks src for peers every Config.PeerSourceInterval (and
// once a minute while it fails), feeding them to the dial queue. A source
// that can announce (a DHT) is also told that we are a peer, on our
// listening port, marked as a seed once we are one.
func (t *Torrent) peerSourceLoop(src PeerSource, ih metainfo.Hash) {
	defer t.bg.Done()
	found := func(a netip.AddrPort) {
		t.sourcePeers.Add(1)
		t.addPeersFrom(ih, a)
	}
	ann, canAnnounce := src.(peerAnnouncer)
	for {
		var err error
		port := t.s.listenPort()
		if canAnnounce && port != 0 {
			_, err = ann.Announce(t.ctx, ih, port, false, t.isComplete(), found)
		} else {
			err = src.FindPeers(t.ctx, ih, found)
		}
		if t.ctx.Err() != nil {
			return
		}
		wait := t.s.cfg.PeerSourceInterval
		if err != nil {
			t.log.Debug("peer source", "err", err)
			if t.s.isDHT(src) {
				t.emit(func(b EventBase) Event { return DHTError{EventBase: b, Err: err} })
			}
			wait = min(wait, peerSourceRetry)
		}
		timer := time.NewTimer(wait)
		select {
		case <-t.ctx.Done():
			timer.Stop()
			return
		case <-timer.C:
		}
	}
}

// isComplete reports whether the torrent is complete, without touching
// owner state.
func (t *Torrent) isComplete() bool {
	select {
	case <-t.complete:
		return true
	default:
		return false
	}
}
