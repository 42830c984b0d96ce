package piecepicker_test

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"time"

	"github.com/bittern/bittern/piecepicker"
)

// bits is a []bool bitfield view.
type bits []bool

func (b bits) Has(i int) bool { return i >= 0 && i < len(b) && b[i] }
func (b bits) Len() int       { return len(b) }

func Example() {
	// 4 pieces of 32 KiB (2 blocks each); the last piece is 20 KiB.
	p, _ := piecepicker.New(piecepicker.Config{
		NumPieces: 4, PieceLength: 32 << 10, LastPieceLength: 20 << 10,
		Rand: rand.New(rand.NewPCG(1, 2)),
	})
	a, b := p.AddPeer(), p.AddPeer()
	p.PeerBitfield(a, bits{true, true, false, true})
	p.PeerBitfield(b, bits{true, false, false, true})
	p.PeerChoked(a, false)

	// Piece 1 is the rarest piece a has: one copy.
	reqs := p.Pick(a, 2, nil)
	fmt.Println("requests to a:", reqs)
	for _, r := range reqs {
		begin, length, _ := p.BlockSpan(r)
		arr, _ := p.Received(a, r)
		fmt.Printf("got %v (begin %d, length %d), complete=%v\n", r, begin, length, arr.Complete)
	}
	p.Verified(1)
	fmt.Println("remaining:", p.Remaining(), "piece 2 is available from", p.Availability(2), "peers")
	// Output:
	// requests to a: [1/0 1/1]
	// got 1/0 (begin 0, length 16384), complete=false
	// got 1/1 (begin 16384, length 16384), complete=true
	// remaining: 3 piece 2 is available from 0 peers
}

func ExamplePicker_SetFilePriorities() {
	// Three files over 5 pieces of 100 bytes; the middle file is skipped, but the pieces it
	// shares with wanted files stay wanted.
	p, _ := piecepicker.New(piecepicker.Config{NumPieces: 5, PieceLength: 100})
	p.SetFilePriorities([]piecepicker.File{
		{Offset: 0, Length: 150, Priority: piecepicker.Normal},
		{Offset: 150, Length: 200, Priority: piecepicker.Skip},
		{Offset: 350, Length: 150, Priority: piecepicker.High},
	})
	for i := range p.NumPieces() {
		fmt.Print(p.Priority(i), " ")
	}
	fmt.Println()
	// Output:
	// 4 4 0 7 7
}

func ExamplePicker_SetWindow() {
	// Streaming: the reader is at piece 5; pieces 5..7 come first, in order, from a seed.
	now := time.Unix(1000, 0)
	p, _ := piecepicker.New(piecepicker.Config{
		NumPieces: 20, PieceLength: 16 << 10,
		Now: func() time.Time { return now },
	})
	seed := p.AddPeer()
	p.PeerHaveAll(seed)
	p.PeerChoked(seed, false)
	p.SetWindow(5, 3, now.Add(time.Second), time.Second)
	fmt.Println(p.Pick(seed, 3, nil))
	// Output:
	// [5/0 6/0 7/0]
}

func ExamplePicker_Received_endgame() {
	// One piece of one block, two seeds: in endgame the second seed gets a duplicate
	// request, and when the first answers, the second's request is to be cancelled.
	p, _ := piecepicker.New(piecepicker.Config{NumPieces: 1, PieceLength: 1000})
	a, b := p.AddPeer(), p.AddPeer()
	for _, pe := range []*piecepicker.Peer{a, b} {
		p.PeerHaveAll(pe)
		p.PeerChoked(pe, false)
	}
	fmt.Println(p.Pick(a, 4, nil), p.Endgame(), p.Pick(b, 4, nil))
	arr, _ := p.Received(a, piecepicker.Block{Piece: 0, Index: 0})
	fmt.Println("cancel to", arr.Cancel, "complete", arr.Complete)
	// Output:
	// [0/0] true [0/0]
	// cancel to [peer#2] complete true
}

func ExampleAllowedFastSet() {
	// The example from BEP 6: 7 pieces of 1313 for a peer at 80.4.4.200.
	var ih [20]byte
	for i := range ih {
		ih[i] = 0xaa
	}
	set, _ := piecepicker.AllowedFastSet(nil, 7, 1313, ih, netip.MustParseAddr("80.4.4.200"))
	fmt.Println(set)
	// Output:
	// [1059 431 808 1217 287 376 1188]
}
