package peerwire

import (
	"net"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestConcurrentReadWrite runs one reader and one writer on each end of a
// connection, as a session does, while the piece count is set from a third
// goroutine. Run with -race.
func TestConcurrentReadWrite(t *testing.T) {
	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()
	fa, fb := NewFramer(a, a), NewFramer(b, b)
	const n = 500
	block := make([]byte, 1000)
	var wg sync.WaitGroup
	write := func(f *Framer) {
		for i := range n {
			if i%2 == 0 {
				assert.NoError(t, f.WriteHave(uint32(i%100)))
			} else {
				assert.NoError(t, f.WritePiece(uint32(i%100), 0, block))
			}
		}
	}
	read := func(f *Framer) {
		for i := range n {
			m, err := f.ReadMessage()
			if !assert.NoError(t, err) {
				return
			}
			if p, ok := m.(*Piece); ok {
				assert.Equal(t, uint32(i%100), p.Index)
				PutBlock(p.Block)
			}
		}
	}
	wg.Go(func() { write(fa) })
	wg.Go(func() { write(fb) })
	wg.Go(func() { read(fa) })
	wg.Go(func() { read(fb) })
	wg.Go(func() {
		fa.SetPieceCount(100)
		fb.SetPieceLength(1<<20, 100<<20)
		fa.SetExtensions(DefaultReserved)
	})
	wg.Wait()
	require.False(t, t.Failed())
}
