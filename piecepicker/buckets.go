package piecepicker

import "math/bits"

// buckets holds the untouched wanted pieces grouped by (priority, availability). Each bucket
// is an unordered slice with an index of positions, so adding, removing and moving a piece
// to the neighbouring availability are O(1). A bitmap per priority level marks the
// non-empty buckets so a pick finds the rarest bucket in O(buckets/64).
type buckets struct {
	levels [MaxPrio + 1]level
	pos    []int32 // position of each piece within its bucket; -1 if in none
}

type level struct {
	b    [][]int32 // b[avail] holds piece indices
	mask []uint64  // bit a set when b[a] is non-empty
}

func (bs *buckets) init(n int) {
	bs.pos = make([]int32, n)
	for i := range bs.pos {
		bs.pos[i] = -1
	}
}

func (bs *buckets) add(piece int, prio Priority, avail int32) {
	l := &bs.levels[prio]
	a := int(avail)
	for len(l.b) <= a {
		l.b = append(l.b, nil)
	}
	for len(l.mask)*64 <= a {
		l.mask = append(l.mask, 0)
	}
	bs.pos[piece] = int32(len(l.b[a]))
	l.b[a] = append(l.b[a], int32(piece))
	l.mask[a>>6] |= 1 << (uint(a) & 63)
}

func (bs *buckets) remove(piece int, prio Priority, avail int32) {
	l := &bs.levels[prio]
	a := int(avail)
	b := l.b[a]
	i := bs.pos[piece]
	last := b[len(b)-1]
	b[i] = last
	bs.pos[last] = i
	l.b[a] = b[:len(b)-1]
	bs.pos[piece] = -1
	if len(l.b[a]) == 0 {
		l.mask[a>>6] &^= 1 << (uint(a) & 63)
	}
}

// nextBucket returns the first non-empty availability bucket >= a in level prio, or -1.
func (bs *buckets) nextBucket(prio Priority, a int) int {
	l := &bs.levels[prio]
	w := a >> 6
	if w >= len(l.mask) {
		return -1
	}
	if word := l.mask[w] >> (uint(a) & 63); word != 0 {
		return a + bits.TrailingZeros64(word)
	}
	for w++; w < len(l.mask); w++ {
		if l.mask[w] != 0 {
			return w<<6 + bits.TrailingZeros64(l.mask[w])
		}
	}
	return -1
}

// bucketAdd puts an untouched wanted piece into its bucket.
func (p *Picker) bucketAdd(i int) {
	p.buckets.add(i, p.prio[i], p.avail[i])
	p.untouched.Set(i)
	p.logEnter(i)
	if i < p.seqHint {
		p.seqHint = i
	}
}

// bucketRemove takes piece i out of the buckets, if it is in one.
func (p *Picker) bucketRemove(i int) {
	if p.buckets.pos[i] < 0 {
		return
	}
	p.buckets.remove(i, p.prio[i], p.avail[i])
	p.untouched.Clear(i)
}

// addAvail changes the non-seed availability of piece i by d (+1 or -1), moving it between
// buckets in O(1).
func (p *Picker) addAvail(i int, d int32) {
	in := p.buckets.pos[i] >= 0
	if in {
		p.buckets.remove(i, p.prio[i], p.avail[i])
	}
	p.avail[i] += d
	if in {
		p.buckets.add(i, p.prio[i], p.avail[i])
	}
}

// bestUntouched returns the untouched piece of priority prio the peer has with the lowest
// availability, ties broken at random, or -1.
//
// For a seed it draws from the rarest bucket. For another peer it starts at the peer's
// floor for the level (see floor) — at once if the floor says the peer has no untouched
// piece there — and reads the peer's candidates (see candidates.go): none, and the answer
// is -1; few — under 64, or under the square root of the untouched pieces, fewer than the
// probes a bucket would take — and it visits them all (scanCand). Otherwise it walks the
// level's non-empty buckets from the floor, rarest first, probing each from a random
// offset; a peer that has a fraction d of a bucket's pieces matches after about 1/d
// probes. A bucket is probed in full only while the probe budget lasts; past it, it visits
// the candidates instead, stopping at the first 64 pieces as rare as the rarest bucket not
// yet ruled out. Either way the floor is raised to the availability found.
func (p *Picker) bestUntouched(peer *Peer, prio Priority) int {
	const maxProbes = 1024
	if peer.seed {
		a := p.buckets.nextBucket(prio, 0)
		if a < 0 {
			return -1
		}
		b := p.buckets.levels[prio].b[a]
		return int(b[p.rnd.IntN(len(b))])
	}
	fl := p.floorOf(peer, prio)
	if fl == noFloor {
		return -1
	}
	if p.syncCand(peer); peer.cand.count == 0 {
		return -1
	}
	// A piece this peer has counts it: availability >= 1.
	a := p.buckets.nextBucket(prio, max(1, int(fl)))
	if a < 0 {
		p.setFloor(peer, prio, noFloor)
		return -1
	}
	if c := int64(peer.cand.count); c < 64 || c*c < int64(p.untouched.Count()) {
		return p.scanCand(peer, prio, int32(a))
	}
	budget := maxProbes
	for ; a >= 0; a = p.buckets.nextBucket(prio, a+1) {
		b := p.buckets.levels[prio].b[a]
		start := p.rnd.IntN(len(b))
		for k := range min(len(b), budget) {
			j := start + k
			if j >= len(b) {
				j -= len(b)
			}
			if peer.has.Has(int(b[j])) {
				// Buckets from the floor to a were probed in full.
				p.setFloor(peer, prio, int32(a))
				return int(b[j])
			}
		}
		if len(b) > budget {
			// Buckets from the floor to a hold none of the peer's pieces.
			return p.scanCand(peer, prio, int32(a))
		}
		budget -= len(b)
	}
	p.setFloor(peer, prio, noFloor)
	return -1
}

// firstUntouched returns the lowest-index untouched piece the peer has, or -1.
func (p *Picker) firstUntouched(peer *Peer) int {
	first := p.untouched.NextSet(p.seqHint)
	if first < 0 {
		p.seqHint = p.n
		return -1
	}
	p.seqHint = first
	if peer.seed {
		return first
	}
	return p.firstCand(peer, first)
}
