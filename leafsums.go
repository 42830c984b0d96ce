package bittern

import (
	"crypto/sha256"
	"sync"

	"github.com/bittern/bittern/metainfo"
)

// leafSums collects the leaf hashes of one piece of a v2-only torrent as
// its blocks are written, so that the piece is verified without being read
// back: its merkle root over the blocks is compared with the piece's hash
// from the piece layer (or the pieces root of a file of one piece).
type leafSums struct {
	mu      sync.Mutex
	leaves  []metainfo.HashV2
	have    []bool
	got     int
	dataLen int64 // bytes of the piece in its file; the rest is padding
	width   int   // leaves of the piece's subtree, padding included
	want    metainfo.HashV2
	broken  bool // a block that is not one whole leaf: read the piece back
}

// newLeafSums prepares the leaf hashes of piece, or returns nil if the
// piece must be read back to be verified.
func (t *Torrent) newLeafSums(piece int) *leafSums {
	want, width, dataLen, ok := v2PieceHash(t.mi, piece)
	if !ok {
		return nil
	}
	n := int((dataLen + metainfo.BlockSize - 1) / metainfo.BlockSize)
	return &leafSums{dataLen: dataLen, width: width, want: want, leaves: make([]metainfo.HashV2, n), have: make([]bool, n)}
}

// v2PieceHash returns the v2 hash of piece p of a v2 torrent (from the
// piece layer of its file, or the pieces root of a file of one piece),
// the leaves of its merkle subtree (padding included) and the bytes of
// file data it holds; ok is false if mi does not say.
func v2PieceHash(mi *metainfo.MetaInfo, p int) (want metainfo.HashV2, width int, dataLen int64, ok bool) {
	info := mi.Info()
	pl := info.PieceLength
	off := int64(p) * pl
	fi := info.FileIndex(off)
	if fi < 0 || info.Files[fi].Pad || (off-info.Files[fi].Offset)%pl != 0 {
		return want, 0, 0, false
	}
	f := &info.Files[fi]
	dataLen = min(pl, f.Offset+f.Length-off)
	if f.Length <= pl {
		return f.PiecesRoot, int((dataLen + metainfo.BlockSize - 1) / metainfo.BlockSize), dataLen, true
	}
	layer := mi.PieceLayers[f.PiecesRoot]
	k := int((off - f.Offset) / pl)
	if len(layer) < 32*(k+1) {
		return want, 0, 0, false
	}
	copy(want[:], layer[32*k:])
	return want, int(pl / metainfo.BlockSize), dataLen, true
}

// add hashes a block written at offset begin of the piece: each whole
// 16 KiB leaf of it (the last one of the file may be shorter; bytes past
// the file's end are padding and not hashed).
func (ls *leafSums) add(begin int64, block []byte) {
	ls.mu.Lock()
	defer ls.mu.Unlock()
	for len(block) > 0 {
		if begin%metainfo.BlockSize != 0 {
			ls.broken = true
			return
		}
		size := min(int64(len(block)), metainfo.BlockSize)
		data := min(size, ls.dataLen-begin)
		if data <= 0 {
			return // padding only
		}
		if data < metainfo.BlockSize && begin+data != ls.dataLen {
			ls.broken = true // a short block that does not end the data
			return
		}
		i := int(begin / metainfo.BlockSize)
		ls.leaves[i] = sha256.Sum256(block[:data])
		if !ls.have[i] {
			ls.have[i] = true
			ls.got++
		}
		begin += size
		block = block[size:]
	}
}

// verdict reports whether every leaf was hashed (done) and, if so,
// whether the piece matches its hash. A nil leafSums is never done.
func (ls *leafSums) verdict() (done, match bool) {
	if ls == nil {
		return false, false
	}
	ls.mu.Lock()
	defer ls.mu.Unlock()
	if ls.broken || ls.got != len(ls.leaves) {
		return false, false
	}
	return true, metainfo.MerkleRoot(ls.leaves, ls.width) == ls.want
}
