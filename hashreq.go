package bittern

import (
	"crypto/sha256"
	"math/bits"

	"github.com/bittern/bittern/metainfo"
	"github.com/bittern/bittern/peerwire"
)

// BEP 52 hash requests: a v2 or hybrid torrent whose metainfo holds the
// piece layers answers requests for hashes of a file's piece layer, with
// the uncle hashes that prove them against the file's pieces root. Leaf
// (block) hashes are computed from the data of pieces we have, read on
// the I/O pool (leafhash.go). Other requests get a hash reject.

// answerHashRequest answers a hash request, which must be answered with
// hashes or a hash reject. It runs on the reader goroutine and reads only
// immutable metainfo (and the concurrency-safe tree cache).
func (c *peerConn) answerHashRequest(m peerwire.HashRequest) {
	if m.Length > maxHashesAnswered || c.queueLen() >= maxQueuedForHashes {
		// A peer that asks for more, or does not read our answers,
		// gets rejects: small, like the other answers to requests.
		c.send(peerwire.HashReject(m).AppendTo(nil))
		return
	}
	if hs := c.t.hashesFor(m); hs != nil {
		c.send(peerwire.Hashes{HashRequest: m, Hashes: hs}.AppendTo(nil))
		return
	}
	if c.t.answerLeafHashes(c, m) {
		return // answered later, from the data
	}
	c.send(peerwire.HashReject(m).AppendTo(nil))
}

// Limits on the hash requests we answer, against a peer that would make
// us queue hashes faster than it reads them.
const (
	// maxHashesAnswered is the longest request answered: BEP 52 says
	// requests should not ask for more than 512 hashes.
	maxHashesAnswered = 512
	// maxQueuedForHashes: while this many messages wait for the
	// connection's writer, hash requests are rejected.
	maxQueuedForHashes = 64
)

// queueLen returns the number of items waiting for the writer.
func (c *peerConn) queueLen() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.queue)
}

// pieceLayerIndex is the layer of a merkle tree holding piece hashes: the
// number of layers above the 16 KiB leaves.
func pieceLayerIndex(pieceLength int64) uint32 {
	return uint32(bits.TrailingZeros64(uint64(pieceLength / metainfo.BlockSize)))
}

// hashesFor returns the concatenated hashes answering m, or nil if we
// cannot answer it. Proof layer j (from 1) is the sibling of the base
// range's ancestor j layers up; those inside the range's own subtree are
// omitted (BEP 52), and none is sent above the root.
func (t *Torrent) hashesFor(m peerwire.HashRequest) []byte {
	if !t.info.IsV2() || m.BaseLayer != pieceLayerIndex(t.info.PieceLength) {
		return nil
	}
	tree := t.hashTree(m.PiecesRoot)
	if tree == nil {
		return nil
	}
	i, n := int(m.Index), int(m.Length)
	if n == 0 || i+n > len(tree[0]) {
		return nil
	}
	out := make([]byte, 0, 32*(n+len(tree)))
	for _, h := range tree[0][i : i+n] {
		out = append(out, h[:]...)
	}
	k := bits.Len(uint(n - 1)) // height of the range's subtree
	level, count := k, int(m.ProofLayers)
	if k > 0 {
		count -= k - 1
	}
	for ; count > 0 && level < len(tree)-1; count-- {
		h := tree[level][(i>>level)^1]
		out = append(out, h[:]...)
		level++
	}
	return out
}

// hashTree returns the merkle tree of the file with pieces root root from
// its piece layer up: tree[0] is the piece layer padded to a power of two,
// tree[len-1] holds the root. It returns nil if the metainfo has no piece
// layer for root (a file of one piece, or unknown).
func (t *Torrent) hashTree(root metainfo.HashV2) [][]metainfo.HashV2 {
	if v, ok := t.hashTrees.Load(root); ok {
		return v.([][]metainfo.HashV2)
	}
	layer := t.mi.PieceLayers[root]
	n := len(layer) / 32
	if n == 0 {
		return nil
	}
	w := 1 << bits.Len(uint(n-1))
	pad := metainfo.MerkleRoot(nil, int(t.info.PieceLength/metainfo.BlockSize))
	cur := make([]metainfo.HashV2, w)
	for j := range cur {
		if j < n {
			copy(cur[j][:], layer[32*j:])
		} else {
			cur[j] = pad
		}
	}
	tree := [][]metainfo.HashV2{cur}
	var buf [64]byte
	for len(cur) > 1 {
		next := make([]metainfo.HashV2, len(cur)/2)
		for j := range next {
			copy(buf[:32], cur[2*j][:])
			copy(buf[32:], cur[2*j+1][:])
			next[j] = sha256.Sum256(buf[:])
		}
		tree = append(tree, next)
		cur = next
	}
	if cur[0] != root {
		return nil
	}
	t.hashTrees.Store(root, tree)
	return tree
}
