package dht

import (
	"net/netip"
	"slices"
	"testing"
	"testing/synctest"
	"time"

	"github.com/bittern/bittern/internal/memnet"
	"github.com/bittern/bittern/metainfo"
	"github.com/stretchr/testify/require"
)

// fullView starts a server a, whose queries are watched (method's
// outstanding ones counted), and n others that all know each other and
// that a has pinged, so that a's routing table holds every one of them.
// The others' IDs share 0 to 3 leading bits with a's, at most three per
// bucket, so that they all fit.
func fullView(t *testing.T, tn *testNet, n int, cfg Config, method string) (*Server, *watchConn, []*Server) {
	t.Helper()
	cfg.NodeID = RandomID()
	cfg.BootstrapNodes = []string{}
	conn, err := tn.net.Listen(testAddr(100000))
	require.NoError(t, err)
	w := newWatchConn(conn, method)
	a, err := NewServer(w, &cfg)
	require.NoError(t, err)
	t.Cleanup(func() { a.Close() })
	var others []*Server
	for i := range n {
		others = append(others, tn.server(&Config{NodeID: idWithPrefix(cfg.NodeID, i%4, byte(i))}))
	}
	for i, s := range others {
		for _, o := range others[i+1:] {
			_, err := s.Ping(t.Context(), addrOf(o))
			require.NoError(t, err)
		}
		_, err := a.Ping(t.Context(), addrOf(s))
		require.NoError(t, err)
	}
	synctest.Wait() // verification pings answered
	require.Equal(t, n, a.Stats().Nodes)
	require.Len(t, a.Nodes(), n)
	w.reset()
	return a, w, others
}

// closestOf returns the servers sorted by distance to target.
func closestOf(servers []*Server, target ID) []*Server {
	out := slices.Clone(servers)
	slices.SortFunc(out, func(a, b *Server) int { return distCmp(target, a.ID(), b.ID()) })
	return out
}

func addrsOf(servers []*Server) []netip.AddrPort {
	var out []netip.AddrPort
	for _, s := range servers {
		out = append(out, addrOf(s))
	}
	return out
}

func queriedAddrs(sent []sentQuery) []netip.AddrPort {
	var out []netip.AddrPort
	for _, q := range sent {
		out = append(out, q.To)
	}
	return out
}

// TestLookupStopsWhenClosestAnswered checks the end of an iterative
// lookup: once the K closest nodes it knows of have answered it stops, so
// with every node known and alive it queries exactly the K closest; nodes
// that do not answer are passed over for the next closest, which are
// queried until K have answered.
func TestLookupStopsWhenClosestAnswered(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tn := newTestNet(t, &memnet.Config{Latency: 20 * time.Millisecond})
		a, w, others := fullView(t, tn, 14, Config{}, methodGetPeers)
		target := RandomID()
		byDist := closestOf(others, target)

		st, err := a.GetPeers(t.Context(), metainfo.Hash(target), nil)
		require.NoError(t, err)
		_, sent := w.snapshot(methodGetPeers)
		require.ElementsMatch(t, addrsOf(byDist[:K]), queriedAddrs(sent), "exactly the K closest are queried")
		require.Equal(t, K, st.Queried)
		require.Equal(t, K, st.Replied)
		require.Equal(t, 1, st.RoundTrips, "all were in our table")
		var ids []ID
		for _, n := range st.Closest {
			ids = append(ids, n.ID)
		}
		for i, s := range byDist[:K] {
			require.Equal(t, s.ID(), ids[i], "closest, nearest first")
		}
		time.Sleep(10 * time.Second)
		_, after := w.snapshot(methodGetPeers)
		require.Len(t, after, K, "nothing is sent after the lookup ends")
		closest, err := a.FindNode(t.Context(), target)
		require.NoError(t, err)
		require.Equal(t, st.Closest, closest, "find_node ends the same way")

		// Two of the K closest go away: the lookup waits for their
		// timeouts and asks the 9th and 10th closest instead.
		require.NoError(t, byDist[0].Close())
		require.NoError(t, byDist[3].Close())
		alive := slices.Concat(byDist[1:3], byDist[4:K+2])
		w.reset()
		st, err = a.GetPeers(t.Context(), metainfo.Hash(target), nil)
		require.NoError(t, err)
		_, sent = w.snapshot(methodGetPeers)
		require.ElementsMatch(t, addrsOf(byDist[:K+2]), queriedAddrs(sent))
		require.Equal(t, K+2, st.Queried)
		require.Equal(t, K, st.Replied)
		require.ElementsMatch(t, addrsOf(alive), func() []netip.AddrPort {
			var out []netip.AddrPort
			for _, n := range st.Closest {
				out = append(out, n.Addr)
			}
			return out
		}())
	})
}

