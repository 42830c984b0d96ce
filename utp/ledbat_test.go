package utp

import (
	"testing"
	"testing/synctest"
	"time"
)

func TestLedbatController(t *testing.T) {
	now := time.Now()
	l := newLedbat(100*time.Millisecond, now)
	l.slowStart = false
	l.cwnd = 100000
	l.addSample(1000, now) // base delay: 1 ms (plus the clocks' offset)
	// 50 ms of queuing, half the target: +3000 × (10000/100000) × 0.5.
	for range 3 {
		l.addSample(51000, now)
	}
	l.onAck(10000, 100000, true)
	if l.cwnd != 100150 {
		t.Fatalf("below target: cwnd %v, want 100150", l.cwnd)
	}
	// Not using the window: no growth.
	l.onAck(10000, 100000, false)
	if l.cwnd != 100150 {
		t.Fatalf("application-limited: cwnd %v", l.cwnd)
	}
	// 300 ms of queuing: the decrease is clamped to one gain, −300.
	for range 3 {
		l.addSample(301000, now)
	}
	l.onAck(10000, 100000, true)
	if l.cwnd != 99850 {
		t.Fatalf("above target: cwnd %v, want 99850", l.cwnd)
	}
	// The queuing delay is the minimum of the last three samples.
	l.addSample(21000, now)
	if d := l.queuingDelay(); d != 20000 {
		t.Fatalf("queuing delay %d", d)
	}
	// Loss halves, timeout drops to one packet and restarts slow start.
	l.onLoss()
	if l.cwnd != 99850/2 {
		t.Fatalf("after loss %v", l.cwnd)
	}
	l.onTimeout()
	if l.cwnd != minCwnd || !l.slowStart {
		t.Fatalf("after timeout %v %v", l.cwnd, l.slowStart)
	}
	// Slow start adds the acked bytes, until the delay nears the target.
	for range 3 {
		l.addSample(11000, now)
	}
	l.onAck(5000, 5000, true)
	if l.cwnd != minCwnd+5000 || !l.slowStart {
		t.Fatalf("slow start: %v %v", l.cwnd, l.slowStart)
	}
	for range 3 {
		l.addSample(95000, now)
	}
	l.onAck(5000, 5000, true)
	if l.slowStart {
		t.Fatal("slow start continued at 94 ms of queuing")
	}
}

func TestLedbatBaseDelayHistory(t *testing.T) {
	now := time.Now()
	l := newLedbat(100*time.Millisecond, now)
	l.addSample(5000, now)
	for range 3 {
		l.addSample(9000, now.Add(90*time.Second))
	}
	if d := l.queuingDelay(); d != 4000 {
		t.Fatalf("delay %d with the first minute's base", d)
	}
	// Three minutes on, the old minimum has left the history.
	l.addSample(9000, now.Add(4*time.Minute))
	if d := l.queuingDelay(); d != 0 {
		t.Fatalf("delay %d after the base aged out", d)
	}
	// Clocks wrap: a sample just past 2^32 is later, not smaller.
	l2 := newLedbat(100*time.Millisecond, now)
	l2.addSample(0xffffff00, now)
	l2.addSample(0x00000100, now)
	for range 2 {
		l2.addSample(0x00000100, now)
	}
	if d := l2.queuingDelay(); d != 0x200 {
		t.Fatalf("delay across the wrap %#x", d)
	}
}

// TestLedbatBacksOff: a connection sending as fast as it can at a constant
// 10 ms one-way delay keeps its window; when the delay rises to 200 ms
// (190 ms of queuing, above the 100 ms target, but an RTT still below the
// 500 ms minimum timeout, so no timeout interferes) the window shrinks by
// LEDBAT's linear decrease, not to one packet.
func TestLedbatBacksOff(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ea, eb := newNetem(1), newNetem(2)
		ea.base, eb.base = 10*time.Millisecond, 10*time.Millisecond
		// A 64 KiB receive window keeps the virtual transfer small.
		tn := newTestNet(t, ea, eb, nil, &Config{RecvBuffer: 64 << 10})
		ca, cb := tn.connect(t)
		stop := make(chan struct{})
		done := make(chan struct{}, 2)
		go func() {
			defer func() { done <- struct{}{} }()
			buf := make([]byte, 64<<10)
			for {
				select {
				case <-stop:
					return
				default:
				}
				if _, err := ca.Write(buf); err != nil {
					return
				}
			}
		}()
		go func() {
			defer func() { done <- struct{}{} }()
			buf := make([]byte, 64<<10)
			for {
				if _, err := cb.Read(buf); err != nil {
					return
				}
			}
		}()
		cwnd := func() (float64, bool, uint32) {
			ca.mu.Lock()
			defer ca.mu.Unlock()
			return ca.cc.cwnd, ca.cc.slowStart, ca.cc.lastDelay
		}
		time.Sleep(3 * time.Second)
		before, _, delay := cwnd()
		time.Sleep(2 * time.Second)
		steady, _, _ := cwnd()
		if steady < before || delay > 10000 {
			t.Fatalf("at a constant delay the window went from %.0f to %.0f (queuing delay %d µs)", before, steady, delay)
		}
		ea.setDelay(200 * time.Millisecond)
		time.Sleep(3 * time.Second)
		after, slow, delay := cwnd()
		ca.mu.Lock()
		timeouts := ca.timeouts
		ca.mu.Unlock()
		t.Logf("window %.0f at 10 ms, %.0f after 3 s at 200 ms (queuing delay %d µs)", steady, after, delay)
		if slow || delay < 150000 || after > steady-10000 || after <= minCwnd || timeouts > 0 {
			t.Fatalf("did not back off: %.0f → %.0f, slow start %v, delay %d µs", steady, after, slow, delay)
		}
		close(stop)
		ca.Close()
		cb.Close()
		<-done
		<-done
	})
}
