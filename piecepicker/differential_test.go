package piecepicker

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"
)

// refUntouched is the reference for the choice of an untouched piece: a plain scan of every
// piece. For each priority level it returns the lowest availability among the untouched
// pieces of that priority the peer has (-1 if none), and the lowest index of an untouched
// piece the peer has (-1 if none). Availability is counted from the peers, not read from
// the Picker.
func refUntouched(p *Picker, peers []*Peer, pe *Peer) (rarest [MaxPrio + 1]int, first int) {
	for l := range rarest {
		rarest[l] = -1
	}
	first = -1
	for i := range p.n {
		if !p.untouched.Has(i) || !(pe.seed || pe.has.Has(i)) {
			continue
		}
		if first < 0 {
			first = i
		}
		av := 0
		for _, o := range peers {
			if !o.removed && (o.seed || o.has.Has(i)) {
				av++
			}
		}
		if l := p.prio[i]; rarest[l] < 0 || av < rarest[l] {
			rarest[l] = av
		}
	}
	return rarest, first
}

// checkAgainstRef compares bestUntouched at every level and firstUntouched with the
// reference for peer pe.
func checkAgainstRef(p *Picker, peers []*Peer, pe *Peer) error {
	rarest, first := refUntouched(p, peers, pe)
	for l := Low; l <= MaxPrio; l++ {
		got := p.bestUntouched(pe, l)
		switch {
		case got < 0 && rarest[l] >= 0:
			return fmt.Errorf("%v level %d: no piece, want availability %d", pe, l, rarest[l])
		case got < 0:
		case rarest[l] < 0:
			return fmt.Errorf("%v level %d: piece %d, want none", pe, l, got)
		case !p.untouched.Has(got) || !(pe.seed || pe.has.Has(got)) || p.prio[got] != l:
			return fmt.Errorf("%v level %d: piece %d is not an untouched piece of the peer at this level", pe, l, got)
		case p.Availability(got) != rarest[l]:
			return fmt.Errorf("%v level %d: piece %d has availability %d, want %d", pe, l, got, p.Availability(got), rarest[l])
		}
	}
	if got := p.firstUntouched(pe); got != first {
		return fmt.Errorf("%v: first untouched %d, want %d", pe, got, first)
	}
	return nil
}

