package utp

import (
	"bytes"
	"context"
	"net"
	"sync/atomic"
	"testing"
	"time"
)

func TestGSOBatchRules(t *testing.T) {
	pkt := func(n int, fill byte) []byte { return bytes.Repeat([]byte{fill}, n) }
	var b gsoBatch
	if !b.add(pkt(100, 1)) || !b.add(pkt(100, 2)) || !b.add(pkt(40, 3)) {
		t.Fatal("equal packets and a shorter last one must fit")
	}
	if b.add(pkt(40, 4)) || b.add(pkt(20, 4)) {
		t.Fatal("nothing may follow a shorter packet")
	}
	if b.n != 3 || b.seg != 100 || len(b.buf) != 240 {
		t.Fatalf("n=%d seg=%d len=%d", b.n, b.seg, len(b.buf))
	}
	b.reset()
	if !b.add(pkt(50, 1)) || b.add(pkt(51, 2)) {
		t.Fatal("a longer packet must not follow")
	}
	b.reset()
	for i := range gsoMaxSegments {
		if !b.add(pkt(MaxPacketSize, byte(i))) {
			t.Fatalf("packet %d refused", i)
		}
	}
	if b.add(pkt(MaxPacketSize, 0)) || b.add(pkt(10, 0)) {
		t.Fatal("past gsoMaxSegments")
	}
	if len(b.buf) > gsoMaxBytes || len(b.buf) > 65507 {
		t.Fatalf("batch of %d bytes", len(b.buf))
	}
}

func TestSplitSegments(t *testing.T) {
	type seg struct {
		b    []byte
		more bool
	}
	split := func(b []byte, n int) []seg {
		var out []seg
		splitSegments(b, n, func(p []byte, more bool) { out = append(out, seg{p, more}) })
		return out
	}
	b := []byte("aaaabbbbcc")
	got := split(b, 4)
	if len(got) != 3 || string(got[0].b) != "aaaa" || string(got[1].b) != "bbbb" || string(got[2].b) != "cc" ||
		!got[0].more || !got[1].more || got[2].more {
		t.Fatalf("split: %v", got)
	}
	if got := split(b[:8], 4); len(got) != 2 || string(got[1].b) != "bbbb" || got[1].more {
		t.Fatalf("even split: %v", got)
	}
	for _, n := range []int{0, -1, 10, 11} {
		if got := split(b, n); len(got) != 1 || !bytes.Equal(got[0].b, b) || got[0].more {
			t.Fatalf("segment %d: %v", n, got)
		}
	}
	if got := split(nil, 4); len(got) != 1 || len(got[0].b) != 0 {
		t.Fatalf("empty: %v", got)
	}
}

func TestSendQueue(t *testing.T) {
	var q sendQueue
	data := randomBytes(3, 3*sendChunk+1000)
	// Pushes of uneven sizes, takes of packet sizes, interleaved.
	type taken struct {
		p    []byte
		c    *chunk
		want []byte
	}
	var held []taken
	var got []byte
	for off, i := 0, 0; off < len(data) || q.len() > 0; i++ {
		if off < len(data) {
			n := min(len(data)-off, 1+(i*7919)%20000)
			q.push(data[off : off+n])
			off += n
		}
		for q.len() >= MaxPayload || (off == len(data) && q.len() > 0) {
			p, c := q.take(min(q.len(), MaxPayload))
			if cap(p) != len(p) {
				t.Fatal("a payload with spare capacity could be overwritten")
			}
			held = append(held, taken{p, c, append([]byte(nil), p...)})
			got = append(got, p...)
		}
	}
	if !bytes.Equal(got, data) {
		t.Fatal("data differs")
	}
	// Later pushes never overwrote a payload still held.
	for i, h := range held {
		if !bytes.Equal(h.p, h.want) {
			t.Fatalf("payload %d changed while held", i)
		}
	}
	// Released chunks are reused: their refs are back to zero.
	seen := map[*chunk]bool{}
	for _, h := range held {
		if h.c != nil {
			seen[h.c] = true
			h.c.release()
		}
	}
	for c := range seen {
		if c.refs != 0 {
			t.Fatalf("chunk refs %d", c.refs)
		}
	}
	q.push([]byte("x"))
	q.reset()
	if q.len() != 0 {
		t.Fatal("reset")
	}
}

