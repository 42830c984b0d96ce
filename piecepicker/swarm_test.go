package piecepicker

import (
	"math/rand/v2"
	"testing"
)

// TestSwarmCompletes downloads a torrent from a simulated swarm that answers requests out of
// order, rejects some, corrupts some pieces and churns peers, and checks that the download
// always finishes, that each block is transferred a bounded number of times, and that the
// internal invariants hold throughout.
func TestSwarmCompletes(t *testing.T) {
	for seed := range uint64(6) {
		for _, mode := range []Mode{RarestFirst, Sequential} {
			simulate(t, seed, mode)
		}
	}
}

type request struct {
	peer *Peer
	b    Block
}

func simulate(t *testing.T, seed uint64, mode Mode) {
	r := rand.New(rand.NewPCG(seed, 77))
	const n, bpp = 120, 4
	p := newTest(t, Config{NumPieces: n, PieceLength: bpp * BlockSize, LastPieceLength: 1000, Mode: mode, Rand: r})
	var peers []*Peer
	connect := func() {
		pe := p.AddPeer()
		if r.IntN(5) == 0 {
			p.PeerHaveAll(pe)
		} else {
			bf := make(bools, n)
			for i := range bf {
				bf[i] = r.IntN(3) > 0
			}
			p.PeerBitfield(pe, bf)
		}
		p.PeerChoked(pe, r.IntN(4) == 0)
		peers = append(peers, pe)
	}
	for range 10 {
		connect()
	}
	// Guarantee every piece is somewhere: one seed that never leaves.
	anchor := p.AddPeer()
	p.PeerHaveAll(anchor)
	p.PeerChoked(anchor, false)
	var inflight []request
	received, corrupted := 0, 0
	var buf []Block
	for step := 0; !p.Done(); step++ {
		if step > 200000 {
			t.Fatalf("seed %d mode %d: no completion after %d steps, %d remaining", seed, mode, step, p.Remaining())
		}
		all := append(peers, anchor)
		pe := all[r.IntN(len(all))]
		switch op := r.IntN(100); {
		case op < 40:
			if p.NumRequests(pe) < 8 {
				buf = p.Pick(pe, 8-p.NumRequests(pe), buf[:0])
				for _, b := range buf {
					inflight = append(inflight, request{pe, b})
				}
			}
		case op < 85 && len(inflight) > 0:
			k := r.IntN(len(inflight))
			q := inflight[k]
			inflight = append(inflight[:k], inflight[k+1:]...)
			if q.peer.removed {
				continue
			}
			if r.IntN(20) == 0 {
				if err := p.Rejected(q.peer, q.b); err != nil {
					t.Fatal(err)
				}
				continue
			}
			arr, err := p.Received(q.peer, q.b)
			if err != nil || arr.Unrequested {
				t.Fatalf("Received(%v, %v) = %+v, %v", q.peer, q.b, arr, err)
			}
			if !arr.Duplicate {
				received++
			}
			for _, c := range arr.Cancel {
				for k := range inflight {
					if inflight[k].peer == c && inflight[k].b == q.b {
						inflight = append(inflight[:k], inflight[k+1:]...)
						break
					}
				}
			}
			if arr.Complete {
				if r.IntN(15) == 0 {
					corrupted += p.NumBlocks(q.b.Piece)
					p.HashFailed(q.b.Piece)
				} else {
					p.Verified(q.b.Piece)
				}
			}
		case op < 88 && pe != anchor:
			p.RemovePeer(pe)
			for k := 0; k < len(inflight); k++ {
				if inflight[k].peer == pe {
					inflight = append(inflight[:k], inflight[k+1:]...)
					k--
				}
			}
			peers = removePeer(peers, pe)
			connect()
		case op < 92 && pe != anchor:
			p.PeerChoked(pe, !pe.choked)
			p.PeerAllowedFast(pe, r.IntN(n))
		case op < 96:
			p.PeerHave(pe, r.IntN(n))
		}
		if step%97 == 0 {
			if err := checkInvariants(p, append(peers, anchor)); err != nil {
				t.Fatalf("seed %d step %d: %v", seed, step, err)
			}
		}
	}
	t.Logf("seed %d mode %d: received %d blocks, %d re-downloaded, %d peers connected at the end", seed, mode, received, corrupted, len(peers))
	totalBlocks := (n-1)*bpp + 1
	// Every block once, plus re-downloads of corrupted pieces; endgame duplicates are
	// cancelled or reported Duplicate, so they are never counted.
	if received != totalBlocks+corrupted {
		t.Fatalf("received %d blocks for %d (+%d of corrupted pieces)", received, totalBlocks, corrupted)
	}
}

func removePeer(peers []*Peer, pe *Peer) []*Peer {
	for k, q := range peers {
		if q == pe {
			return append(peers[:k], peers[k+1:]...)
		}
	}
	return peers
}
