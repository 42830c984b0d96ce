package utp

// sendChunk is the capacity of each buffer of a sendQueue.
const sendChunk = 64 << 10

// sendQueue holds written data not yet in a packet, in chunks, so Write
// appends without moving what is queued and packets take their payload
// without copying. A payload aliases its chunk: chunks are only appended
// to past their length, never rewritten.
type sendQueue struct {
	chunks [][]byte
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
			if free := cap(last) - len(last); free > 0 {
				m := min(free, len(b))
				q.chunks[k] = append(last, b[:m]...)
				b = b[m:]
				continue
			}
		}
		q.chunks = append(q.chunks, make([]byte, 0, max(sendChunk, min(len(b), 1<<20))))
	}
}

// take removes and returns the first n bytes (n ≤ len): a slice of a chunk
// with no spare capacity, or a copy where they span two chunks.
func (q *sendQueue) take(n int) []byte {
	q.n -= n
	head := q.chunks[0]
	if len(head) >= n {
		p := head[:n:n]
		q.advance(n)
		return p
	}
	p := make([]byte, 0, n)
	for len(p) < n {
		head = q.chunks[0]
		m := min(n-len(p), len(head))
		p = append(p, head[:m]...)
		q.advance(m)
	}
	return p
}

// advance drops m bytes of the first chunk.
func (q *sendQueue) advance(m int) {
	q.chunks[0] = q.chunks[0][m:]
	if len(q.chunks[0]) == 0 && (len(q.chunks) > 1 || cap(q.chunks[0]) == 0) {
		q.chunks[0] = nil
		q.chunks = q.chunks[1:]
	}
}

// reset drops everything queued.
func (q *sendQueue) reset() { q.chunks, q.n = nil, 0 }