// TestLookupAlpha checks that a lookup keeps Config.Alpha queries in
// flight (DefaultAlpha when zero), never more.
func TestLookupAlpha(t *testing.T) {
	for _, alpha := range []int{1, 0, 5} {
		synctest.Test(t, func(t *testing.T) {
			tn := newTestNet(t, &memnet.Config{Latency: 20 * time.Millisecond})
			a, w, _ := fullView(t, tn, 12, Config{Alpha: alpha}, methodGetPeers)
			st, err := a.GetPeers(t.Context(), metainfo.Hash(RandomID()), nil)
			require.NoError(t, err)
			maxOut, sent := w.snapshot(methodGetPeers)
			want := alpha
			if want == 0 {
				want = DefaultAlpha
			}
			require.Equal(t, want, maxOut, "alpha %d", alpha)
			require.Len(t, sent, K)
			require.Equal(t, K, st.Replied)
		})
	}
}

// TestGetPeersStreamsAndAnnouncesToClosest checks that announce_peer goes
// to the K closest nodes, each with the token it gave, and that get_peers
// hands peers to the caller as they arrive, long before a lookup that
// waits on a dead node ends.
func TestGetPeersStreamsAndAnnouncesToClosest(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tn := newTestNet(t, &memnet.Config{Latency: 20 * time.Millisecond})
		a, w, others := fullView(t, tn, 14, Config{}, methodGetPeers)
		ih := metainfo.Hash(RandomID())
		byDist := closestOf(others, ID(ih))

		n, err := a.Announce(t.Context(), ih, 7000, false, false, nil)
		require.NoError(t, err)
		require.Equal(t, K, n)
		_, gets := w.snapshot(methodGetPeers)
		_, announces := w.snapshot(methodAnnouncePeer)
		require.ElementsMatch(t, addrsOf(byDist[:K]), queriedAddrs(announces), "announced to the K closest")
		for _, q := range announces {
			require.NotEmpty(t, q.A.Token)
			require.Equal(t, 7000, q.A.Port)
		}
		for i, s := range byDist {
			want := 0
			if i < K {
				want = 1
			}
			require.Equal(t, want, s.Stats().Peers, "node %d by distance", i)
		}
		require.Len(t, gets, K)

		// Streaming: the closest node is gone, so the lookup lasts until
		// its query times out; the peer arrives on the first round trip.
		require.NoError(t, byDist[0].Close())
		want := netip.AddrPortFrom(addrOf(a).Addr(), 7000)
		start := time.Now()
		var firstAt time.Duration
		calls := 0
		st, err := a.GetPeers(t.Context(), ih, func(p netip.AddrPort) {
			require.Equal(t, want, p)
			calls++
			if calls == 1 {
				firstAt = time.Since(start)
			}
		})
		took := time.Since(start)
		require.NoError(t, err)
		require.Equal(t, 1, calls, "each peer once")
		require.Equal(t, 1, st.FirstPeerRoundTrip)
		require.Equal(t, 40*time.Millisecond, firstAt, "one round trip")
		require.GreaterOrEqual(t, took, DefaultQueryTimeout, "the lookup waited for the dead node")
	})
}
