package utp

import (
	"context"
	"errors"
	"io"
	"net"
	"net/netip"
	"os"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/bittern/bittern/internal/memnet"
)

func TestCloseSendsFIN(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tn := newTestNet(t, nil, nil, nil, nil)
		ca, cb := tn.connect(t)
		data := randomBytes(3, 100000)
		if _, err := ca.Write(data); err != nil {
			t.Fatal(err)
		}
		if err := ca.Close(); err != nil {
			t.Fatal(err)
		}
		got, err := io.ReadAll(cb)
		if err != nil || string(got) != string(data) {
			t.Fatalf("read %d bytes, %v", len(got), err)
		}
		if _, err := ca.Write([]byte("x")); !errors.Is(err, net.ErrClosed) {
			t.Fatalf("write after close: %v", err)
		}
		if err := ca.Close(); !errors.Is(err, net.ErrClosed) {
			t.Fatalf("second close: %v", err)
		}
		// The other side may still write after the FIN, then closes.
		if err := cb.Close(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(10 * time.Second) // lingering ends
		if a, b := tn.a.Stats().Conns, tn.b.Stats().Conns; a != 0 || b != 0 {
			t.Fatalf("conns left: %d, %d", a, b)
		}
	})
}

func TestResetByPeer(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tn := newTestNet(t, nil, nil, nil, nil)
		ca, _ := tn.connect(t)
		readErr := make(chan error, 1)
		go func() {
			_, err := ca.Read(make([]byte, 10))
			readErr <- err
		}()
		tn.b.Close() // resets its conns
		if err := <-readErr; !errors.Is(err, ErrReset) {
			t.Fatalf("read: %v, want ErrReset", err)
		}
		if _, err := ca.Write([]byte("x")); !errors.Is(err, ErrReset) {
			t.Fatalf("write: %v", err)
		}
	})
}

func TestDialRefused(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tn := newTestNet(t, nil, nil, nil, &Config{MaxConns: 1})
		tn.connect(t)
		_, err := tn.a.Dial(t.Context(), "10.0.0.2:6881")
		if !errors.Is(err, ErrReset) {
			t.Fatalf("dial past MaxConns: %v", err)
		}
		if st := tn.b.Stats(); st.Refused != 1 || st.Conns != 1 {
			t.Fatalf("stats %+v", st)
		}
		if _, err := tn.a.Dial(t.Context(), "10.0.0.2:6881"); err == nil {
			t.Fatal("second dial past MaxConns worked")
		}
	})
}

func TestMaxConnsDial(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tn := newTestNet(t, nil, nil, &Config{MaxConns: 1}, nil)
		tn.connect(t)
		if _, err := tn.a.Dial(t.Context(), "10.0.0.2:6881"); !errors.Is(err, ErrTooManyConns) {
			t.Fatalf("%v", err)
		}
	})
}

func TestSynTimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tn := newTestNet(t, nil, nil, nil, nil)
		start := time.Now()
		_, err := tn.a.Dial(t.Context(), "10.0.0.9:6881") // nobody there
		if !errors.Is(err, ErrTimeout) {
			t.Fatalf("%v", err)
		}
		// SYN at 0, resent at 1, 3 and 7 s, given up at 15 s.
		if d := time.Since(start); d != 15*time.Second {
			t.Fatalf("gave up after %v", d)
		}
		if n := tn.a.Stats().Conns; n != 0 {
			t.Fatalf("%d conns left", n)
		}
	})
}

func TestDialContext(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tn := newTestNet(t, nil, nil, nil, nil)
		ctx, cancel := context.WithTimeout(t.Context(), 2*time.Second)
		defer cancel()
		if _, err := tn.a.Dial(ctx, "10.0.0.9:6881"); !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("%v", err)
		}
		if n := tn.a.Stats().Conns; n != 0 {
			t.Fatalf("%d conns left", n)
		}
	})
}

func TestSynLostAndAnswerLost(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ea, eb := newNetem(1), newNetem(2)
		ea.loss, eb.loss = 1, 1
		tn := newTestNet(t, ea, eb, nil, nil)
		go func() {
			time.Sleep(1500 * time.Millisecond)
			ea.mu.Lock()
			ea.loss = 0 // the second SYN arrives; its answer is lost
			ea.mu.Unlock()
			time.Sleep(2 * time.Second)
			eb.mu.Lock()
			eb.loss = 0 // the answer to the third SYN arrives
			eb.mu.Unlock()
		}()
		ca, cb := tn.connect(t)
		exchange(t, ca, cb, []byte("hello"), []byte("world"))
		if n := tn.b.Stats().Conns; n != 1 {
			t.Fatalf("retransmitted SYNs made %d conns", n)
		}
	})
}

