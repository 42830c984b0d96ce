package tracker

import (
	"math/rand/v2"
	"net/netip"
	"time"
)

// peerKey identifies a swarm member: its peer ID and address family, so a
// dual-stack client announcing over IPv4 and IPv6 is listed under both.
type peerKey struct {
	id [20]byte
	v6 bool
}

type peer struct {
	key        peerKey
	addr       netip.AddrPort
	left       int64
	clientKey  string // the announce "key", proving identity across IP changes
	lastSeen   time.Time
	completed  bool // has sent "completed" (counted once in downloaded)
	partial    bool // a partial seed: its last announce was "paused" (BEP 21)
	idx        int  // position in swarm.list
	prev, next *peer
}

func (p *peer) seeder() bool { return p.left == 0 }

// swarm is one torrent's peers: a slice for uniform random sampling, a map
// for lookup, and a list ordered by last announce for exact, cheap expiry.
type swarm struct {
	list       []*peer
	byKey      map[peerKey]*peer
	head, tail *peer // least and most recently seen
	seeders    int
	partials   int // leechers that are partial seeds (BEP 21)
	downloaded int
}

func newSwarm() *swarm { return &swarm{byKey: make(map[peerKey]*peer)} }

func (sw *swarm) leechers() int { return len(sw.list) - sw.seeders }

func (sw *swarm) unlink(p *peer) {
	if p.prev != nil {
		p.prev.next = p.next
	} else {
		sw.head = p.next
	}
	if p.next != nil {
		p.next.prev = p.prev
	} else {
		sw.tail = p.prev
	}
	p.prev, p.next = nil, nil
}

func (sw *swarm) pushBack(p *peer) {
	p.prev = sw.tail
	if sw.tail != nil {
		sw.tail.next = p
	} else {
		sw.head = p
	}
	sw.tail = p
}

func (sw *swarm) remove(p *peer) {
	sw.unlink(p)
	last := sw.list[len(sw.list)-1]
	sw.list[p.idx] = last
	last.idx = p.idx
	sw.list[len(sw.list)-1] = nil
	sw.list = sw.list[:len(sw.list)-1]
	delete(sw.byKey, p.key)
	sw.uncount(p)
}

// count and uncount add p to and take it from the seeder and partial seed
// counts.
func (sw *swarm) count(p *peer) {
	if p.seeder() {
		sw.seeders++
	}
	if p.partial {
		sw.partials++
	}
}

func (sw *swarm) uncount(p *peer) {
	if p.seeder() {
		sw.seeders--
	}
	if p.partial {
		sw.partials--
	}
}

// expire removes peers last seen at or before deadline.
func (sw *swarm) expire(deadline time.Time) {
	for sw.head != nil && !sw.head.lastSeen.After(deadline) {
		sw.remove(sw.head)
	}
}

// update records an announce and returns the peer (nil after "stopped").
// A peer is a partial seed while its announces say "paused" with bytes
// left (BEP 21 has it send "paused" in every announce while it is one); any
// other event, or nothing left, makes it a leecher or a seeder again.
// It fails with errSwarmFull if the swarm is full and the peer new, and with
// errPeerIDInUse if the peer ID is listed at another IP address and the
// announce does not carry the key it was listed with.
func (sw *swarm) update(key peerKey, addr netip.AddrPort, clientKey string, left int64, ev Event, now time.Time, maxPeers int) (*peer, error) {
	p := sw.byKey[key]
	if p != nil && p.addr.Addr() != addr.Addr() && (p.clientKey == "" || p.clientKey != clientKey) {
		return nil, errPeerIDInUse
	}
	if ev == EventStopped {
		if p != nil {
			sw.remove(p)
		}
		return nil, nil
	}
	if p == nil {
		if len(sw.list) >= maxPeers {
			return nil, errSwarmFull
		}
		p = &peer{key: key, idx: len(sw.list), left: -1}
		sw.list = append(sw.list, p)
		sw.byKey[key] = p
	} else {
		sw.unlink(p)
		sw.uncount(p)
	}
	p.addr = addr
	p.clientKey = clientKey
	p.left = max(left, 0)
	p.partial = ev == EventPaused && p.left > 0
	p.lastSeen = now
	sw.count(p)
	if ev == EventCompleted && !p.completed {
		p.completed = true
		sw.downloaded++
	}
	sw.pushBack(p)
	return p, nil
}

// sample returns up to n random peers other than self, of the wanted
// families. A seeder is only given leechers: it has nothing to gain from
// other seeders.
func (sw *swarm) sample(self *peer, n int, want4, want6 bool) []*peer {
	if n <= 0 {
		return nil
	}
	out := make([]*peer, 0, min(n, len(sw.list)))
	seederAsking := self != nil && self.seeder()
	// Partial Fisher-Yates over the list itself: positions [0,i) hold the
	// peers already visited; the order of the list does not matter.
	for i := 0; i < len(sw.list) && len(out) < n; i++ {
		j := i + rand.IntN(len(sw.list)-i)
		sw.list[i], sw.list[j] = sw.list[j], sw.list[i]
		sw.list[i].idx, sw.list[j].idx = i, j
		p := sw.list[i]
		if p == self || (seederAsking && p.seeder()) {
			continue
		}
		if (p.key.v6 && !want6) || (!p.key.v6 && !want4) {
			continue
		}
		out = append(out, p)
	}
	return out
}
