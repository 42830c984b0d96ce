package bittern

import (
	"crypto/sha256"
	"math/bits"

	"github.com/bittern/bittern/metainfo"
	"github.com/bittern/bittern/peerwire"
)

// BEP 52 leaf hash requests: the hashes of a file's 16 KiB blocks are
// not in the metainfo, so they are computed from the data of pieces we
// have, read on the I/O pool, with the uncle hashes up to the pieces root
// (from the blocks read and the piece layer). BEP 52 forbids rejecting
// one that follows a request we served for a block in its range.

// Limits on leaf hash requests, against a peer making us read and hash.
const (
	// maxLeafHashes is the most leaf hashes one request may ask for: 8
	// MiB of data read. Longer requests are rejected.
	maxLeafHashes = 512
	// maxLeafJobs is the most leaf requests of one connection answered
	// at once; more are rejected.
	maxLeafJobs = 2
)

// leafFile returns the index in t.info.Files of the file whose pieces
// root is root, or -1.
func (t *Torrent) leafFile(root metainfo.HashV2) int {
	t.byRootOnce.Do(func() {
		t.byRoot = make(map[metainfo.HashV2]int)
		for i, f := range t.info.Files {
			if !f.Pad && f.Length > 0 {
				t.byRoot[f.PiecesRoot] = i
			}
		}
	})
	if i, ok := t.byRoot[root]; ok {
		return i
	}
	return -1
}

// leafGeometry describes the merkle tree of one file for a leaf request.
type leafGeometry struct {
	file       metainfo.File
	width      int // leaves of the tree, padding included
	pieceLevel int // the level of piece hashes (of the root, for a file of one piece)
	first      int // first piece of the file covered by the request
	last       int // last one
}

// answerLeafHashes starts answering m, a request for leaf hashes, from
// the data; it reports false if it cannot (the caller rejects m). It runs
// on the reader goroutine: the owner checks that the pieces are ours,
// then the I/O pool reads and hashes them and queues the answer.
func (t *Torrent) answerLeafHashes(c *peerConn, m peerwire.HashRequest) bool {
	if !t.info.IsV2() || m.BaseLayer != 0 || m.Length > maxLeafHashes {
		return false
	}
	fi := t.leafFile(m.PiecesRoot)
	if fi < 0 {
		return false
	}
	g := leafGeometry{file: t.info.Files[fi]}
	pl := t.info.PieceLength
	bpp := int(pl / metainfo.BlockSize)
	blocks := int((g.file.Length + metainfo.BlockSize - 1) / metainfo.BlockSize)
	pieces := int((g.file.Length + pl - 1) / pl)
	if g.file.Length <= pl {
		g.width = 1 << bits.Len(uint(blocks-1))
		g.pieceLevel = bits.TrailingZeros(uint(g.width))
	} else {
		if t.hashTree(m.PiecesRoot) == nil {
			return false
		}
		g.width = (1 << bits.Len(uint(pieces-1))) * bpp
		g.pieceLevel = bits.TrailingZeros(uint(bpp))
	}
	i, n := int(m.Index), int(m.Length)
	unit := 1 << g.pieceLevel
	g.first, g.last = i/unit, min((i+n-1)/unit, pieces-1)
	if i+n > g.width || g.first > g.last {
		return false
	}
	if c.leafJobs.Add(1) > maxLeafJobs {
		c.leafJobs.Add(-1)
		return false
	}
	t.inbox.post(func() {
		p0 := int(g.file.Offset / pl)
		if c.removed {
			c.leafJobs.Add(-1)
			return
		}
		for p := g.first; p <= g.last; p++ {
			if !t.picker.HasPiece(p0 + p) {
				c.leafJobs.Add(-1)
				c.send(peerwire.HashReject(m).AppendTo(nil))
				return
			}
		}
		t.jobs.Add(1)
		t.s.io.submit(func() {
			defer t.jobs.Done()
			defer c.leafJobs.Add(-1)
			if hs := t.leafHashes(&g, m); hs != nil {
				c.send(peerwire.Hashes{HashRequest: m, Hashes: hs}.AppendTo(nil))
			} else {
				c.send(peerwire.HashReject(m).AppendTo(nil))
			}
		})
	})
	return true
}

// leafHashes reads the pieces g covers and returns the answer to m: the
// requested leaf hashes and their uncles; nil if a read fails or the data
// does not hash to the file's tree.
func (t *Torrent) leafHashes(g *leafGeometry, m peerwire.HashRequest) []byte {
	pl := t.info.PieceLength
	unit := 1 << g.pieceLevel
	leaves := make([]metainfo.HashV2, (g.last-g.first+1)*unit) // zero hashes pad
	blk := peerwire.GetBlock()
	defer peerwire.PutBlock(blk)
	end := g.file.Offset + g.file.Length
	for p := g.first; p <= g.last; p++ {
		off := g.file.Offset + int64(p)*pl
		for b := 0; off < end && b < unit; b++ {
			sz := min(int64(metainfo.BlockSize), end-off)
			if n, _ := t.st.ReadAt(blk[:sz], off); int64(n) < sz {
				return nil
			}
			leaves[(p-g.first)*unit+b] = sha256.Sum256(blk[:sz])
			off += sz
		}
	}
	// The levels of the covered pieces' subtrees, up to the piece hashes.
	levels := [][]metainfo.HashV2{leaves}
	var buf [64]byte
	for l := 0; l < g.pieceLevel; l++ {
		cur := levels[l]
		next := make([]metainfo.HashV2, len(cur)/2)
		for j := range next {
			copy(buf[:32], cur[2*j][:])
			copy(buf[32:], cur[2*j+1][:])
			next[j] = sha256.Sum256(buf[:])
		}
		levels = append(levels, next)
	}
	var tree [][]metainfo.HashV2 // above the piece level: nil for a one-piece file
	height := g.pieceLevel
	if g.file.Length > pl {
		tree = t.hashTree(g.file.PiecesRoot)
		height += len(tree) - 1
	}
	// The data must agree with the tree the peer checks against.
	for j, h := range levels[g.pieceLevel] {
		if (tree == nil && h != g.file.PiecesRoot) || (tree != nil && h != tree[0][g.first+j]) {
			return nil
		}
	}
	base := g.first * unit
	node := func(level, idx int) (metainfo.HashV2, bool) {
		if level <= g.pieceLevel {
			if k := idx - base>>level; k >= 0 && k < len(levels[level]) {
				return levels[level][k], true
			}
		}
		if tree != nil && level >= g.pieceLevel {
			if l := tree[level-g.pieceLevel]; idx < len(l) {
				return l[idx], true
			}
		}
		if level == 0 {
			return metainfo.HashV2{}, true // a padding leaf past the file's pieces
		}
		return metainfo.HashV2{}, false
	}
	i, n := int(m.Index), int(m.Length)
	out := make([]byte, 0, 32*(n+height))
	for idx := i; idx < i+n; idx++ {
		h, _ := node(0, idx)
		out = append(out, h[:]...)
	}
	k := bits.Len(uint(n - 1))
	level, count := k, int(m.ProofLayers)
	if k > 0 {
		count -= k - 1
	}
	for ; count > 0 && level < height; count-- {
		h, ok := node(level, (i>>level)^1)
		if !ok {
			return nil
		}
		out = append(out, h[:]...)
		level++
	}
	return out
}
