package bittern

import (
	"bytes"
	"testing"

	"github.com/bittern/bittern/peerwire"
)

// The writer's hand-made piece header matches peerwire's encoding.
func TestAppendPieceHeader(t *testing.T) {
	for _, n := range []int{1, 100, peerwire.BlockSize, peerwire.MaxRequestLength} {
		block := bytes.Repeat([]byte{0xab}, n)
		got := append(appendPieceHeader(nil, 7, 32768, n), block...)
		want := peerwire.Piece{Index: 7, Begin: 32768, Block: block}.AppendTo(nil)
		if !bytes.Equal(got, want) {
			t.Fatalf("n=%d: header %x, want %x", n, got[:peerwire.PieceHeaderLength], want[:peerwire.PieceHeaderLength])
		}
	}
}