func TestIdleTimeoutAndKeepAlive(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tn := newTestNet(t, nil, nil, nil, nil)
		ca, cb := tn.connect(t)
		exchange(t, ca, cb, []byte("a"), []byte("b"))
		// Keepalives hold an idle connection open.
		time.Sleep(10 * time.Minute)
		exchange(t, ca, cb, []byte("still"), []byte("here"))
		// A peer that vanishes without a word (its packets stop) ends the
		// connection by the idle timeout.
		readErr := make(chan error, 1)
		go func() {
			_, err := ca.Read(make([]byte, 1))
			readErr <- err
		}()
		start := time.Now()
		tn.b.pc.(*memnet.PacketConn).Close()
		if err := <-readErr; !errors.Is(err, ErrTimeout) {
			t.Fatalf("%v", err)
		}
		if d := time.Since(start); d > DefaultIdleTimeout {
			t.Fatalf("took %v", d)
		}
	})
}

func TestRetransmitTimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ea := newNetem(1)
		tn := newTestNet(t, ea, nil, &Config{MaxRetransmits: 3}, nil)
		ca, cb := tn.connect(t)
		exchange(t, ca, cb, []byte("a"), []byte("b"))
		ea.mu.Lock()
		ea.loss = 1
		ea.mu.Unlock()
		start := time.Now()
		ca.Write([]byte("lost"))
		_, err := ca.Read(make([]byte, 1))
		if !errors.Is(err, ErrTimeout) {
			t.Fatalf("%v", err)
		}
		if d := time.Since(start); d >= DefaultIdleTimeout {
			t.Fatalf("retransmissions gave up after %v", d)
		}
	})
}

func TestDeadlines(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tn := newTestNet(t, nil, nil, nil, &Config{RecvBuffer: 4096})
		ca, cb := tn.connect(t)
		start := time.Now()
		ca.SetReadDeadline(start.Add(time.Second))
		_, err := ca.Read(make([]byte, 1))
		var ne net.Error
		if !errors.As(err, &ne) || !ne.Timeout() || !errors.Is(err, os.ErrDeadlineExceeded) {
			t.Fatalf("read: %v", err)
		}
		if time.Since(start) != time.Second {
			t.Fatalf("read returned after %v", time.Since(start))
		}
		// A deadline moved while a Read waits applies to it.
		go func() {
			time.Sleep(100 * time.Millisecond)
			ca.SetReadDeadline(time.Now())
		}()
		ca.SetReadDeadline(time.Time{})
		if _, err := ca.Read(make([]byte, 1)); !errors.Is(err, os.ErrDeadlineExceeded) {
			t.Fatalf("read: %v", err)
		}
		ca.SetReadDeadline(time.Time{})
		// b does not read: its window closes, a's send buffer fills, and
		// the write deadline ends the Write.
		ca.SetWriteDeadline(time.Now().Add(5 * time.Second))
		n, err := ca.Write(make([]byte, 4<<20))
		if !errors.Is(err, os.ErrDeadlineExceeded) || n == 0 || n >= 4<<20 {
			t.Fatalf("write: %d, %v", n, err)
		}
		// Once b reads, everything written arrives (window probes).
		ca.SetWriteDeadline(time.Time{})
		ca.Close()
		got, err := io.ReadAll(cb)
		if err != nil || len(got) != n {
			t.Fatalf("read %d of %d: %v", len(got), n, err)
		}
	})
}

func TestManyConns(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const conns = 100
		ea, eb := newNetem(1), newNetem(2)
		ea.base, eb.base = 5*time.Millisecond, 5*time.Millisecond
		ea.loss, eb.loss = 0.02, 0.02
		// All SYNs arrive at one instant, before Accept runs.
		tn := newTestNet(t, ea, eb, nil, &Config{AcceptBacklog: conns})
		var wg sync.WaitGroup
		errs := make(chan error, 2*conns)
		wg.Go(func() {
			for range conns {
				c, err := tn.b.Accept()
				if err != nil {
					errs <- err
					return
				}
				wg.Go(func() { // echo
					defer c.Close()
					buf := make([]byte, 64<<10)
					if _, err := io.ReadFull(c, buf); err != nil {
						errs <- err
						return
					}
					if _, err := c.Write(buf); err != nil {
						errs <- err
					}
				})
			}
		})
		for i := range conns {
			wg.Go(func() {
				c, err := tn.a.Dial(t.Context(), "10.0.0.2:6881")
				if err != nil {
					errs <- err
					return
				}
				defer c.Close()
				data := randomBytes(uint64(i), 64<<10)
				if _, err := c.Write(data); err != nil {
					errs <- err
					return
				}
				got := make([]byte, len(data))
				if _, err := io.ReadFull(c, got); err != nil || string(got) != string(data) {
					errs <- errors.New("echo differs")
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Error(err)
		}
	})
}

func TestSocketCloseEndsEverything(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tn := newTestNet(t, nil, nil, nil, nil)
		ca, _ := tn.connect(t)
		acceptErr := make(chan error, 1)
		go func() {
			_, err := tn.a.Accept()
			acceptErr <- err
		}()
		readErr := make(chan error, 1)
		go func() {
			_, err := ca.Read(make([]byte, 1))
			readErr <- err
		}()
		synctest.Wait()
		tn.a.Close()
		if err := <-acceptErr; !errors.Is(err, net.ErrClosed) {
			t.Fatalf("accept: %v", err)
		}
		if err := <-readErr; !errors.Is(err, net.ErrClosed) {
			t.Fatalf("read: %v", err)
		}
		if _, err := tn.a.Dial(t.Context(), "10.0.0.2:6881"); !errors.Is(err, net.ErrClosed) {
			t.Fatalf("dial: %v", err)
		}
		if _, _, err := tn.a.PacketConn().ReadFrom(make([]byte, 10)); !errors.Is(err, net.ErrClosed) {
			t.Fatalf("fallback read: %v", err)
		}
	})
}

