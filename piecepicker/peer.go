package piecepicker

import (
	"fmt"
	"slices"

	"github.com/bittern/bittern/internal/bitset"
)

// Peer is the Picker's record of one connected peer: which pieces it has, whether it chokes
// us, its BEP 6 allowed-fast and suggested pieces, and the blocks requested from it. Get one
// from AddPeer; it belongs to the Picker that made it.
type Peer struct {
	id          uint64
	has         *bitset.Bitset // nil for a seed
	cand        *candSet       // see candidates.go; nil for a seed
	wantPos     int            // position in Picker.rewanted the candidates reflect
	floors      [MaxPrio + 1]floor
	seed        bool
	choked      bool
	removed     bool
	reqs        []Block
	allowedFast []int32
	suggested   []int32
}

// ID reports the number AddPeer gave the peer, unique within its Picker.
func (pe *Peer) ID() uint64 { return pe.id }

// String names the peer for logs.
func (pe *Peer) String() string { return fmt.Sprintf("peer#%d", pe.id) }

// AddPeer registers a new connection. The peer starts with no pieces and choking us, as
// a BitTorrent connection does (BEP 3). Cost: O(n/64) (its bitfield and candidates).
func (p *Picker) AddPeer() *Peer {
	p.nextPeerID++
	p.peers++
	pe := &Peer{id: p.nextPeerID, has: bitset.New(p.n), cand: newCandSet(p.n), choked: true}
	pe.wantPos = p.rewanted.base + len(p.rewanted.pieces)
	p.resetFloors(pe)
	return pe
}

// RemovePeer forgets a disconnected peer: its outstanding requests return to the pool and
// its pieces stop counting towards availability. Cost: O(n/64 + pieces it had) for a
// non-seed, O(requests) for a seed.
func (p *Picker) RemovePeer(peer *Peer) {
	if peer.removed {
		return
	}
	p.ReleaseAll(peer)
	if peer.seed {
		p.seeds--
		peer.seed = false
	} else {
		p.dropPieces(peer)
	}
	peer.has = nil
	peer.cand = nil
	peer.removed = true
	peer.allowedFast = nil
	peer.suggested = nil
	p.peers--
}

// dropPieces removes the peer's contribution to availability and leaves it with no pieces.
func (p *Picker) dropPieces(peer *Peer) {
	if peer.seed {
		p.seeds--
		peer.seed = false
		peer.has = bitset.New(p.n)
		peer.cand = newCandSet(p.n)
		p.resetFloors(peer)
		return
	}
	if peer.has.Count() > 0 {
		p.drops++
	}
	for i := range peer.has.Indices() {
		p.addAvail(i, -1)
	}
	peer.has.ClearAll()
	peer.cand.clearAll()
	p.resetFloors(peer)
}

// PeerHave records a BEP 3 have message. Cost: O(1) amortized; the have that completes a
// peer's set converts it to a seed in O(n), once.
func (p *Picker) PeerHave(peer *Peer, i int) error {
	if peer.removed {
		return ErrPeerRemoved
	}
	if uint(i) >= uint(p.n) {
		return fmt.Errorf("%w: have %d of %d", ErrBadPiece, i, p.n)
	}
	if peer.seed || !peer.has.Set(i) {
		return nil
	}
	p.addAvail(i, +1)
	if p.wanted.Has(i) {
		peer.cand.set(i)
		if p.untouched.Has(i) {
			p.lowerFloor(peer, i)
		}
	}
	if peer.has.All() {
		p.PeerHaveAll(peer)
	}
	return nil
}

// PeerBitfield records a peer's bitfield (BEP 3), replacing what was known of its pieces.
// bf.Len() must equal the number of pieces. Cost: O(n) calls to bf.Has; O(n/64 + set bits)
// when bf is an internal *bitset.Bitset.
func (p *Picker) PeerBitfield(peer *Peer, bf Bitfield) error {
	if peer.removed {
		return ErrPeerRemoved
	}
	if bs, ok := bf.(*bitset.Bitset); bf == nil || (ok && bs == nil) {
		return fmt.Errorf("%w: nil bitfield", ErrBitfieldLen)
	}
	if bf.Len() != p.n {
		return fmt.Errorf("%w: %d bits for %d pieces", ErrBitfieldLen, bf.Len(), p.n)
	}
	p.dropPieces(peer)
	if bs, ok := bf.(*bitset.Bitset); ok {
		if bs.All() && p.n > 0 {
			p.PeerHaveAll(peer)
			return nil
		}
		for i := range bs.Indices() {
			peer.has.Set(i)
			p.addAvail(i, +1)
			if p.wanted.Has(i) {
				peer.cand.set(i)
				if p.untouched.Has(i) {
					p.lowerFloor(peer, i)
				}
			}
		}
		return nil
	}
	for i := range p.n {
		if bf.Has(i) {
			peer.has.Set(i)
		}
	}
	if peer.has.All() && p.n > 0 {
		peer.has.ClearAll() // not counted yet
		p.PeerHaveAll(peer)
		return nil
	}
	for i := range peer.has.Indices() {
		p.addAvail(i, +1)
		if p.wanted.Has(i) {
			peer.cand.set(i)
			if p.untouched.Has(i) {
				p.lowerFloor(peer, i)
			}
		}
	}
	return nil
}

