package piecepicker

import (
	"fmt"
	"math/rand/v2"
	"runtime"
	"testing"

	"github.com/bittern/bittern/internal/bitset"
)

// scaleSizes are the torrent sizes of the scaling benchmarks, in pieces.
var scaleSizes = []int{1_000, 10_000, 100_000, 1_000_000}

// scaleSwarm builds a picker of n pieces of blocks blocks each with 20 peers of random
// density (so availability varies from piece to piece); the last piece is left to the peer
// under test, so it is the rarest.
func scaleSwarm(b *testing.B, n, blocks int, mode Mode) *Picker {
	b.Helper()
	r := rand.New(rand.NewPCG(uint64(n), 2))
	p, err := New(Config{NumPieces: n, PieceLength: blocks * BlockSize, Mode: mode, Rand: r})
	if err != nil {
		b.Fatal(err)
	}
	for range 20 {
		bf := randomBits(r, n, r.Float64())
		bf.Clear(n - 1)
		pe := p.AddPeer()
		if err := p.PeerBitfield(pe, bf); err != nil {
			b.Fatal(err)
		}
		p.PeerChoked(pe, false)
	}
	return p
}

// scalePeer adds an unchoked peer with bitfield bf (a seed if bf is nil).
func scalePeer(b *testing.B, p *Picker, bf *bitset.Bitset) *Peer {
	b.Helper()
	pe := p.AddPeer()
	if bf == nil {
		p.PeerHaveAll(pe)
	} else if err := p.PeerBitfield(pe, bf); err != nil {
		b.Fatal(err)
	}
	p.PeerChoked(pe, false)
	return pe
}

// BenchmarkPickScale measures one Pick of a piece's worth of blocks at 1k to 1M pieces for
// the peers the rarest-first walk finds hardest, next to the common ones:
//
//   - seed: a peer with every piece;
//   - half: a peer with a random half of the pieces;
//   - rareEnd: a peer with only the last piece, which no other peer has;
//   - allRequested: a peer whose pieces (a random quarter) are all started and fully
//     requested from another peer, while pieces it lacks are untouched: nothing to pick;
//   - commonHalf: the peer has exactly the common half, the rare half fills the lowest
//     buckets (BenchmarkPickAdversarial at every size).
//
// Each iteration releases what it picked, so the state is the same from one to the next.
func BenchmarkPickScale(b *testing.B) {
	for _, n := range scaleSizes {
		p := scaleSwarm(b, n, benchBlocks, RarestFirst)
		b.Run(fmt.Sprintf("seed/n=%d", n), func(b *testing.B) {
			pe := scalePeer(b, p, nil)
			defer p.RemovePeer(pe)
			benchPick(b, p, pe)
		})
		b.Run(fmt.Sprintf("half/n=%d", n), func(b *testing.B) {
			pe := scalePeer(b, p, randomBits(rand.New(rand.NewPCG(3, 4)), n, 0.5))
			defer p.RemovePeer(pe)
			benchPick(b, p, pe)
		})
		b.Run(fmt.Sprintf("rareEnd/n=%d", n), func(b *testing.B) {
			bf := bitset.New(n)
			bf.Set(n - 1)
			pe := scalePeer(b, p, bf)
			defer p.RemovePeer(pe)
			benchPick(b, p, pe)
		})
		b.Run(fmt.Sprintf("allRequested/n=%d", n), func(b *testing.B) { benchAllRequested(b, n) })
		b.Run(fmt.Sprintf("commonHalf/n=%d", n), func(b *testing.B) { benchCommonHalf(b, n) })
	}
}

// benchAllRequested: a peer X with a random quarter of the pieces has every block of them
// requested (a sequential Pick of one-block pieces); the peer under test has the same
// pieces, so it has nothing to request, and no endgame either.
func benchAllRequested(b *testing.B, n int) {
	p := scaleSwarm(b, n, 1, RarestFirst)
	bf := randomBits(rand.New(rand.NewPCG(5, 6)), n, 0.25)
	x := scalePeer(b, p, bf)
	p.SetMode(Sequential)
	if got := p.Pick(x, bf.Count(), nil); len(got) != bf.Count() {
		b.Fatalf("set-up picked %d blocks of %d", len(got), bf.Count())
	}
	p.SetMode(RarestFirst)
	pe := scalePeer(b, p, bf)
	buf := make([]Block, 0, benchBlocks)
	b.ReportAllocs()
	for b.Loop() {
		if buf = p.Pick(pe, benchBlocks, buf[:0]); len(buf) != 0 {
			b.Fatalf("picked %v", buf)
		}
	}
}

// benchCommonHalf: 100 peers have the first half, 10 the second; the peer under test has
// the first half.
func benchCommonHalf(b *testing.B, n int) {
	p, err := New(Config{NumPieces: n, PieceLength: benchBlocks * BlockSize, Rand: rand.New(rand.NewPCG(1, 2))})
	if err != nil {
		b.Fatal(err)
	}
	common, rare := bitset.New(n), bitset.New(n)
	for i := range n {
		if i < n/2 {
			common.Set(i)
		} else {
			rare.Set(i)
		}
	}
	for k := range 110 {
		pe := p.AddPeer()
		if k < 100 {
			p.PeerBitfield(pe, common)
		} else {
			p.PeerBitfield(pe, rare)
		}
	}
	benchPick(b, p, scalePeer(b, p, common))
}

// BenchmarkMemoryPerPiece reports the heap a Picker of 1M pieces takes per piece
// (picker-B/piece), and what one non-seed peer with half the pieces adds (peer-B/piece).
func BenchmarkMemoryPerPiece(b *testing.B) {
	const n = 1_000_000
	bf := randomBits(rand.New(rand.NewPCG(7, 8)), n, 0.5)
	heap := func() uint64 {
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		return ms.HeapAlloc
	}
	h0 := heap()
	p, err := New(Config{NumPieces: n, PieceLength: benchBlocks * BlockSize})
	if err != nil {
		b.Fatal(err)
	}
	h1 := heap()
	pe := scalePeer(b, p, bf)
	h2 := heap()
	picker := float64(int64(h1)-int64(h0)) / n
	peer := float64(int64(h2)-int64(h1)) / n
	runtime.KeepAlive(p)
	runtime.KeepAlive(pe)
	for b.Loop() {
		p.Pick(pe, 1, nil)
		p.ReleaseAll(pe)
	}
	b.ReportMetric(picker, "picker-B/piece")
	b.ReportMetric(peer, "peer-B/piece")
}