func TestFallback(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tn := newTestNet(t, nil, nil, nil, &Config{FallbackQueue: 2})
		other, err := tn.net.Listen(netip.MustParseAddrPort("10.0.0.3:1"))
		if err != nil {
			t.Fatal(err)
		}
		defer other.Close()
		to := tn.b.Addr()
		for _, m := range []string{"d1:y1:qe", "\x00\x00\x00\x01rest of a tracker reply", "third: over the queue"} {
			other.WriteTo([]byte(m), to)
		}
		synctest.Wait()
		fb := tn.b.PacketConn()
		buf := make([]byte, 100)
		for _, want := range []string{"d1:y1:qe", "\x00\x00\x00\x01rest of a tracker reply"} {
			n, from, err := fb.ReadFrom(buf)
			if err != nil || string(buf[:n]) != want || from.String() != "10.0.0.3:1" {
				t.Fatalf("%q from %v, %v", buf[:n], from, err)
			}
		}
		if st := tn.b.Stats(); st.Fallback != 3 || st.FallbackDropped != 1 {
			t.Fatalf("stats %+v", st)
		}
		fb.SetReadDeadline(time.Now().Add(time.Second))
		if _, _, err := fb.ReadFrom(buf); !errors.Is(err, os.ErrDeadlineExceeded) {
			t.Fatalf("%v", err)
		}
		// Writes go out through the shared port.
		fb.WriteTo([]byte("reply"), other.LocalAddr())
		n, from, err := other.ReadFrom(buf)
		if err != nil || string(buf[:n]) != "reply" || from.String() != to.String() {
			t.Fatalf("%q from %v, %v", buf[:n], from, err)
		}
		// uTP still works beside it.
		ca, cb := tn.connect(t)
		exchange(t, ca, cb, []byte("x"), []byte("y"))
	})
}

func TestDialerAndListener(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tn := newTestNet(t, nil, nil, nil, nil)
		var d interface {
			DialContext(ctx context.Context, network, address string) (net.Conn, error)
		} = tn.a
		var l net.Listener = tn.b.Listener()
		got := make(chan string, 1)
		go func() {
			c, err := l.Accept()
			if err != nil {
				got <- err.Error()
				return
			}
			defer c.Close()
			b, _ := io.ReadAll(c)
			got <- string(b)
		}()
		c, err := d.DialContext(t.Context(), "tcp", "10.0.0.2:6881")
		if err != nil {
			t.Fatal(err)
		}
		if c.RemoteAddr().String() != "10.0.0.2:6881" || c.LocalAddr().String() != "10.0.0.1:6881" || l.Addr().String() != "10.0.0.2:6881" {
			t.Fatalf("addresses %v %v %v", c.LocalAddr(), c.RemoteAddr(), l.Addr())
		}
		c.Write([]byte("hello"))
		c.Close()
		if s := <-got; s != "hello" {
			t.Fatalf("%q", s)
		}
		if _, err := d.DialContext(t.Context(), "utp", "not an address"); err == nil {
			t.Fatal("dialled a bad address")
		}
		l.Close()
		if _, err := l.Accept(); !errors.Is(err, net.ErrClosed) {
			t.Fatalf("accept after close: %v", err)
		}
	})
}

// TestSynRetriesKeepAcceptedConn: the answers to a dialler's SYNs are lost
// for longer than the acceptor's idle timeout. The retransmitted SYNs keep
// the accepted conn alive, so it is the one that finally connects (it used
// to time out, and the late SYN made a second conn).
func TestSynRetriesKeepAcceptedConn(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ea, eb := newNetem(1), newNetem(2)
		eb.loss = 1
		tn := newTestNet(t, ea, eb, &Config{SynRetries: 5}, &Config{IdleTimeout: 9 * time.Second})
		go func() {
			time.Sleep(10 * time.Second) // SYNs at 0, 1, 3 and 7 s go unanswered, 15 s gets through
			eb.mu.Lock()
			eb.loss = 0
			eb.mu.Unlock()
		}()
		ca, cb := tn.connect(t)
		exchange(t, ca, cb, []byte("hello"), []byte("world"))
		if n := tn.b.Stats().Conns; n != 1 {
			t.Fatalf("retransmitted SYNs made %d conns", n)
		}
	})
}
