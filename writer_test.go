package bittern

import (
	"bytes"
	"net"
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

// countingWriter records the sizes of the writes it gets.
type countingWriter struct {
	bytes.Buffer
	sizes []int
}

func (w *countingWriter) Write(p []byte) (int, error) {
	w.sizes = append(w.sizes, len(p))
	return w.Buffer.Write(p)
}

func TestWriteCoalesced(t *testing.T) {
	var bufs net.Buffers
	var want []byte
	for i := range 10 {
		b := randomData(13+i*20000, uint64(i))
		bufs = append(bufs, b)
		want = append(want, b...)
	}
	var w countingWriter
	buf, err := writeCoalesced(&w, bufs, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(w.Bytes(), want) {
		t.Fatal("bytes differ")
	}
	for i, n := range w.sizes {
		if n > coalesceSize || (i < len(w.sizes)-1 && n != coalesceSize) {
			t.Fatalf("write sizes %v", w.sizes)
		}
	}
	if len(buf) != 0 || cap(buf) != coalesceSize {
		t.Fatalf("returned buffer len %d cap %d", len(buf), cap(buf))
	}
}
