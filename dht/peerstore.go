package dht

import (
	"math/rand/v2"
	"net/netip"
	"time"
)

// Peer store defaults.
const (
	// DefaultPeerTTL is how long an announced peer is kept.
	DefaultPeerTTL = 30 * time.Minute
	// DefaultMaxInfoHashes bounds how many info-hashes the peer store holds.
	DefaultMaxInfoHashes = 2000
	// DefaultMaxPeersPerInfoHash bounds the peers kept per info-hash.
	DefaultMaxPeersPerInfoHash = 500
	// maxValuesPerReply bounds the peers returned in one get_peers reply, so
	// that replies stay within one unfragmented datagram.
	maxValuesPerReply = 50
)

type storedPeer struct {
	expires time.Time
	port    uint16
	seed    bool
}

type swarm struct {
	peers map[netip.Addr]storedPeer // one entry per IP (BEP 33)
}

// peerStore holds announced peers with expiry and caps. Not safe for
// concurrent use.
type peerStore struct {
	ttl           time.Duration
	maxHashes     int
	maxPeers      int
	swarms        map[ID]*swarm
	npeers        int
	lastPurge     time.Time
	purgeInterval time.Duration
}

func newPeerStore(ttl time.Duration, maxHashes, maxPeers int) *peerStore {
	return &peerStore{
		ttl: ttl, maxHashes: maxHashes, maxPeers: maxPeers,
		swarms: make(map[ID]*swarm), purgeInterval: time.Minute,
	}
}

// add records peer p for ih. It reports false if a cap refused it.
func (ps *peerStore) add(ih ID, p netip.AddrPort, seed bool, now time.Time) bool {
	ps.purge(now, false)
	sw := ps.swarms[ih]
	if sw == nil {
		// Full: expired peers went in the purge above (at most a minute
		// ago; a purge on every announce of a new info-hash would let a
		// stream of them cost a scan of the whole store each).
		if len(ps.swarms) >= ps.maxHashes && !ps.evictSmallest() {
			return false
		}
		sw = &swarm{peers: make(map[netip.Addr]storedPeer)}
		ps.swarms[ih] = sw
	}
	ip := p.Addr().Unmap()
	if _, ok := sw.peers[ip]; !ok {
		if len(sw.peers) >= ps.maxPeers {
			// Replace the peer closest to expiry: fresh announces win.
			var oldest netip.Addr
			var oldestT time.Time
			for a, sp := range sw.peers {
				if oldestT.IsZero() || sp.expires.Before(oldestT) {
					oldest, oldestT = a, sp.expires
				}
			}
			delete(sw.peers, oldest)
			ps.npeers--
		}
		ps.npeers++
	}
	sw.peers[ip] = storedPeer{expires: now.Add(ps.ttl), port: p.Port(), seed: seed}
	return true
}

// evictSmallest drops a swarm of a single peer, the one-off kind, to make
// room for a new info-hash; larger swarms are never pushed out by new
// announces. It reports whether it made room.
func (ps *peerStore) evictSmallest() bool {
	var victim ID
	fewest := -1
	for ih, sw := range ps.swarms {
		if fewest < 0 || len(sw.peers) < fewest {
			victim, fewest = ih, len(sw.peers)
		}
	}
	if fewest != 1 {
		return false
	}
	delete(ps.swarms, victim)
	ps.npeers--
	return true
}

// get returns up to max live peers of ih, a random sample if there are
// more, and only those of the address family of v6. noSeed leaves out
// seeds (BEP 33).
func (ps *peerStore) get(ih ID, max int, v6, noSeed bool, now time.Time) []netip.AddrPort {
	sw := ps.swarms[ih]
	if sw == nil {
		return nil
	}
	var out []netip.AddrPort
	seen := 0
	for a, sp := range sw.peers {
		if !sp.expires.After(now) || (noSeed && sp.seed) || a.Is4() == v6 {
			continue
		}
		seen++
		ap := netip.AddrPortFrom(a, sp.port)
		if len(out) < max {
			out = append(out, ap)
		} else if j := rand.IntN(seen); j < max {
			out[j] = ap // reservoir sampling
		}
	}
	return out
}

// scrape returns BEP 33 bloom filters of the live seeds and downloaders.
func (ps *peerStore) scrape(ih ID, now time.Time) (seeds, peers bloom) {
	sw := ps.swarms[ih]
	if sw == nil {
		return
	}
	for a, sp := range sw.peers {
		if !sp.expires.After(now) {
			continue
		}
		if sp.seed {
			seeds.add(a)
		} else {
			peers.add(a)
		}
	}
	return
}

// purge drops expired peers, at most once per purgeInterval unless force.
func (ps *peerStore) purge(now time.Time, force bool) {
	if !force && now.Sub(ps.lastPurge) < ps.purgeInterval {
		return
	}
	ps.lastPurge = now
	for ih, sw := range ps.swarms {
		for a, sp := range sw.peers {
			if !sp.expires.After(now) {
				delete(sw.peers, a)
				ps.npeers--
			}
		}
		if len(sw.peers) == 0 {
			delete(ps.swarms, ih)
		}
	}
}

// infoHashes returns up to max stored info-hashes, randomly chosen (BEP 51).
func (ps *peerStore) infoHashes(max int) []ID {
	out := make([]ID, 0, min(max, len(ps.swarms)))
	seen := 0
	for ih := range ps.swarms {
		seen++
		if len(out) < max {
			out = append(out, ih)
		} else if j := rand.IntN(seen); j < max {
			out[j] = ih
		}
	}
	return out
}
