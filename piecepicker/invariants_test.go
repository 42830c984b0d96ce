package piecepicker

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

// checkInvariants verifies the Picker's internal structures against each other and against
// the peers the test holds.
func checkInvariants(p *Picker, peers []*Peer) error {
	bucketTotal := 0
	for l := range p.buckets.levels {
		lv := &p.buckets.levels[l]
		for a, b := range lv.b {
			if nonEmpty := lv.mask[a>>6]&(1<<(uint(a)&63)) != 0; nonEmpty != (len(b) > 0) {
				return fmt.Errorf("level %d bucket %d: mask %v, %d pieces", l, a, nonEmpty, len(b))
			}
			for k, i := range b {
				if p.buckets.pos[i] != int32(k) || int(p.prio[i]) != l || int(p.avail[i]) != a {
					return fmt.Errorf("piece %d misfiled in level %d bucket %d", i, l, a)
				}
			}
			bucketTotal += len(b)
		}
	}
	if bucketTotal != p.untouched.Count() {
		return fmt.Errorf("%d pieces in buckets, %d untouched", bucketTotal, p.untouched.Count())
	}
	avail := make([]int32, p.n)
	seeds := 0
	for _, pe := range peers {
		if pe.removed {
			continue
		}
		if pe.seed {
			seeds++
			continue
		}
		for i := range pe.has.Indices() {
			avail[i]++
		}
	}
	if seeds != p.seeds {
		return fmt.Errorf("seeds %d, want %d", p.seeds, seeds)
	}
	for i := range p.n {
		if avail[i] != p.avail[i] {
			return fmt.Errorf("avail[%d] = %d, want %d", i, p.avail[i], avail[i])
		}
		wanted := p.prio[i] > Skip && !p.have.Has(i)
		if p.wanted.Has(i) != wanted {
			return fmt.Errorf("wanted[%d] = %v", i, !wanted)
		}
		if want := wanted && p.part[i] < 0; p.untouched.Has(i) != want || (p.buckets.pos[i] >= 0) != want {
			return fmt.Errorf("piece %d: untouched %v, in bucket %v, want %v", i, p.untouched.Has(i), p.buckets.pos[i] >= 0, want)
		}
		if p.have.Has(i) && p.part[i] >= 0 {
			return fmt.Errorf("verified piece %d has block state", i)
		}
	}
	var atLevel [MaxPrio + 1]int
	for k, pp := range p.partials {
		if p.part[pp.piece] != int32(k) {
			return fmt.Errorf("partial %d of piece %d misindexed", k, pp.piece)
		}
		atLevel[p.prio[pp.piece]]++
		free, recv := 0, 0
		for j, b := range pp.blocks {
			switch b.state {
			case blockFree:
				free++
				if j < pp.nextFree {
					return fmt.Errorf("piece %d: free block %d below nextFree %d", pp.piece, j, pp.nextFree)
				}
				if len(b.reqs) != 0 {
					return fmt.Errorf("piece %d: free block %d has requesters", pp.piece, j)
				}
			case blockRequested:
				if len(b.reqs) == 0 || len(b.reqs) > p.maxDup {
					return fmt.Errorf("piece %d block %d: %d requesters", pp.piece, j, len(b.reqs))
				}
			case blockReceived:
				recv++
				if len(b.reqs) != 0 {
					return fmt.Errorf("piece %d: received block %d has requesters", pp.piece, j)
				}
			}
			for _, pe := range b.reqs {
				if !slices.Contains(pe.reqs, Block{pp.piece, j}) {
					return fmt.Errorf("block %d/%d lists %v, which did not request it", pp.piece, j, pe)
				}
			}
		}
		for _, j := range p.pads[pp.piece] {
			if b := pp.blocks[j]; b.state != blockReceived || b.from != nil {
				return fmt.Errorf("pad block %d/%d in state %d from %v", pp.piece, j, b.state, b.from)
			}
		}
		if pp.pad != len(p.pads[pp.piece]) {
			return fmt.Errorf("piece %d: %d pad blocks, want %d", pp.piece, pp.pad, len(p.pads[pp.piece]))
		}
		if free != pp.free || recv != pp.received || free+pp.pad == len(pp.blocks) {
			return fmt.Errorf("piece %d: free %d/%d received %d/%d of %d", pp.piece, pp.free, free, pp.received, recv, len(pp.blocks))
		}
	}
	open := 0
	for _, pp := range p.partials {
		if pp.free > 0 {
			open++
			if pp.openPos < 0 || p.open[pp.openPos] != pp {
				return fmt.Errorf("piece %d has free blocks but is not open", pp.piece)
			}
		} else if pp.openPos >= 0 {
			return fmt.Errorf("piece %d has no free blocks but is open", pp.piece)
		}
	}
	if open != len(p.open) {
		return fmt.Errorf("%d open partials, want %d", len(p.open), open)
	}
	if atLevel != p.partialsAt {
		return fmt.Errorf("partialsAt %v, want %v", p.partialsAt, atLevel)
	}
	if err := checkDue(p); err != nil {
		return err
	}
	if err := checkCandidates(p, peers); err != nil {
		return err
	}
	for _, pe := range peers {
		for k, b := range pe.reqs {
			pp := p.partialOf(b.Piece)
			if pp == nil || !slices.Contains(pp.blocks[b.Index].reqs, pe) {
				return fmt.Errorf("%v lists %v, which does not list it", pe, b)
			}
			if slices.Contains(pe.reqs[:k], b) {
				return fmt.Errorf("%v lists %v twice", pe, b)
			}
		}
	}
	return nil
}