// driveDifferential applies random operations to a picker of up to 6,000 pieces, with peers
// of every shape (a few pieces, ranges — so that whole buckets hold none of a peer's
// pieces —, random densities, seeds), and after each one compares the choice of untouched
// pieces for a random peer with the reference.
func driveDifferential(t *testing.T, r *rand.Rand, steps int) {
	n := 50 + r.IntN(6000)
	p, err := New(Config{NumPieces: n, PieceLength: (1 + r.IntN(3)) * BlockSize, Rand: r})
	if err != nil {
		t.Fatal(err)
	}
	var peers []*Peer
	var buf []Block
	randomPeerBits := func(pe *Peer) {
		bf := make(bools, n)
		switch r.IntN(4) {
		case 0: // a few pieces
			for range 1 + r.IntN(8) {
				bf[r.IntN(n)] = true
			}
		case 1: // a range
			lo := r.IntN(n)
			for i := lo; i < lo+r.IntN(n-lo+1); i++ {
				bf[i] = true
			}
		default:
			d := r.Float64()
			for i := range bf {
				bf[i] = r.Float64() < d
			}
		}
		if err := p.PeerBitfield(pe, bf); err != nil {
			t.Fatal(err)
		}
	}
	live := func() *Peer {
		for range 8 {
			if pe := peers[r.IntN(len(peers))]; !pe.removed {
				return pe
			}
		}
		pe := p.AddPeer()
		p.PeerChoked(pe, false)
		randomPeerBits(pe)
		peers = append(peers, pe)
		return pe
	}
	for step := range steps {
		if len(peers) == 0 || r.IntN(10) == 0 {
			pe := p.AddPeer()
			p.PeerChoked(pe, false)
			peers = append(peers, pe)
			randomPeerBits(pe)
		}
		pe := live()
		i := r.IntN(n)
		switch op := r.IntN(17); op {
		case 0:
			p.RemovePeer(pe)
		case 1, 2:
			for range 1 + r.IntN(20) {
				p.PeerHave(pe, r.IntN(n))
			}
		case 3:
			randomPeerBits(pe)
		case 4:
			if r.IntN(8) == 0 {
				p.PeerHaveAll(pe)
			} else {
				p.PeerHaveNone(pe)
			}
		case 5, 6, 7:
			buf = p.Pick(pe, 1+r.IntN(40), buf[:0])
		case 8:
			p.ReleaseAll(pe)
		case 9:
			if len(pe.reqs) > 0 {
				b := pe.reqs[r.IntN(len(pe.reqs))]
				if a, _ := p.Received(pe, b); a.Complete {
					p.Verified(b.Piece)
				}
			}
		case 10:
			p.SetPriority(i, Priority(r.IntN(8)))
		case 11:
			if r.IntN(4) == 0 {
				prios := make([]Priority, n)
				for j := range prios {
					prios[j] = Priority(r.IntN(3) * 3)
				}
				p.SetPriorities(prios)
			}
		case 12:
			p.MarkHave(i)
		case 13:
			p.ClearHave(i)
		case 14:
			if len(pe.reqs) > 0 {
				b := pe.reqs[r.IntN(len(pe.reqs))]
				p.Release(pe, b)
			}
		case 15:
			p.SetMode(Mode(r.IntN(2)))
		case 16: // deadlines, of skipped pieces too: they must not disturb the buckets
			switch r.IntN(4) {
			case 0:
				p.SetPriority(i, Skip)
				p.SetDeadline(i, time.Unix(0, int64(r.IntN(4000))*int64(time.Millisecond)))
			case 1:
				p.SetDeadline(i, time.Unix(0, int64(r.IntN(4000))*int64(time.Millisecond)))
			case 2:
				p.SetWindow(i, r.IntN(20), time.Unix(0, 0), 300*time.Millisecond)
			default:
				p.ClearDeadlines()
			}
		}
		if err := checkAgainstRef(p, peers, live()); err != nil {
			t.Fatalf("n=%d step %d: %v", n, step, err)
		}
		if step%50 == 0 {
			if err := checkInvariants(p, peers); err != nil {
				t.Fatalf("n=%d step %d: %v", n, step, err)
			}
		}
	}
}

func TestDifferentialUntouched(t *testing.T) {
	rounds := 12
	if testing.Short() {
		rounds = 3
	}
	for seed := range uint64(rounds) {
		driveDifferential(t, rand.New(rand.NewPCG(seed, 77)), 500)
	}
}

func FuzzDifferentialUntouched(f *testing.F) {
	f.Add(uint64(1), uint64(2))
	f.Fuzz(func(t *testing.T, a, b uint64) {
		driveDifferential(t, rand.New(rand.NewPCG(a, b)), 200)
	})
}

// TestScanCandUniform checks that the candidates scan breaks ties uniformly: a peer with 40
// equally rare pieces among 4,000 draws each of them about equally often.
func TestScanCandUniform(t *testing.T) {
	const n, ties, draws = 4000, 40, 20000
	p := newTest(t, Config{NumPieces: n, PieceLength: BlockSize})
	bf := make(bools, n)
	for k := range ties {
		bf[k*97] = true
	}
	pe := unchoked(p, bf)
	count := map[int]int{}
	for range draws {
		count[p.bestUntouched(pe, Normal)]++
	}
	for k := range ties {
		if c := count[k*97]; c < draws/ties/2 || c > draws/ties*3/2 {
			t.Fatalf("piece %d drawn %d times of %d, want about %d", k*97, c, draws, draws/ties)
		}
	}
}