// TestSendQueueReuse: a chunk comes back only after the packets holding
// pieces of it are released, and what they hold is intact until then.
func TestSendQueueReuse(t *testing.T) {
	var q sendQueue
	a := randomBytes(8, sendChunk)
	q.push(a)
	p1, c1 := q.take(sendChunk / 2)
	p2, c2 := q.take(sendChunk / 2)
	if c1 == nil || c1 != c2 || c1.refs != 2 || !c1.dropped {
		t.Fatalf("chunk %p %p refs %d dropped %v", c1, c2, c1.refs, c1.dropped)
	}
	q.push(randomBytes(9, sendChunk)) // a new chunk: c1 is still held
	if !bytes.Equal(p1, a[:sendChunk/2]) || !bytes.Equal(p2, a[sendChunk/2:]) {
		t.Fatal("held payload changed")
	}
	c1.release()
	if c1.b == nil || len(c1.b) != sendChunk {
		t.Fatal("recycled while held")
	}
	c2.release()
	if c1.refs != 0 || len(c1.b) != 0 || c1.dropped {
		t.Fatal("not recycled after the last release")
	}
}

// hidden hides the concrete type of a PacketConn, so a Socket takes the
// generic path (no GSO, no GRO) even over UDP.
type hidden struct{ net.PacketConn }

// udpPair opens two sockets on loopback UDP, wrapping each packet conn
// with wrap (nil: as is), and connects them.
func udpPair(t *testing.T, wrapA, wrapB func(net.PacketConn) net.PacketConn, tweak func(a, b *Socket)) (sa, sb *Socket, ca, cb *Conn) {
	t.Helper()
	mk := func(wrap func(net.PacketConn) net.PacketConn) *Socket {
		pc, err := net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		if wrap != nil {
			pc = wrap(pc)
		}
		return NewSocket(pc, nil)
	}
	sa, sb = mk(wrapA), mk(wrapB)
	t.Cleanup(func() { sa.Close(); sb.Close() })
	if tweak != nil {
		tweak(sa, sb)
	}
	accepted := make(chan *Conn, 1)
	go func() {
		c, err := sb.Accept()
		if err != nil {
			t.Error(err)
		}
		accepted <- c
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ca, err := sa.Dial(ctx, sb.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	return sa, sb, ca, <-accepted
}

// TestUDPTransfer runs transfers over real loopback UDP: with the Linux
// fast path on both ends, with one end on the generic path, and with the
// generic path on both ends.
func TestUDPTransfer(t *testing.T) {
	hide := func(pc net.PacketConn) net.PacketConn { return hidden{pc} }
	for _, tc := range []struct {
		name         string
		wrapA, wrapB func(net.PacketConn) net.PacketConn
	}{
		{"fast", nil, nil},
		{"fast-to-generic", nil, hide},
		{"generic-to-fast", hide, nil},
		{"generic", hide, hide},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sa, sb, ca, cb := udpPair(t, tc.wrapA, tc.wrapB, nil)
			exchange(t, ca, cb, randomBytes(1, 2<<20+77), randomBytes(2, 1<<20+5))
			st := sa.Stats()
			t.Logf("a: gso %v gro %v out %d in %d; b: gso %v gro %v", sa.gso.Load(), sa.gro, st.PacketsOut, st.PacketsIn, sb.gso.Load(), sb.gro)
		})
	}
}

// TestGSOFallback: a GSO send the system refuses turns GSO off and the
// packets go one by one; a transfer still completes.
func TestGSOFallback(t *testing.T) {
	var calls atomic.Int32
	sa, _, ca, cb := udpPair(t, nil, nil, func(a, b *Socket) {
		a.gso.Store(true)
		a.sendGSO = func([]byte, int, *net.UDPAddr) error {
			calls.Add(1)
			return &net.OpError{Op: "write", Net: "udp", Err: errGSORefused}
		}
	})
	exchange(t, ca, cb, randomBytes(5, 1<<20), randomBytes(6, 1000))
	if calls.Load() != 1 || sa.gso.Load() {
		t.Fatalf("%d GSO sends, gso still %v", calls.Load(), sa.gso.Load())
	}
	if st := sa.Stats(); st.WriteErrors != 0 {
		t.Fatalf("%d write errors", st.WriteErrors)
	}
}
