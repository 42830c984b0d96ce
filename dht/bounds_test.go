package dht

import (
	"fmt"
	"net/netip"
	"runtime"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// heapDelta returns how many heap bytes fill keeps alive.
func heapDelta(fill func() any) (uint64, any) {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	v := fill()
	runtime.GC()
	runtime.ReadMemStats(&after)
	return after.HeapAlloc - min(after.HeapAlloc, before.HeapAlloc), v
}

// TestStoreMemoryBounds fills the peer store, the item store and the rate
// limiter past their caps: each stays at its cap, and the test reports the
// bytes per entry and so the worst case of the defaults.
func TestStoreMemoryBounds(t *testing.T) {
	now := time.Now()
	const hashes, perHash = 100, 500
	bytes, v := heapDelta(func() any {
		ps := newPeerStore(time.Hour, hashes, perHash)
		for h := range hashes + 20 {
			ih := ID{byte(h), byte(h >> 8), 1}
			for p := range perHash + 50 {
				ps.add(ih, netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, byte(h), byte(p >> 8), byte(p)}), 6881), false, now)
			}
		}
		return ps
	})
	ps := v.(*peerStore)
	require.Len(t, ps.swarms, hashes)
	require.Equal(t, hashes*perHash, ps.npeers)
	perPeer := float64(bytes) / float64(ps.npeers)
	t.Logf("peer store: %.0f bytes per peer; defaults (%d info-hashes x %d peers) at most %.0f MiB",
		perPeer, DefaultMaxInfoHashes, DefaultMaxPeersPerInfoHash, perPeer*DefaultMaxInfoHashes*DefaultMaxPeersPerInfoHash/(1<<20))
	require.Less(t, perPeer, 200.0)
	runtime.KeepAlive(ps)

	bytes, v = heapDelta(func() any {
		st := newItemStore(DefaultMaxItems)
		for i := range DefaultMaxItems + 500 {
			val := fmt.Appendf(nil, "%d:%0*d", MaxItemValue-5, MaxItemValue-5, i)
			it := Item{V: val}
			if e := st.put(it.Target(), it, nil, now.Add(time.Duration(i)*time.Millisecond)); e != nil {
				t.Fatal(e)
			}
		}
		return st
	})
	st := v.(*itemStore)
	require.Len(t, st.m, DefaultMaxItems)
	t.Logf("item store: %d items of %d-byte values: %.2f MiB", len(st.m), MaxItemValue, float64(bytes)/(1<<20))
	require.Less(t, bytes, uint64(2*DefaultMaxItems*MaxItemValue))
	runtime.KeepAlive(st)

	bytes, v = heapDelta(func() any {
		l := newIPLimiter(DefaultQueryRate, DefaultQueryBurst)
		for i := range 2 * maxLimiterEntries {
			l.allow(netip.AddrFrom4([4]byte{11, byte(i >> 16), byte(i >> 8), byte(i)}), now)
		}
		return l
	})
	l := v.(*ipLimiter)
	require.Len(t, l.m, maxLimiterEntries)
	t.Logf("rate limiter: %d source IPs: %.2f MiB", len(l.m), float64(bytes)/(1<<20))
	runtime.KeepAlive(l)
}

// TestRateLimiterFullScansRarely checks that a full limiter refuses new
// sources without scanning its table more than once per
// limiterGCInterval, and takes them again once old entries have refilled.
func TestRateLimiterFullScansRarely(t *testing.T) {
	l := newIPLimiter(1, 1)
	for i := range maxLimiterEntries {
		require.True(t, l.allow(netip.AddrFrom4([4]byte{11, byte(i >> 16), byte(i >> 8), byte(i)}), t0))
	}
	newcomer := netip.MustParseAddr("12.0.0.1")
	require.False(t, l.allow(newcomer, t0), "full: every entry is still refilling")
	gcAt := l.lastGC
	require.Equal(t, t0, gcAt)
	require.False(t, l.allow(newcomer, t0.Add(limiterGCInterval/2)))
	require.Equal(t, gcAt, l.lastGC, "no second scan within the interval")
	require.True(t, l.allow(newcomer, t0.Add(limiterGCInterval)), "entries refilled and were dropped")
	require.Len(t, l.m, 1)
}
