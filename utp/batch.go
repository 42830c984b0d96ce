package utp

import "net"

// Limits of one UDP GSO send: the kernel takes at most 64 segments
// (UDP_MAX_SEGMENTS) and a datagram of at most 64 KiB less the headers;
// 48 full packets (59136 bytes) stay below both.
const (
	gsoMaxSegments = 48
	gsoMaxBytes    = gsoMaxSegments * MaxPacketSize
)

// gsoBatch gathers the packets one flush of a conn sends to its peer, so a
// socket with UDP GSO writes them in one system call. The kernel splits a
// GSO datagram into segments of the first one's size, the last may be
// shorter; add keeps to that rule.
type gsoBatch struct {
	buf    []byte // the packets, back to back
	seg    int    // size of the first packet: the segment size
	n      int    // packets in buf
	closed bool   // the last packet is shorter than seg: nothing may follow
}

// add appends p if the batch can carry it, and reports whether it did.
func (b *gsoBatch) add(p []byte) bool {
	switch {
	case b.n == 0:
		b.seg = len(p)
	case b.closed, len(p) > b.seg, b.n == gsoMaxSegments, len(b.buf)+len(p) > gsoMaxBytes:
		return false
	}
	if b.buf == nil {
		b.buf = make([]byte, 0, gsoMaxBytes)
	}
	b.buf = append(b.buf, p...)
	b.closed = len(p) < b.seg
	b.n++
	return true
}

// reset empties the batch, keeping its buffer.
func (b *gsoBatch) reset() {
	b.buf, b.seg, b.n, b.closed = b.buf[:0], 0, 0, false
}

// splitSegments calls fn with each segment of a datagram that a UDP GRO
// socket returned coalesced: segments of seg bytes, the last may be
// shorter. seg ≤ 0 or ≥ len(b) means one datagram.
func splitSegments(b []byte, seg int, fn func([]byte, bool)) {
	if seg <= 0 || seg >= len(b) {
		fn(b, false)
		return
	}
	for len(b) > 0 {
		n := min(seg, len(b))
		fn(b[:n], n < len(b))
		b = b[n:]
	}
}

// writeBatch sends the packets of b to to: in one GSO system call when the
// socket can, else one by one. A GSO send the system refuses (an old
// kernel, a device without checksum offload) turns GSO off for the socket
// and the packets go one by one.
func (s *Socket) writeBatch(b *gsoBatch, to net.Addr) {
	defer b.reset()
	if b.n == 0 {
		return
	}
	if b.n > 1 && s.gso.Load() {
		if ua, ok := to.(*net.UDPAddr); ok {
			err := s.sendGSO(b.buf, b.seg, ua)
			if err == nil {
				s.stats.packetsOut.Add(uint64(b.n))
				return
			}
			if !gsoUnsupported(err) {
				s.stats.writeErrors.Add(uint64(b.n)) // the retransmission timer resends
				return
			}
			s.gso.Store(false)
		}
	}
	for p := b.buf; len(p) > 0; {
		n := min(b.seg, len(p))
		s.write(p[:n], to)
		p = p[n:]
	}
}
