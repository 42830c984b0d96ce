package metainfo

import (
	"crypto/sha256"
	"testing"
)

func TestBlockHashes(t *testing.T) {
	if n := len(BlockHashes(nil)); n != 0 {
		t.Errorf("empty: %d hashes", n)
	}
	data := make([]byte, 2*BlockSize+1)
	data[BlockSize] = 1
	h := BlockHashes(data)
	if len(h) != 3 || h[0] != sha256.Sum256(data[:BlockSize]) || h[1] != sha256.Sum256(data[BlockSize:2*BlockSize]) ||
		h[2] != sha256.Sum256(data[2*BlockSize:]) {
		t.Errorf("BlockHashes wrong: %x", h)
	}
}

func TestMerkleRoot(t *testing.T) {
	a, b, c := HashV2{1}, HashV2{2}, HashV2{3}
	var zero HashV2
	if MerkleRoot([]HashV2{a}, 1) != a {
		t.Error("one leaf is its own root")
	}
	if MerkleRoot([]HashV2{a, b}, 2) != hashPair(a, b) {
		t.Error("two leaves")
	}
	want := hashPair(hashPair(a, b), hashPair(c, zero))
	if MerkleRoot([]HashV2{a, b, c}, 4) != want || MerkleRoot([]HashV2{a, b, c}, 3) != want {
		t.Error("three leaves padded with a zero hash")
	}
	want8 := hashPair(want, hashPair(hashPair(zero, zero), hashPair(zero, zero)))
	if MerkleRoot([]HashV2{a, b, c}, 8) != want8 {
		t.Error("padding to 8 leaves")
	}
	if MerkleRoot(nil, 4) != padHash(4) {
		t.Error("no leaves")
	}
}

// The pieces root computed from a piece layer equals the root over all the
// file's blocks, for every shape of last piece.
func TestPiecesRootMatchesFullTree(t *testing.T) {
	const pl = 4 * BlockSize
	for _, size := range []int{pl + 1, 2 * pl, 3*pl - 5, 5*pl + BlockSize, 9 * pl} {
		data := make([]byte, size)
		for i := range data {
			data[i] = byte(i * 31)
		}
		blocks := BlockHashes(data)
		full := MerkleRoot(blocks, nextPow2(len(blocks)))
		var layer []HashV2
		for off := 0; off < size; off += pl {
			layer = append(layer, MerkleRoot(BlockHashes(data[off:min(off+pl, size)]), pl/BlockSize))
		}
		if got := PiecesRoot(layer, pl); got != full {
			t.Errorf("size %d: PiecesRoot %s, full tree %s", size, got, full)
		}
	}
}

func TestNextPow2(t *testing.T) {
	for in, want := range map[int]int{0: 1, 1: 1, 2: 2, 3: 4, 4: 4, 5: 8, 1000: 1024} {
		if got := nextPow2(in); got != want {
			t.Errorf("nextPow2(%d) = %d, want %d", in, got, want)
		}
	}
}
