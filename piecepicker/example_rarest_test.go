package piecepicker_test

import (
	"fmt"
	"math/rand/v2"

	"github.com/bittern/bittern/piecepicker"
)

// Rarest first: the pieces fewest peers have are requested first, so that
// they spread before their few holders leave. Availability changes as
// peers announce pieces (have messages), and the order follows.
func ExamplePicker_Pick() {
	// 5 pieces of one 16 KiB block each.
	p, err := piecepicker.New(piecepicker.Config{
		NumPieces: 5, PieceLength: 16 << 10,
		Rand: rand.New(rand.NewPCG(1, 2)), // ties are broken at random
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	seed, x, y := p.AddPeer(), p.AddPeer(), p.AddPeer()
	p.PeerHaveAll(seed)
	p.PeerBitfield(x, bits{true, true, true, false, false})
	p.PeerBitfield(y, bits{true, true, false, false, false})
	for i := range p.NumPieces() {
		fmt.Print(p.Availability(i), " ")
	}
	fmt.Println("peers have each piece")

	// The seed unchoked us: we may request. Pieces 3 and 4 tie as rarest.
	p.PeerChoked(seed, false)
	fmt.Println("from the seed:", p.Pick(seed, 1, nil))

	// Piece 3 becomes common, so piece 2 is now the rarest one wanted.
	p.PeerHave(x, 3)
	p.PeerHave(y, 3)
	fmt.Println("then:", p.Pick(seed, 1, nil))
	// Output:
	// 3 3 2 1 1 peers have each piece
	// from the seed: [4/0]
	// then: [2/0]
}