// checkCandidates verifies each peer's floors and candidates: once the pieces that became
// wanted again are taken in (syncCand, as a pick does first), has ∩ untouched ⊆ cand ⊆
// has, and a wanted piece the peer has outside cand is started, with the peer in its lazy
// list.
func checkCandidates(p *Picker, peers []*Peer) error {
	for _, pe := range peers {
		if pe.removed {
			if pe.cand != nil {
				return fmt.Errorf("removed %v has candidates", pe)
			}
			continue
		}
		if pe.seed {
			if pe.cand != nil {
				return fmt.Errorf("seed %v has candidates", pe)
			}
			continue
		}
		p.syncCand(pe)
		if err := pe.cand.check(); err != nil {
			return fmt.Errorf("%v: %w", pe, err)
		}
		for i := range pe.has.InBoth(p.untouched) {
			if fl := p.peekFloor(pe, p.prio[i]); p.avail[i] < fl {
				return fmt.Errorf("%v: untouched piece %d at availability %d below the floor %d of level %d", pe, i, p.avail[i], fl, p.prio[i])
			}
		}
		for i := range p.n {
			c, h := pe.cand.has(i), pe.has.Has(i)
			switch {
			case c && !h:
				return fmt.Errorf("%v: candidate %d it does not have", pe, i)
			case h && !c && p.untouched.Has(i):
				return fmt.Errorf("%v: untouched piece %d it has is no candidate", pe, i)
			case h && !c && p.wanted.Has(i) && !slices.Contains(p.partialOf(i).lazy, pe):
				return fmt.Errorf("%v: started piece %d dropped from its candidates, not in the lazy list", pe, i)
			}
		}
	}
	return nil
}

// check verifies the summary levels and the count against the bits.
func (c *candSet) check() error {
	count := 0
	for i := range c.n {
		if c.has(i) {
			count++
		}
	}
	if count != c.count {
		return fmt.Errorf("candSet count %d, want %d", c.count, count)
	}
	for l := 1; l < len(c.lv); l++ {
		for w, word := range c.lv[l-1] {
			if up := c.lv[l][w>>6]&(1<<(uint(w)&63)) != 0; up != (word != 0) {
				return fmt.Errorf("candSet level %d bit %d is %v, word below %#x", l, w, up, word)
			}
		}
	}
	return nil
}

