package utp

import (
	"bytes"
	"io"
	"math/rand/v2"
	"testing"
	"testing/synctest"
	"time"
)

func randomBytes(seed uint64, n int) []byte {
	r := rand.New(rand.NewPCG(seed, 1))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

// exchange sends da from ca to cb and db from cb to ca at the same time,
// checks both arrive intact, then closes both ends.
func exchange(t *testing.T, ca, cb *Conn, da, db []byte) {
	t.Helper()
	errs := make(chan error, 4)
	got := make([][]byte, 2)
	send := func(c *Conn, d []byte) {
		// Writes in uneven pieces, to mix full and short packets.
		for off, i := 0, 0; off < len(d); i++ {
			n := min(len(d)-off, 1+(i*7919)%100000)
			if _, err := c.Write(d[off : off+n]); err != nil {
				errs <- err
				return
			}
			off += n
		}
		errs <- nil
	}
	recv := func(c *Conn, n int, slot int) {
		buf := make([]byte, n)
		_, err := io.ReadFull(c, buf)
		got[slot] = buf
		errs <- err
	}
	go send(ca, da)
	go send(cb, db)
	go recv(cb, len(da), 0)
	go recv(ca, len(db), 1)
	for range 4 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	if !bytes.Equal(got[0], da) || !bytes.Equal(got[1], db) {
		t.Fatal("data differs")
	}
}

func TestTransfer(t *testing.T) {
	const size = 3 << 20
	for _, tc := range []struct {
		name         string
		loss, dup    float64
		base, jitter time.Duration
	}{
		{name: "clean", base: 10 * time.Millisecond},
		{name: "loss5", loss: 0.05, base: 10 * time.Millisecond},
		{name: "loss20", loss: 0.20, base: 10 * time.Millisecond},
		{name: "reorder", base: 5 * time.Millisecond, jitter: 20 * time.Millisecond},
		{name: "duplicate", dup: 0.10, base: 10 * time.Millisecond},
		{name: "everything", loss: 0.05, dup: 0.05, base: 5 * time.Millisecond, jitter: 10 * time.Millisecond},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				mk := func(seed uint64) *netem {
					e := newNetem(seed)
					e.loss, e.dup, e.base, e.jitter = tc.loss, tc.dup, tc.base, tc.jitter
					return e
				}
				cfg := &Config{MaxRetransmits: 20}
				tn := newTestNet(t, mk(1), mk(2), cfg, cfg)
				ca, cb := tn.connect(t)
				start := time.Now()
				exchange(t, ca, cb, randomBytes(1, size), randomBytes(2, size))
				t.Logf("%s: 2×%d bytes in %v virtual", tc.name, size, time.Since(start))
				ca.Close()
				cb.Close()
			})
		})
	}
}

// TestSequenceWraparound: both directions cross 0xffff→0 in mid-transfer,
// with loss and reordering so selective acks and retransmissions span the
// wrap.
func TestSequenceWraparound(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ea, eb := newNetem(3), newNetem(4)
		for _, e := range []*netem{ea, eb} {
			e.base, e.jitter, e.loss = 5*time.Millisecond, 5*time.Millisecond, 0.03
		}
		tn := newTestNet(t, ea, eb, nil, nil)
		ca, cb := tn.connect(t)
		exchange(t, ca, cb, []byte("first"), []byte("data"))
		time.Sleep(time.Second) // every ack has arrived
		ca.mu.Lock()
		cb.mu.Lock()
		if len(ca.out) != 0 || len(cb.out) != 0 || len(ca.ooo) != 0 || len(cb.ooo) != 0 {
			t.Fatal("not idle")
		}
		// Move both senders (and what their peers expect) near the wrap.
		for _, p := range []struct{ s, r *Conn }{{ca, cb}, {cb, ca}} {
			p.s.seq = 0xff00
			p.s.ackedTo, p.s.lossSeq = 0xfeff, 0xfeff
			p.r.ack = 0xfeff
		}
		cb.mu.Unlock()
		ca.mu.Unlock()
		exchange(t, ca, cb, randomBytes(7, 1<<20), randomBytes(8, 1<<20))
		ca.mu.Lock()
		defer ca.mu.Unlock()
		if ca.seq >= 0xff00 { // numerically: it went past 0xffff
			t.Fatalf("did not wrap: seq %#x", ca.seq)
		}
	})
}
