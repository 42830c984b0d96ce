package utp

import "sync"

// sendChunk is the size of each buffer of a sendQueue.
const sendChunk = 64 << 10

// chunk is a buffer of a sendQueue. Packets take their payload from it
// without copying; it goes back to chunkPool once it has been consumed
// (dropped from the queue) and every packet holding a piece of it was
// acknowledged (refs back to zero).
type chunk struct {
	b       []byte // written bytes not yet taken are b[off:]
	off     int
	refs    int  // packets holding a slice of b
	dropped bool // consumed and out of the queue
}

var chunkPool = sync.Pool{New: func() any { return &chunk{b: make([]byte, 0, sendChunk)} }}

// release drops a packet's hold on c; the last one recycles a dropped
// chunk. Called with the conn's lock held.
func (c *chunk) release() {
	c.refs--
	if c.refs == 0 && c.dropped {
		c.b, c.off, c.dropped = c.b[:0], 0, false
		chunkPool.Put(c)
	}
}

// sendQueue holds written data not yet in a packet, in chunks, so Write
// appends without moving what is queued and packets take their payload
// without copying. A chunk is only appended to past its length, so taken
// payloads never change while their packets may be sent again.
type sendQueue struct {
	chunks []*chunk
	n      int // bytes queued
}

// len returns the bytes queued.
func (q *sendQueue) len() int { return q.n }

// push queues a copy of b.
func (q *sendQueue) push(b []byte) {
	q.n += len(b)
	for len(b) > 0 {
		if k := len(q.chunks) - 1; k >= 0 {
			last := q.chunks[k]
			if free := cap(last.b) - len(last.b); free > 0 {
				m := min(free, len(b))
				last.b = append(last.b, b[:m]...)
				b = b[m:]
				continue
			}
		}
		q.chunks = append(q.chunks, chunkPool.Get().(*chunk))
	}
}

// take removes and returns the first n bytes (0 < n ≤ len): a slice of a
// chunk with no spare capacity and the chunk, which the caller releases
// once done with the slice; or a copy, and nil, where they span two
// chunks.
func (q *sendQueue) take(n int) ([]byte, *chunk) {
	q.n -= n
	if head := q.chunks[0]; len(head.b)-head.off >= n {
		p := head.b[head.off : head.off+n : head.off+n]
		head.refs++
		q.advance(n)
		return p, head
	}
	p := make([]byte, 0, n)
	for len(p) < n {
		head := q.chunks[0]
		m := min(n-len(p), len(head.b)-head.off)
		p = append(p, head.b[head.off:head.off+m]...)
		q.advance(m)
	}
	return p, nil
}

// advance drops m bytes of the first chunk, and the chunk once it is
// consumed: full and taken to the end.
func (q *sendQueue) advance(m int) {
	head := q.chunks[0]
	head.off += m
	if head.off == cap(head.b) {
		q.chunks[0] = nil
		q.chunks = q.chunks[1:]
		head.dropped = true
		head.refs++
		head.release() // recycled now if no packet holds a piece
	}
}

// reset drops everything queued; the chunks are left to the garbage
// collector, as packets may still hold pieces of them.
func (q *sendQueue) reset() { q.chunks, q.n = nil, 0 }
