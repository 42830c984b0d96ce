package metainfo

import (
	"crypto/sha256"
	"math/bits"
)

// BlockSize is the size of a BEP 52 merkle tree leaf: 16 KiB.
const BlockSize = 16 << 10

// BlockHashes returns the SHA-256 of each 16 KiB block of data; the last
// block may be shorter. These are the leaves of a BEP 52 merkle tree.
func BlockHashes(data []byte) []HashV2 {
	out := make([]HashV2, 0, (len(data)+BlockSize-1)/BlockSize)
	for len(data) > 0 {
		n := min(len(data), BlockSize)
		out = append(out, sha256.Sum256(data[:n]))
		data = data[n:]
	}
	return out
}

// MerkleRoot returns the root of the BEP 52 merkle tree whose leaves are
// blockHashes padded with zero hashes to numLeaves leaves. numLeaves is
// rounded up to a power of two no smaller than len(blockHashes).
//
// The v2 hash of piece i of a file larger than one piece is
// MerkleRoot(blocks of that piece, PieceLength/BlockSize) — the last piece
// padded like the others. The pieces root of a file no longer than one piece
// is MerkleRoot(all its blocks, len(blocks)).
func MerkleRoot(blockHashes []HashV2, numLeaves int) HashV2 {
	return merkleRootPadded(blockHashes, numLeaves, HashV2{})
}

// PiecesRoot returns the pieces root of a file from its piece layer (one hash
// per piece, as in MetaInfo.PieceLayers) and the piece length. The layer is
// padded to a power of two with the hash of an all-zero piece subtree.
func PiecesRoot(layer []HashV2, pieceLength int64) HashV2 {
	return merkleRootPadded(layer, len(layer), padHash(int(pieceLength/BlockSize)))
}

// padHash returns the root of a subtree of leaves zero leaves (a power of two).
func padHash(leaves int) HashV2 {
	var h HashV2
	for n := 1; n < leaves; n <<= 1 {
		h = hashPair(h, h)
	}
	return h
}

func hashPair(a, b HashV2) HashV2 {
	var buf [64]byte
	copy(buf[:32], a[:])
	copy(buf[32:], b[:])
	return sha256.Sum256(buf[:])
}

// nextPow2 returns the smallest power of two >= n (1 for n <= 1).
func nextPow2(n int) int {
	if n <= 1 {
		return 1
	}
	return 1 << bits.Len(uint(n-1))
}

// merkleRootPadded computes the root over layer padded to width (rounded up
// to a power of two) with pad, the hash of a missing node at this level.
func merkleRootPadded(layer []HashV2, width int, pad HashV2) HashV2 {
	width = nextPow2(max(width, len(layer)))
	if len(layer) == 0 {
		for ; width > 1; width >>= 1 {
			pad = hashPair(pad, pad)
		}
		return pad
	}
	cur := make([]HashV2, len(layer))
	copy(cur, layer)
	for ; width > 1; width >>= 1 {
		n := (len(cur) + 1) / 2
		for i := 0; i < n; i++ {
			right := pad
			if 2*i+1 < len(cur) {
				right = cur[2*i+1]
			}
			cur[i] = hashPair(cur[2*i], right)
		}
		cur = cur[:n]
		pad = hashPair(pad, pad)
	}
	return cur[0]
}
