package utp

import (
	"math/rand/v2"
	"net"
	"net/netip"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/bittern/bittern/internal/memnet"
)

// netem impairs the packets written through a lossyConn: loss,
// duplication, and a delay (base plus jitter, which reorders). Its random
// source is seeded, so a run is repeatable in a synctest bubble.
type netem struct {
	mu     sync.Mutex
	rng    *rand.Rand
	loss   float64
	dup    float64
	base   time.Duration
	jitter time.Duration
	sent   int
	lost   int
}

func newNetem(seed uint64) *netem { return &netem{rng: rand.New(rand.NewPCG(seed, 7))} }

// setDelay changes the base delay of later packets.
func (e *netem) setDelay(d time.Duration) {
	e.mu.Lock()
	e.base = d
	e.mu.Unlock()
}

// lossyConn is a net.PacketConn that passes writes through a netem.
// Delayed packets leave in order of their due time, those due at the same
// time in the order they were written.
type lossyConn struct {
	*memnet.PacketConn
	em *netem

	mu      sync.Mutex
	pending []delayed
	timer   *time.Timer
}

type delayed struct {
	at   time.Time
	b    []byte
	addr net.Addr
}

func (l *lossyConn) WriteTo(b []byte, addr net.Addr) (int, error) {
	e := l.em
	e.mu.Lock()
	e.sent++
	drop := e.rng.Float64() < e.loss
	copies := 1
	if e.rng.Float64() < e.dup {
		copies = 2
	}
	delays := make([]time.Duration, copies)
	for i := range delays {
		delays[i] = e.base
		if e.jitter > 0 {
			delays[i] += time.Duration(e.rng.Int64N(int64(e.jitter)))
		}
	}
	if drop {
		e.lost++
	}
	e.mu.Unlock()
	if drop {
		return len(b), nil
	}
	now := time.Now()
	for _, d := range delays {
		if d <= 0 {
			if _, err := l.PacketConn.WriteTo(b, addr); err != nil {
				return 0, err
			}
			continue
		}
		l.schedule(delayed{now.Add(d), append([]byte(nil), b...), addr})
	}
	return len(b), nil
}

func (l *lossyConn) schedule(p delayed) {
	l.mu.Lock()
	defer l.mu.Unlock()
	i := len(l.pending)
	for i > 0 && p.at.Before(l.pending[i-1].at) {
		i--
	}
	l.pending = slices.Insert(l.pending, i, p)
	if i == 0 {
		if l.timer == nil {
			l.timer = time.AfterFunc(time.Until(p.at), l.release)
		} else {
			l.timer.Reset(time.Until(p.at))
		}
	}
}

func (l *lossyConn) release() {
	l.mu.Lock()
	now := time.Now()
	n := 0
	for n < len(l.pending) && !l.pending[n].at.After(now) {
		n++
	}
	due := slices.Clone(l.pending[:n])
	l.pending = slices.Delete(l.pending, 0, n)
	if len(l.pending) > 0 {
		l.timer.Reset(time.Until(l.pending[0].at))
	}
	l.mu.Unlock()
	for _, p := range due {
		_, _ = l.PacketConn.WriteTo(p.b, p.addr)
	}
}

// Close stops the delivery timer and closes the conn.
func (l *lossyConn) Close() error {
	l.mu.Lock()
	if l.timer != nil {
		l.timer.Stop()
	}
	l.pending = nil
	l.mu.Unlock()
	return l.PacketConn.Close()
}

// testNet is two sockets on a memnet network, a at 10.0.0.1 and b at
// 10.0.0.2, each writing through its own netem (nil: none).
type testNet struct {
	net  *memnet.Network
	a, b *Socket
}

func newTestNet(t *testing.T, emA, emB *netem, cfgA, cfgB *Config) *testNet {
	t.Helper()
	n := memnet.New(&memnet.Config{QueueLen: 4096})
	mk := func(ip string, em *netem, cfg *Config) *Socket {
		pc, err := n.Listen(netip.MustParseAddrPort(ip + ":6881"))
		if err != nil {
			t.Fatal(err)
		}
		var c net.PacketConn = pc
		if em != nil {
			c = &lossyConn{PacketConn: pc, em: em}
		}
		return NewSocket(c, cfg)
	}
	tn := &testNet{net: n, a: mk("10.0.0.1", emA, cfgA), b: mk("10.0.0.2", emB, cfgB)}
	t.Cleanup(func() {
		tn.a.Close()
		tn.b.Close()
	})
	return tn
}

// connect dials b from a and returns both ends.
func (tn *testNet) connect(t *testing.T) (ca, cb *Conn) {
	t.Helper()
	type res struct {
		c   *Conn
		err error
	}
	ch := make(chan res, 1)
	go func() {
		c, err := tn.b.Accept()
		ch <- res{c, err}
	}()
	ca, err := tn.a.Dial(t.Context(), "10.0.0.2:6881")
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	r := <-ch
	if r.err != nil {
		t.Fatalf("accept: %v", r.err)
	}
	return ca, r.c
}
