package memnet

import (
	"errors"
	"net"
	"net/netip"
	"os"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

var (
	addrA = netip.MustParseAddrPort("10.0.0.1:1000")
	addrB = netip.MustParseAddrPort("10.0.0.2:2000")
)

func TestSendReceive(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := New(nil)
		a, err := n.Listen(addrA)
		require.NoError(t, err)
		b, err := n.Listen(addrB)
		require.NoError(t, err)
		defer a.Close()
		defer b.Close()

		_, err = a.WriteTo([]byte("one"), b.LocalAddr())
		require.NoError(t, err)
		_, err = a.WriteToAddrPort([]byte("two"), addrB)
		require.NoError(t, err)

		buf := make([]byte, 16)
		k, from, err := b.ReadFrom(buf)
		require.NoError(t, err)
		require.Equal(t, "one", string(buf[:k]))
		require.Equal(t, addrA.String(), from.String())
		k, fromAP, err := b.ReadFromAddrPort(buf)
		require.NoError(t, err)
		require.Equal(t, "two", string(buf[:k]))
		require.Equal(t, addrA, fromAP)

		// Truncation.
		_, _ = b.WriteToAddrPort([]byte("0123456789"), addrA)
		k, _, err = a.ReadFrom(buf[:4])
		require.NoError(t, err)
		require.Equal(t, "0123", string(buf[:k]))
	})
}

func TestBlockingReadWakes(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := New(&Config{Latency: 50 * time.Millisecond})
		a, _ := n.Listen(addrA)
		b, _ := n.Listen(addrB)
		defer a.Close()
		defer b.Close()
		start := time.Now()
		var wg sync.WaitGroup
		wg.Add(1)
		go func() {
			defer wg.Done()
			buf := make([]byte, 8)
			k, _, err := b.ReadFrom(buf)
			require.NoError(t, err)
			require.Equal(t, "x", string(buf[:k]))
			require.Equal(t, 50*time.Millisecond, time.Since(start))
		}()
		synctest.Wait()
		_, _ = a.WriteToAddrPort([]byte("x"), addrB)
		wg.Wait()
	})
}

func TestDeadlines(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := New(nil)
		a, _ := n.Listen(addrA)
		defer a.Close()
		start := time.Now()
		require.NoError(t, a.SetReadDeadline(start.Add(time.Second)))
		_, _, err := a.ReadFrom(make([]byte, 1))
		require.True(t, errors.Is(err, os.ErrDeadlineExceeded), "%v", err)
		require.Equal(t, time.Second, time.Since(start))
		var ne net.Error
		require.True(t, errors.As(err, &ne) && ne.Timeout())

		// Still expired until reset.
		_, _, err = a.ReadFrom(make([]byte, 1))
		require.ErrorIs(t, err, os.ErrDeadlineExceeded)

		// Extending the deadline of a blocked read applies to it.
		require.NoError(t, a.SetReadDeadline(time.Time{}))
		done := make(chan error)
		go func() { _, _, err := a.ReadFrom(make([]byte, 1)); done <- err }()
		synctest.Wait()
		require.NoError(t, a.SetReadDeadline(time.Now().Add(2*time.Second)))
		t0 := time.Now()
		require.ErrorIs(t, <-done, os.ErrDeadlineExceeded)
		require.Equal(t, 2*time.Second, time.Since(t0))

		require.NoError(t, a.SetWriteDeadline(time.Now().Add(-time.Second)))
		_, err = a.WriteToAddrPort([]byte("x"), addrB)
		require.ErrorIs(t, err, os.ErrDeadlineExceeded)
	})
}

func TestCloseUnblocksAndUnbinds(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := New(nil)
		a, _ := n.Listen(addrA)
		done := make(chan error)
		go func() { _, _, err := a.ReadFrom(make([]byte, 1)); done <- err }()
		synctest.Wait()
		require.NoError(t, a.Close())
		require.ErrorIs(t, <-done, net.ErrClosed)
		require.ErrorIs(t, a.Close(), net.ErrClosed)
		_, err := a.WriteToAddrPort([]byte("x"), addrB)
		require.ErrorIs(t, err, net.ErrClosed)
		// The address is free again.
		a2, err := n.Listen(addrA)
		require.NoError(t, err)
		require.NoError(t, a2.Close())
	})
}

func TestListenErrorsAndEphemeralPorts(t *testing.T) {
	n := New(nil)
	a, err := n.Listen(addrA)
	require.NoError(t, err)
	defer a.Close()
	_, err = n.Listen(addrA)
	require.ErrorIs(t, err, ErrAddrInUse)
	_, err = n.Listen(netip.AddrPort{})
	require.ErrorIs(t, err, ErrBadAddr)
	e1, err := n.Listen(netip.MustParseAddrPort("10.0.0.9:0"))
	require.NoError(t, err)
	e2, err := n.Listen(netip.MustParseAddrPort("10.0.0.9:0"))
	require.NoError(t, err)
	require.NotEqual(t, e1.AddrPort(), e2.AddrPort())
	require.NotZero(t, e1.AddrPort().Port())
	e1.Close()
	e2.Close()
	_, err = a.WriteTo([]byte("x"), nil)
	require.ErrorIs(t, err, ErrBadAddr)
	_, err = a.WriteToAddrPort(make([]byte, DefaultMaxPacket+1), addrB)
	require.ErrorIs(t, err, ErrTooLarge)
}

func TestDropsAndLimits(t *testing.T) {
	n := New(&Config{QueueLen: 2, Drop: func(from, to netip.AddrPort, b []byte) bool { return string(b) == "drop" }})
	a, _ := n.Listen(addrA)
	b, _ := n.Listen(addrB)
	defer a.Close()
	defer b.Close()
	for _, s := range []string{"1", "drop", "2", "3"} {
		_, err := a.WriteToAddrPort([]byte(s), addrB)
		require.NoError(t, err)
	}
	_, _ = a.WriteToAddrPort([]byte("nobody"), netip.MustParseAddrPort("10.9.9.9:1"))
	sent, dropped := n.Stats()
	require.Equal(t, uint64(5), sent)
	require.Equal(t, uint64(3), dropped) // "drop", "3" (queue full), "nobody"
	buf := make([]byte, 8)
	k, _, _ := b.ReadFrom(buf)
	require.Equal(t, "1", string(buf[:k]))
	k, _, _ = b.ReadFrom(buf)
	require.Equal(t, "2", string(buf[:k]))
}

func TestIPv4MappedUnmapped(t *testing.T) {
	n := New(nil)
	a, _ := n.Listen(netip.MustParseAddrPort("[::ffff:10.0.0.1]:1000"))
	defer a.Close()
	require.Equal(t, addrA, a.AddrPort())
	b, _ := n.Listen(addrB)
	defer b.Close()
	_, _ = b.WriteToAddrPort([]byte("x"), netip.MustParseAddrPort("[::ffff:10.0.0.1]:1000"))
	k, from, err := a.ReadFromAddrPort(make([]byte, 4))
	require.NoError(t, err)
	require.Equal(t, 1, k)
	require.Equal(t, addrB, from)
}