// driveRandom applies random operations to a larger picker, checking invariants each step.
func driveRandom(t *testing.T, r *rand.Rand, steps int) {
	n := 50 + r.IntN(400)
	bpp := 1 + r.IntN(5)
	now := time.Unix(1e6, 0)
	lastLen := 1 + r.IntN(bpp*BlockSize)
	var pads []Range
	for range r.IntN(4) {
		// Pad files end on a piece boundary (or at the end of the torrent).
		end := int64(1+r.IntN(n-1)) * int64(bpp*BlockSize)
		pads = append(pads, Range{Offset: end - int64(1+r.IntN(bpp*BlockSize)), Length: 0})
		pads[len(pads)-1].Length = end - pads[len(pads)-1].Offset
	}
	p, err := New(Config{
		NumPieces: n, PieceLength: bpp * BlockSize, LastPieceLength: lastLen, PadFiles: pads,
		Mode: Mode(r.IntN(2)), MaxDuplicates: 1 + r.IntN(3), Rand: r,
		Now: func() time.Time { return now },
	})
	if err != nil {
		t.Fatal(err)
	}
	var peers []*Peer
	live := func() *Peer {
		for range 8 {
			if pe := peers[r.IntN(len(peers))]; !pe.removed {
				return pe
			}
		}
		pe := p.AddPeer()
		peers = append(peers, pe)
		return pe
	}
	var buf []Block
	for step := range steps {
		if len(peers) == 0 || r.IntN(40) == 0 {
			peers = append(peers, p.AddPeer())
		}
		pe := live()
		i := r.IntN(n)
		op := r.IntN(20)
		switch op {
		case 0:
			p.RemovePeer(pe)
		case 1:
			p.PeerHave(pe, i)
		case 2:
			bf := make(bools, n)
			d := r.Float64()
			for j := range bf {
				bf[j] = r.Float64() < d
			}
			p.PeerBitfield(pe, bf)
		case 3:
			p.PeerHaveAll(pe)
		case 4:
			p.PeerHaveNone(pe)
		case 5:
			p.PeerChoked(pe, r.IntN(3) == 0)
		case 6:
			p.PeerAllowedFast(pe, i)
			p.PeerSuggest(pe, r.IntN(n))
		case 7, 8, 9:
			buf = p.Pick(pe, 1+r.IntN(20), buf[:0])
		case 10, 11:
			if len(pe.reqs) > 0 {
				arr, _ := p.Received(pe, pe.reqs[r.IntN(len(pe.reqs))])
				if arr.Complete {
					for j := range n {
						if pp := p.partialOf(j); pp != nil && pp.received == len(pp.blocks) {
							if r.IntN(4) == 0 {
								p.HashFailed(j)
							} else {
								p.Verified(j)
							}
						}
					}
				}
			}
		case 12:
			p.Received(pe, Block{i, r.IntN(p.NumBlocks(i))})
		case 13:
			if len(pe.reqs) > 0 {
				p.Rejected(pe, pe.reqs[r.IntN(len(pe.reqs))])
			}
		case 14:
			p.ReleaseAll(pe)
		case 15:
			p.SetPriority(i, Priority(r.IntN(8)))
		case 16:
			switch r.IntN(3) {
			case 0:
				p.SetDeadline(i, now.Add(time.Duration(r.IntN(4000))*time.Millisecond))
			case 1:
				p.SetWindow(i, r.IntN(10), now, 300*time.Millisecond)
			default:
				p.ClearDeadlines()
			}
		case 17:
			now = now.Add(time.Duration(r.IntN(1000)) * time.Millisecond)
		case 18:
			if r.IntN(3) == 0 {
				p.Lost(Block{i, r.IntN(p.NumBlocks(i))})
			} else if r.IntN(2) == 0 {
				p.MarkHave(i)
			} else {
				p.ClearHave(i)
			}
		case 19:
			if r.IntN(10) == 0 {
				prios := make([]Priority, n)
				for j := range prios {
					prios[j] = Priority(r.IntN(8))
				}
				p.SetPriorities(prios)
			} else {
				p.SetFilePriorities([]File{{Offset: 0, Length: int64(i) * int64(bpp) * BlockSize / 2, Priority: Priority(r.IntN(8))}})
			}
		}
		if err := checkInvariants(p, peers); err != nil {
			t.Fatalf("step %d op %d: %v", step, op, err)
		}
	}
}

func TestInvariantsRandom(t *testing.T) {
	rounds := 40
	if testing.Short() {
		rounds = 5
	}
	for seed := range uint64(rounds) {
		driveRandom(t, rand.New(rand.NewPCG(seed, 42)), 1500)
	}
}

func FuzzInvariants(f *testing.F) {
	f.Add(uint64(1), uint64(2))
	f.Add(uint64(3), uint64(99))
	f.Fuzz(func(t *testing.T, a, b uint64) {
		driveRandom(t, rand.New(rand.NewPCG(a, b)), 300)
	})
}
