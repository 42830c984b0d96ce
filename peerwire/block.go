package peerwire

import "sync"

// blockPool holds BlockSize arrays; storing pointers keeps Get and Put free
// of allocations.
var blockPool = sync.Pool{New: func() any { return new([BlockSize]byte) }}

// GetBlock returns a BlockSize-byte buffer from the package's pool. Return
// it with PutBlock when done.
func GetBlock() []byte { return blockPool.Get().(*[BlockSize]byte)[:] }

// getBlock returns a buffer of length n: pooled if n <= BlockSize.
func getBlock(n int) []byte {
	if n > BlockSize {
		return make([]byte, n)
	}
	return GetBlock()[:n]
}

// PutBlock returns a block to the pool: one from GetBlock, or a Piece.Block
// that ReadMessage took from the pool (Framer.AllocBlock nil). Buffers that
// did not come from the pool (capacity other than BlockSize) are ignored.
// The caller must not use b afterwards.
func PutBlock(b []byte) {
	if cap(b) != BlockSize {
		return
	}
	blockPool.Put((*[BlockSize]byte)(b[:BlockSize]))
}
