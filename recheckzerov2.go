package bittern

import (
	"context"
	"crypto/sha256"
	"io"

	"github.com/bittern/bittern/metainfo"
)

// skipZeroPiecesV2 is skipZeroPieces for a v2-only torrent: a piece whose
// bytes all read as zero is hashed only if its v2 hash is that of zero
// data of its shape (computed once per shape), so a new download does not
// hash its empty files. only is the selection so far (nil: every piece).
func skipZeroPiecesV2(ctx context.Context, mi *metainfo.MetaInfo, r io.ReaderAt, only []bool) ([]bool, error) {
	info := mi.Info()
	n := info.NumPieces()
	sel := make([]bool, n)
	buf := make([]byte, min(zeroScanChunk, info.PieceLength))
	zeros := make([]byte, len(buf))
	roots := make(map[[2]int64]metainfo.HashV2, 2) // by data length and width
	for p := range n {
		if only != nil && !only[p] {
			continue
		}
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		want, width, dataLen, ok := v2PieceHash(mi, p)
		if !ok || !allZero(r, int64(p)*info.PieceLength, info.PieceSize(p), buf, zeros) {
			sel[p] = true
			continue
		}
		key := [2]int64{dataLen, int64(width)}
		root, ok := roots[key]
		if !ok {
			root = zeroRootV2(dataLen, width)
			roots[key] = root
		}
		sel[p] = root == want
	}
	return sel, nil
}

// zeroRootV2 is the merkle root of dataLen zero bytes over width leaves.
func zeroRootV2(dataLen int64, width int) metainfo.HashV2 {
	var zero [metainfo.BlockSize]byte
	full := sha256.Sum256(zero[:])
	leaves := make([]metainfo.HashV2, 0, (dataLen+metainfo.BlockSize-1)/metainfo.BlockSize)
	for ; dataLen >= metainfo.BlockSize; dataLen -= metainfo.BlockSize {
		leaves = append(leaves, full)
	}
	if dataLen > 0 {
		leaves = append(leaves, sha256.Sum256(zero[:dataLen]))
	}
	return metainfo.MerkleRoot(leaves, width)
}
