package bittern

import (
	"bytes"
	"context"
	"crypto/sha1"
	"errors"
	"io"

	"github.com/bittern/bittern/metainfo"
)

// zeroScanChunk is how much of a piece skipZeroPieces reads at a time.
const zeroScanChunk = 256 << 10

// skipZeroPieces narrows a recheck to the pieces that may hold data: a
// piece whose bytes all read as zero (a new download, whose files are
// missing or sparse) cannot match its SHA-1 unless that is the hash of
// zeros, so it is not hashed. Checking bytes for zero costs a small
// fraction of hashing them, and a piece with data is told apart by its
// first bytes. only is the recheck's selection (nil: every piece); the
// result has one entry per piece. A read error leaves the piece selected,
// so that the recheck itself reports it.
func skipZeroPieces(ctx context.Context, info *metainfo.Info, r io.ReaderAt, only []bool) ([]bool, error) {
	n := info.NumPieces()
	sel := make([]bool, n)
	buf := make([]byte, min(zeroScanChunk, info.PieceLength))
	zeros := make([]byte, len(buf))
	zeroSums := make(map[int64]metainfo.Hash, 2) // by piece size
	for p := range n {
		if only != nil && !only[p] {
			continue
		}
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		want, ok := info.PieceHash(p)
		if !ok {
			sel[p] = true
			continue
		}
		size := info.PieceSize(p)
		if !allZero(r, int64(p)*info.PieceLength, size, buf, zeros) {
			sel[p] = true
			continue
		}
		sum, ok := zeroSums[size]
		if !ok {
			sum = zeroSHA1(size, zeros)
			zeroSums[size] = sum
		}
		sel[p] = sum == want
	}
	return sel, nil
}

// allZero reports whether the size bytes of r at off all read as zero. A
// failed or short read reports false. buf is scratch and zeros holds
// len(buf) zero bytes.
func allZero(r io.ReaderAt, off, size int64, buf, zeros []byte) bool {
	// The first read is one block: data is told apart at once.
	chunk := min(int64(metainfo.BlockSize), int64(len(buf)))
	for pos := int64(0); pos < size; {
		b := buf[:min(chunk, size-pos)]
		m, err := r.ReadAt(b, off+pos)
		if m < len(b) || (err != nil && !errors.Is(err, io.EOF)) {
			return false
		}
		if !bytes.Equal(b, zeros[:len(b)]) {
			return false
		}
		pos += int64(len(b))
		chunk = int64(len(buf))
	}
	return true
}

// zeroSHA1 is the SHA-1 of size zero bytes; zeros is a run of zeros.
func zeroSHA1(size int64, zeros []byte) metainfo.Hash {
	buf := zeros
	h := sha1.New()
	for size > 0 {
		k := min(size, int64(len(buf)))
		h.Write(buf[:k])
		size -= k
	}
	var sum metainfo.Hash
	h.Sum(sum[:0])
	return sum
}
