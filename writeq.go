package bittern

import "github.com/bittern/bittern/peerwire"

// writeBlocks is the I/O job that writes a piece's queued blocks, in the
// order they arrived, and feeds them to the piece's hash. It runs until
// the queue is empty, so a piece has at most one such job at a time, and
// it reports each batch to the owner with one inbox post.
func (t *Torrent) writeBlocks(piece int, ph *pieceHash) {
	base := int64(piece) * t.info.PieceLength
	var batch []pendingBlock
	for {
		batch = ph.takeQueue(batch)
		if len(batch) == 0 {
			return
		}
		var firstErr error
		for _, b := range batch {
			_, err := t.st.WriteAt(b.data, base+b.begin)
			if err == nil {
				ph.feed(b.begin, b.data)
			} else if firstErr == nil {
				firstErr = err
			}
			peerwire.PutBlock(b.data)
			b.releaseToken(t)
		}
		n := len(batch)
		t.inbox.post(func() { t.onWritten(piece, n, firstErr) })
	}
}

// queueWrite adds a received block (from a peer or a web seed) to its
// piece's write queue, starting a write job if none runs, and notes that
// the piece is to be hashed once its writes are done if complete (every
// block of it received). It runs on the owner.
func (t *Torrent) queueWrite(piece int, complete bool, blk pendingBlock) {
	t.pendingWrites[piece]++
	if complete {
		t.hashWanted[piece] = true
	}
	ph := t.hashers[piece]
	if ph == nil {
		ph = newPieceHash()
		if t.v2 != nil {
			ph.h, ph.leaves = nil, t.newLeafSums(piece) // merkle, not SHA-1
		}
		t.hashers[piece] = ph
	}
	if ph.enqueue(blk) {
		t.jobs.Add(1)
		t.s.io.submit(func() {
			defer t.jobs.Done()
			t.writeBlocks(piece, ph)
		})
	}
}
