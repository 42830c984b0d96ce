package bittern

import (
	"crypto/sha1"
	"hash"
	"io"
	"sync"
)

// pieceHash is the SHA-1 of a piece being downloaded, fed with its blocks
// as they are written, while they arrive in order. At completion only the
// bytes past the in-order prefix are read back from storage, so a piece
// downloaded in order is hashed without being read again. It also holds
// the piece's queue of blocks to write, which keeps them in arrival order.
type pieceHash struct {
	mu   sync.Mutex
	h    hash.Hash
	next int64 // bytes of the piece hashed so far
	// leaves, for a v2-only torrent (h is nil then), collects the SHA-256
	// of each 16 KiB block as it is written, in any order (leafsums.go).
	leaves *leafSums

	// The piece's blocks waiting to be written, in arrival order. One I/O
	// job at a time writes them (see Torrent.writeBlocks), so that blocks
	// that arrive in order reach the hash in order.
	qmu      sync.Mutex
	queue    []pendingBlock
	draining bool // a job is writing the queue
}

// writeQueueCap is the initial capacity of a piece's write queue: enough
// for the blocks that arrive while one batch is written, so that it rarely
// grows.
const writeQueueCap = 32

// pendingBlock is a received block waiting to be written.
type pendingBlock struct {
	begin int64
	data  []byte
	c     *peerConn // whose token the block holds
	ws    *webSeed  // or the web seed's, if not nil
}

// enqueue adds a block to the piece's write queue and reports whether a
// job must be started to write it (none is writing the queue).
func (p *pieceHash) enqueue(b pendingBlock) bool {
	p.qmu.Lock()
	defer p.qmu.Unlock()
	if p.queue == nil {
		p.queue = make([]pendingBlock, 0, writeQueueCap)
	}
	p.queue = append(p.queue, b)
	if p.draining {
		return false
	}
	p.draining = true
	return true
}

// takeQueue returns the blocks queued so far, handing done's storage back
// for reuse. With none queued it returns none and the writing job ends.
func (p *pieceHash) takeQueue(done []pendingBlock) []pendingBlock {
	clear(done)
	p.qmu.Lock()
	defer p.qmu.Unlock()
	q := p.queue
	if len(q) == 0 {
		p.draining = false
		return nil
	}
	p.queue = done[:0]
	return q
}

func newPieceHash() *pieceHash { return &pieceHash{h: sha1.New()} }

// feed hashes the block at offset begin of the piece if it is the next one
// in order; other blocks are left for finish to read back.
func (p *pieceHash) feed(begin int64, block []byte) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.leaves != nil {
		p.leaves.add(begin, block)
		return
	}
	if p.h != nil && begin == p.next {
		p.h.Write(block)
		p.next += int64(len(block))
	}
}

const hashChunk = 256 << 10

var hashBufs = sync.Pool{New: func() any { b := make([]byte, hashChunk); return &b }}

// finish hashes the rest of the piece, bytes [off+next, off+size) of r, and
// reports whether the SHA-1 is want. Call it once every write of the
// piece is done.
func (p *pieceHash) finish(r io.ReaderAt, off, size int64, want [20]byte) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	bp := hashBufs.Get().(*[]byte)
	defer hashBufs.Put(bp)
	buf := *bp
	for p.next < size {
		n := min(int64(len(buf)), size-p.next)
		got, err := r.ReadAt(buf[:n], off+p.next)
		if int64(got) != n || (err != nil && err != io.EOF) {
			return false
		}
		p.h.Write(buf[:n])
		p.next += n
	}
	var sum [20]byte
	p.h.Sum(sum[:0])
	return sum == want
}

// hashPiece verifies a complete piece on the I/O pool, finishing the hash
// its writes started.
func (t *Torrent) hashPiece(piece int) {
	if t.v2 != nil {
		t.hashPieceV2(piece)
		return
	}
	ph := t.hashers[piece]
	delete(t.hashers, piece)
	if ph == nil {
		ph = newPieceHash()
	}
	want, _ := t.info.PieceHash(piece)
	off := int64(piece) * t.info.PieceLength
	size := t.info.PieceSize(piece)
	t.jobs.Add(1)
	t.s.io.submit(func() {
		defer t.jobs.Done()
		ok := false
		if t.ctx.Err() == nil {
			ok = ph.finish(t.st, off, size, want)
		}
		t.inbox.post(func() { t.onHashed(piece, ok) })
	})
}
