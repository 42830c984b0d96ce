package bittern

import "github.com/bittern/bittern/peerwire"

// queueRead adds a block to read for the peer and reports whether a job
// must be started to read it (none is reading the connection's queue).
func (c *peerConn) queueRead(k blockKey) bool {
	c.rmu.Lock()
	defer c.rmu.Unlock()
	c.readQ = append(c.readQ, k)
	if c.reading {
		return false
	}
	c.reading = true
	return true
}

// takeReads returns the blocks queued to read, handing done's storage
// back for reuse. With none queued it returns none and the reading job
// ends.
func (c *peerConn) takeReads(done []blockKey) []blockKey {
	c.rmu.Lock()
	defer c.rmu.Unlock()
	q := c.readQ
	if len(q) == 0 {
		c.reading = false
		return nil
	}
	c.readQ = done[:0]
	return q
}

// readResult is a block read for a peer.
type readResult struct {
	k   blockKey
	buf []byte
	err error
}

// readBlocks is the I/O job that reads the blocks a peer requested, one
// after the other in request order, so that they are sent in that order
// and the peer can hash each piece as its blocks arrive. It runs until
// the connection's queue is empty and reports each batch to the owner
// with one inbox post.
func (t *Torrent) readBlocks(c *peerConn) {
	var q []blockKey
	for {
		q = c.takeReads(q)
		keys := q
		if len(keys) == 0 {
			return
		}
		for len(keys) > 0 {
			n := min(len(keys), readBatchLen)
			t.readBatch(c, keys[:n])
			keys = keys[n:]
		}
	}
}

// readBatchLen is the number of blocks readBlocks reads before it hands them
// to the owner: the writer gets the first blocks without waiting for a
// whole queue to be read.
const readBatchLen = 16

// readBatch reads keys for c and posts the blocks to the owner.
func (t *Torrent) readBatch(c *peerConn, keys []blockKey) {
	res := make([]readResult, len(keys))
	for i, k := range keys {
		var buf []byte
		if k.length <= peerwire.BlockSize {
			buf = peerwire.GetBlock()[:k.length]
		} else {
			buf = make([]byte, k.length)
		}
		off := int64(k.index)*t.info.PieceLength + int64(k.begin)
		n, err := t.readBlock(buf, off)
		if n == len(buf) {
			err = nil
		}
		res[i] = readResult{k, buf, err}
	}
	t.inbox.post(func() {
		for _, r := range res {
			t.onRead(c, r.k, r.buf, r.err)
		}
	})
}
