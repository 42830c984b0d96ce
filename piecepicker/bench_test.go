package piecepicker

import (
	"math/rand/v2"
	"testing"

	"github.com/bittern/bittern/internal/bitset"
)

// The scale the issue asks for: 100,000 pieces of 256 KiB (16 blocks) and 500 peers.
const (
	benchPieces = 100_000
	benchPeers  = 500
	benchBlocks = 16
)

// randomBits returns a bitfield with each piece set with probability density.
func randomBits(r *rand.Rand, n int, density float64) *bitset.Bitset {
	b := bitset.New(n)
	for i := range n {
		if r.Float64() < density {
			b.Set(i)
		}
	}
	return b
}

// swarm builds a picker with 500 peers: 50 seeds, the rest with random bitfields of
// density between 0 and 1 (so availability varies from piece to piece).
func swarm(b *testing.B, mode Mode) (*Picker, []*Peer) {
	b.Helper()
	r := rand.New(rand.NewPCG(1, 2))
	p, err := New(Config{NumPieces: benchPieces, PieceLength: benchBlocks * BlockSize, Mode: mode, Rand: r})
	if err != nil {
		b.Fatal(err)
	}
	peers := make([]*Peer, benchPeers)
	for k := range peers {
		pe := p.AddPeer()
		if k < 50 {
			p.PeerHaveAll(pe)
		} else if err := p.PeerBitfield(pe, randomBits(r, benchPieces, r.Float64())); err != nil {
			b.Fatal(err)
		}
		p.PeerChoked(pe, false)
		peers[k] = pe
	}
	return p, peers
}

// benchPick measures picking one piece's worth of blocks for peer pe and releasing them
// again, so the state stays the same from one iteration to the next.
func benchPick(b *testing.B, p *Picker, pe *Peer) {
	buf := make([]Block, 0, benchBlocks)
	b.ReportAllocs()
	for b.Loop() {
		buf = p.Pick(pe, benchBlocks, buf[:0])
		if len(buf) == 0 {
			b.Fatal("nothing picked")
		}
		p.ReleaseAll(pe)
	}
}

func BenchmarkPick(b *testing.B) {
	p, peers := swarm(b, RarestFirst)
	// Steady state: 1,000 pieces in flight, fully requested by other peers (whole-piece
	// requests), so the partial scan has nothing to offer.
	for k := range 1000 {
		p.Pick(peers[50+k%450], benchBlocks, nil)
	}
	benchPickers(b, p, peers)
	// Worst case for the partial scan: 1,000 more started pieces, each with 15 free blocks.
	for k := range 1000 {
		p.Pick(peers[50+k%450], 1, nil)
	}
	b.Run("openPartials", func(b *testing.B) { benchPickers(b, p, peers) })
}

func benchPickers(b *testing.B, p *Picker, peers []*Peer) {
	b.Run("seed", func(b *testing.B) { benchPick(b, p, peers[0]) })
	b.Run("half", func(b *testing.B) {
		pe := p.AddPeer()
		defer p.RemovePeer(pe)
		p.PeerBitfield(pe, randomBits(rand.New(rand.NewPCG(3, 4)), benchPieces, 0.5))
		p.PeerChoked(pe, false)
		benchPick(b, p, pe)
	})
	b.Run("sparse", func(b *testing.B) {
		// 0.1% of the pieces, so the bucket walk gives way to the word-wise scan.
		pe := p.AddPeer()
		defer p.RemovePeer(pe)
		p.PeerBitfield(pe, randomBits(rand.New(rand.NewPCG(5, 6)), benchPieces, 0.001))
		p.PeerChoked(pe, false)
		benchPick(b, p, pe)
	})
	b.Run("sequential", func(b *testing.B) {
		p.SetMode(Sequential)
		defer p.SetMode(RarestFirst)
		benchPick(b, p, peers[100])
	})
}

