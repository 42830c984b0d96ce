package piecepicker

// A non-seed peer's candidates (Peer.cand) are the pieces it has that may be untouched:
//
//	has ∩ untouched  ⊆  cand  ⊆  has
//
// A piece that leaves the buckets (started, verified, skipped) stays a candidate until a
// pick for that peer meets it and drops it (staleCand). So a piece is dropped at most once
// per peer for each time it was made a candidate (by a have, a bitfield or its return to
// the buckets): the clean-up is paid for by those events, and a pick never scans pieces
// that stopped being candidates long ago. Pieces come back as follows:
//
//   - a started piece that returns to the buckets (endPiece) comes back to the peers listed
//     in its partial's lazy list, those that dropped it while it was started and wanted;
//   - a piece that becomes wanted again (ClearHave, a priority above Skip) is logged, and
//     comes back to each peer that has it when that peer next picks (syncCand).

// staleCand drops piece i, which is no longer untouched, from the peer's candidates, and
// remembers the peer if the piece may return to the buckets while it stays wanted.
func (p *Picker) staleCand(peer *Peer, i int) {
	peer.cand.clear(i)
	if k := p.part[i]; k >= 0 && p.wanted.Has(i) {
		pp := p.partials[k]
		pp.lazy = append(pp.lazy, peer)
	}
}

// reCand makes piece i a candidate of the peer again if the peer has it.
func (p *Picker) reCand(peer *Peer, i int) {
	if peer.cand != nil && peer.has.Has(i) {
		peer.cand.set(i)
	}
}

// maxRewanted is how many pieces the log of pieces that became wanted again keeps before
// it starts again.
const maxRewanted = 4096

// pieceLog lists pieces, from position base on.
type pieceLog struct {
	base   int
	pieces []int32
}

// logRewanted records that piece i became wanted again; each peer's candidates take it
// in when the peer next picks (syncCand).
func (p *Picker) logRewanted(i int) {
	if p.peers == 0 {
		return // no candidates to keep
	}
	lg := &p.rewanted
	if len(lg.pieces) >= maxRewanted {
		lg.base += len(lg.pieces)
		lg.pieces = lg.pieces[:0]
	}
	lg.pieces = append(lg.pieces, int32(i))
}

// syncCand makes the pieces that became wanted again since the peer last picked candidates
// of the peer if it has them, or, if the log started again since, every wanted piece it
// has: O(1) per logged piece, or O(n/64 + pieces it has) once per maxRewanted pieces.
func (p *Picker) syncCand(peer *Peer) {
	lg := &p.rewanted
	end := lg.base + len(lg.pieces)
	switch {
	case peer.wantPos == end:
		return
	case peer.wantPos < lg.base:
		for i := range peer.has.InBoth(p.wanted) {
			peer.cand.set(i)
		}
	default:
		for _, i := range lg.pieces[peer.wantPos-lg.base:] {
			if p.wanted.Has(int(i)) && peer.has.Has(int(i)) {
				peer.cand.set(int(i))
			}
		}
	}
	peer.wantPos = end
}

// scanCand visits the peer's candidates from a random place, drops the stale ones, and
// returns one of the rarest untouched pieces of priority prio among them, chosen by
// reservoir sampling (an inline xorshift generator makes a draw per tie cost a few
// nanoseconds), or -1; it sets the peer's floor to the availability found. Once 64 ties
// at availability lower are seen — the caller knows no piece of the peer is rarer — it
// stops early and picks among them. Cost: O(log n) plus the candidates visited.
func (p *Picker) scanCand(peer *Peer, prio Priority, lower int32) int {
	best := p.rarestCand(peer, prio, lower)
	if best < 0 {
		p.setFloor(peer, prio, noFloor)
	} else {
		p.setFloor(peer, prio, p.avail[best])
	}
	return best
}

// rarestCand is scanCand without the floor.
func (p *Picker) rarestCand(peer *Peer, prio Priority, lower int32) int {
	const enough = 64
	best, seen := -1, uint64(0)
	var bestAvail int32
	x := p.rnd.Uint64() | 1
	start := p.rnd.IntN(p.n)
	c := peer.cand
	for pass := range 2 {
		lo, hi := start, p.n
		if pass == 1 {
			lo, hi = 0, start
		}
		for i := c.next(lo); i >= 0 && i < hi; i = c.next(i + 1) {
			if !p.untouched.Has(i) {
				p.staleCand(peer, i)
				continue
			}
			if p.prio[i] != prio {
				continue
			}
			switch av := p.avail[i]; {
			case best < 0 || av < bestAvail:
				best, bestAvail, seen = i, av, 1
			case av == bestAvail:
				seen++
				x ^= x >> 12
				x ^= x << 25
				x ^= x >> 27
				if ((x*2685821657736338717)>>32)*seen>>32 == 0 {
					best = i
				}
			default:
				continue
			}
			if bestAvail <= lower && seen >= enough {
				return best
			}
		}
	}
	return best
}

// firstCand returns the lowest-index untouched piece >= first among the peer's
// candidates, dropping the stale ones it passes, or -1.
func (p *Picker) firstCand(peer *Peer, first int) int {
	p.syncCand(peer)
	c := peer.cand
	for i := c.next(first); i >= 0; i = c.next(i + 1) {
		if p.untouched.Has(i) {
			return i
		}
		p.staleCand(peer, i)
	}
	return -1
}