// PeerHaveAll records that the peer has every piece (BEP 6 have-all, or a full bitfield).
// Seeds are counted apart from per-piece availability, which they do not reorder, so this
// is O(1) for a peer that had announced nothing.
func (p *Picker) PeerHaveAll(peer *Peer) {
	if peer.removed || peer.seed {
		return
	}
	p.dropPieces(peer)
	peer.has = nil
	peer.cand = nil
	peer.seed = true
	p.seeds++
}

// PeerHaveNone records that the peer has no pieces (BEP 6 have-none).
func (p *Picker) PeerHaveNone(peer *Peer) {
	if peer.removed {
		return
	}
	p.dropPieces(peer)
}

// PeerHasPiece reports whether the peer announced piece i.
func (p *Picker) PeerHasPiece(peer *Peer, i int) bool {
	if uint(i) >= uint(p.n) || peer.removed {
		return false
	}
	return peer.seed || peer.has.Has(i)
}

// PeerChoked records whether the peer chokes us. A choked peer is asked only for pieces in
// its allowed-fast set (BEP 6). Choking does not cancel requests: with the fast extension
// the peer rejects them; without it, call ReleaseAll as well.
func (p *Picker) PeerChoked(peer *Peer, choked bool) { peer.choked = choked }

// PeerAllowedFast records a BEP 6 allowed-fast message: piece i may be requested while the
// peer chokes us. At most MaxAllowedFast pieces are kept per peer.
func (p *Picker) PeerAllowedFast(peer *Peer, i int) error {
	if uint(i) >= uint(p.n) {
		return fmt.Errorf("%w: allowed fast %d of %d", ErrBadPiece, i, p.n)
	}
	if peer.removed || len(peer.allowedFast) >= MaxAllowedFast || slices.Contains(peer.allowedFast, int32(i)) {
		return nil
	}
	peer.allowedFast = append(peer.allowedFast, int32(i))
	return nil
}

// PeerSuggest records a BEP 6 suggest-piece message: piece i is started before rarer
// pieces when the peer has it. At most MaxSuggested suggestions are kept per peer, newest.
func (p *Picker) PeerSuggest(peer *Peer, i int) error {
	if uint(i) >= uint(p.n) {
		return fmt.Errorf("%w: suggest %d of %d", ErrBadPiece, i, p.n)
	}
	if peer.removed || slices.Contains(peer.suggested, int32(i)) {
		return nil
	}
	if len(peer.suggested) >= MaxSuggested {
		peer.suggested = append(peer.suggested[:0], peer.suggested[1:]...)
	}
	peer.suggested = append(peer.suggested, int32(i))
	return nil
}

// Interesting reports whether the peer has a wanted piece or a piece with a deadline that
// we have not verified, the test for sending interested (BEP 3). Cost: O(n/64).
func (p *Picker) Interesting(peer *Peer) bool {
	if peer.removed {
		return false
	}
	if peer.seed {
		return p.wanted.Count() > 0 || len(p.deadlines) > 0
	}
	return p.wanted.Intersects(peer.has) || (len(p.deadlines) > 0 && p.due.Intersects(peer.has))
}

// NumRequests reports how many blocks are outstanding from the peer.
func (p *Picker) NumRequests(peer *Peer) int { return len(peer.reqs) }

// AppendRequests appends the blocks outstanding from the peer to dst, oldest first.
func (p *Picker) AppendRequests(peer *Peer, dst []Block) []Block { return append(dst, peer.reqs...) }

// allowedFast reports whether piece i is in the peer's allowed-fast set.
func (peer *Peer) allowed(i int) bool { return slices.Contains(peer.allowedFast, int32(i)) }

// dropRequest removes b from the peer's outstanding list; it reports whether b was there.
// Blocks usually arrive in request order, so the scan is short.
func (peer *Peer) dropRequest(b Block) bool {
	for k, r := range peer.reqs {
		if r == b {
			peer.reqs = append(peer.reqs[:k], peer.reqs[k+1:]...)
			return true
		}
	}
	return false
}