// BenchmarkPeerHave measures have messages that each raise a piece's availability: fresh
// peers announce pieces in a random order, and every benchPieces-th have completes a peer,
// converting it to a seed (amortized in the figure).
func BenchmarkPeerHave(b *testing.B) {
	p, _ := swarm(b, RarestFirst)
	perm := rand.New(rand.NewPCG(7, 8)).Perm(benchPieces)
	var pe *Peer
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		j := i % benchPieces
		if j == 0 {
			b.StopTimer()
			if pe != nil {
				p.RemovePeer(pe)
			}
			pe = p.AddPeer()
			b.StartTimer()
		}
		p.PeerHave(pe, perm[(j+i/benchPieces*7919)%benchPieces])
	}
}

func BenchmarkPeerBitfield(b *testing.B) {
	p, _ := swarm(b, RarestFirst)
	pe := p.AddPeer()
	r := rand.New(rand.NewPCG(9, 10))
	bs := randomBits(r, benchPieces, 0.5)
	bl := make(bools, benchPieces)
	for i := range bl {
		bl[i] = bs.Has(i)
	}
	b.Run("bitset", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			p.PeerBitfield(pe, bs)
		}
	})
	b.Run("interface", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			p.PeerBitfield(pe, bl)
		}
	})
}

func BenchmarkRemovePeer(b *testing.B) {
	p, _ := swarm(b, RarestFirst)
	bs := randomBits(rand.New(rand.NewPCG(11, 12)), benchPieces, 0.5)
	b.Run("half", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			b.StopTimer()
			pe := p.AddPeer()
			p.PeerBitfield(pe, bs)
			p.PeerChoked(pe, false)
			p.Pick(pe, 64, nil)
			b.StartTimer()
			p.RemovePeer(pe)
		}
	})
	b.Run("seed", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			b.StopTimer()
			pe := p.AddPeer()
			p.PeerHaveAll(pe)
			p.PeerChoked(pe, false)
			p.Pick(pe, 64, nil)
			b.StartTimer()
			p.RemovePeer(pe)
		}
	})
}

// BenchmarkBlockCycle measures the hot path per piece of 16 blocks: Pick from a seed,
// Received for each block, Verified; ClearHave recycles a piece so the torrent never ends.
func BenchmarkBlockCycle(b *testing.B) {
	p, peers := swarm(b, RarestFirst)
	pe := peers[0]
	buf := make([]Block, 0, benchBlocks)
	next := 0
	b.ReportAllocs()
	for b.Loop() {
		buf = p.Pick(pe, benchBlocks, buf[:0])
		for _, blk := range buf {
			p.Received(pe, blk)
		}
		p.Verified(buf[0].Piece)
		p.ClearHave(next)
		next = (next + 1) % benchPieces
	}
}

// BenchmarkInteresting measures the interest test for a peer with half the pieces.
func BenchmarkInteresting(b *testing.B) {
	p, _ := swarm(b, RarestFirst)
	pe := p.AddPeer()
	p.PeerBitfield(pe, randomBits(rand.New(rand.NewPCG(13, 14)), benchPieces, 0.5))
	b.ReportAllocs()
	for b.Loop() {
		p.Interesting(pe)
	}
}

// BenchmarkPickAdversarial is the worst case of the rarest-first walk: the peer has exactly
// the common half of the pieces, so the rare half fills the lowest buckets, the walk spends
// its budget there, and the word-wise scan visits every piece the peer has.
func BenchmarkPickAdversarial(b *testing.B) {
	p, err := New(Config{NumPieces: benchPieces, PieceLength: benchBlocks * BlockSize, Rand: rand.New(rand.NewPCG(1, 2))})
	if err != nil {
		b.Fatal(err)
	}
	common, rare := bitset.New(benchPieces), bitset.New(benchPieces)
	for i := range benchPieces {
		if i < benchPieces/2 {
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
	pe := p.AddPeer()
	p.PeerBitfield(pe, common)
	p.PeerChoked(pe, false)
	benchPick(b, p, pe)
}
