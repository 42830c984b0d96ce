package utp

import (
	"bytes"
	"io"
	"net"
	"net/netip"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/bittern/bittern/internal/memnet"
)

// blackhole drops every packet written while it is on, as a receiver
// whose UDP buffer overflowed does.
type blackhole struct {
	net.PacketConn
	mu      sync.Mutex
	until   time.Time
	dropped int
}

func (b *blackhole) WriteTo(p []byte, addr net.Addr) (int, error) {
	b.mu.Lock()
	drop := time.Now().Before(b.until)
	if drop {
		b.dropped++
	}
	b.mu.Unlock()
	if drop {
		return len(p), nil
	}
	return b.PacketConn.WriteTo(p, addr)
}

func (b *blackhole) drop(d time.Duration) {
	b.mu.Lock()
	b.until = time.Now().Add(d)
	b.mu.Unlock()
}

// probeNet is a sender a and a receiver b, 10 ms apart each way; a writes
// through a blackhole.
func probeNet(t *testing.T, cfg *Config) (hole *blackhole, ca, cb *Conn, sa *Socket) {
	t.Helper()
	n := memnet.New(&memnet.Config{QueueLen: 4096})
	listen := func(ip string) *memnet.PacketConn {
		pc, err := n.Listen(netip.MustParseAddrPort(ip + ":6881"))
		if err != nil {
			t.Fatal(err)
		}
		return pc
	}
	ea, eb := newNetem(1), newNetem(2)
	ea.base, eb.base = 10*time.Millisecond, 10*time.Millisecond
	hole = &blackhole{PacketConn: &lossyConn{PacketConn: listen("10.0.0.1"), em: ea}}
	sa = NewSocket(hole, cfg)
	sb := NewSocket(&lossyConn{PacketConn: listen("10.0.0.2"), em: eb}, cfg)
	t.Cleanup(func() {
		sa.Close()
		sb.Close()
	})
	ca, cb = (&testNet{a: sa, b: sb}).connect(t)
	return hole, ca, cb, sa
}

// TestTailLossProbe: every packet the sender writes for 30 ms (1.5 RTTs),
// or for 100 ms (the first probe is dropped too), is dropped, so a whole
// window is lost and nothing comes back to ack. A probe, not the 500 ms
// timeout, finds the loss: the transfer ends with no timeout.
func TestTailLossProbe(t *testing.T) {
	for _, drop := range []time.Duration{30 * time.Millisecond, 100 * time.Millisecond} {
		t.Run(drop.String(), func(t *testing.T) { testTailLossProbe(t, drop) })
	}
}

func testTailLossProbe(t *testing.T, drop time.Duration) {
	synctest.Test(t, func(t *testing.T) {
		hole, ca, cb, sa := probeNet(t, nil)
		data := randomBytes(5, 2<<20)
		go func() {
			ca.Write(data)
			ca.Close()
		}()
		got := make([]byte, len(data))
		if _, err := io.ReadFull(cb, got[:512<<10]); err != nil {
			t.Fatal(err)
		}
		ca.mu.Lock()
		inflight := len(ca.out)
		ca.mu.Unlock()
		hole.drop(drop)
		start := time.Now()
		if _, err := io.ReadFull(cb, got[512<<10:]); err != nil {
			t.Fatal(err)
		}
		took := time.Since(start)
		if !bytes.Equal(got, data) {
			t.Fatal("data differs")
		}
		st := sa.Stats()
		t.Logf("%d packets in flight, %d dropped; rest in %v virtual; %+v", inflight, hole.dropped, took, st)
		if hole.dropped < 20 || st.TailProbes == 0 || st.Timeouts != 0 || took >= minTimeout {
			t.Fatalf("dropped %d, probes %d, timeouts %d: want a window lost and found by a probe", hole.dropped, st.TailProbes, st.Timeouts)
		}
		cb.Close()
	})
}

// TestProbeDelaySpike: the sender's one-way delay jumps from 10 to 150 ms
// in mid-transfer, so acks stop for longer than a probe timeout but nothing
// is lost. The probe's ack is the late original's; the packets after it
// are acked in time and are not taken for lost, so the window is not cut
// and nothing but the probe is sent twice.
func TestProbeDelaySpike(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := memnet.New(&memnet.Config{QueueLen: 4096})
		ea, eb := newNetem(1), newNetem(2)
		ea.base, eb.base = 10*time.Millisecond, 10*time.Millisecond
		tn := &testNet{net: n}
		for _, x := range []struct {
			ip string
			em *netem
			s  **Socket
		}{{"10.0.0.1", ea, &tn.a}, {"10.0.0.2", eb, &tn.b}} {
			pc, err := n.Listen(netip.MustParseAddrPort(x.ip + ":6881"))
			if err != nil {
				t.Fatal(err)
			}
			*x.s = NewSocket(&lossyConn{PacketConn: pc, em: x.em}, nil)
		}
		t.Cleanup(func() {
			tn.a.Close()
			tn.b.Close()
		})
		ca, cb := tn.connect(t)
		data := randomBytes(6, 1<<20)
		go func() {
			ca.Write(data)
			ca.Close()
		}()
		got := make([]byte, len(data))
		if _, err := io.ReadFull(cb, got[:256<<10]); err != nil {
			t.Fatal(err)
		}
		ea.setDelay(150 * time.Millisecond)
		if _, err := io.ReadFull(cb, got[256<<10:]); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, data) {
			t.Fatal("data differs")
		}
		st := tn.a.Stats()
		t.Logf("%+v", st)
		if st.TailProbes == 0 || st.Retransmits > st.TailProbes || st.Timeouts != 0 {
			t.Fatalf("probes %d, retransmits %d, timeouts %d: want probes only", st.TailProbes, st.Retransmits, st.Timeouts)
		}
		cb.Close()
	})
}
