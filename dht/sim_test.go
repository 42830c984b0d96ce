package dht

import (
	"context"
	"math/rand/v2"
	"net/netip"
	"runtime"
	"slices"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/bittern/bittern/internal/memnet"
	"github.com/bittern/bittern/metainfo"
	"github.com/stretchr/testify/require"
)

// TestSimulation runs a 1,000-node DHT (200 with -short) in virtual time:
// one node announces, and get_peers lookups from random nodes (1,000 per
// phase; 250 under the race detector) must find it, before, while and
// after 20% of the nodes are removed. It logs the median round trips per
// lookup and the memory per node.
func TestSimulation(t *testing.T) {
	nodes, lookups := 1000, 1000
	if raceEnabled {
		lookups = 250
	}
	if testing.Short() {
		nodes, lookups = 200, 100
	}
	synctest.Test(t, func(t *testing.T) {
		rng := rand.New(rand.NewPCG(1, 2))
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)

		tn := newTestNet(t, &memnet.Config{Latency: 20 * time.Millisecond, QueueLen: 1024})
		servers := make([]*Server, 0, nodes)
		// Join in waves of 10 so that each wave bootstraps from nodes
		// already in the network, as the real DHT grows.
		servers = append(servers, tn.server(nil))
		for len(servers) < nodes {
			var wg sync.WaitGroup
			wave := min(10, nodes-len(servers))
			for range wave {
				boot := servers[rng.IntN(len(servers))]
				s := tn.server(&Config{BootstrapNodes: []string{addrOf(boot).String()}})
				servers = append(servers, s)
				wg.Add(1)
				go func() {
					defer wg.Done()
					if err := s.Bootstrap(context.Background()); err != nil {
						t.Errorf("bootstrap: %v", err)
					}
				}()
			}
			wg.Wait()
			synctest.Wait() // verification pings finish before the next wave
		}
		synctest.Wait()
		runtime.GC()
		runtime.ReadMemStats(&after)
		// Heap: the routing tables, stores, pending state and 8 KiB read
		// buffer of each node, plus its memnet conn; stacks: its three
		// goroutines.
		heap := (int64(after.HeapInuse) - int64(before.HeapInuse)) / int64(nodes)
		stack := (int64(after.StackInuse) - int64(before.StackInuse)) / int64(nodes)
		t.Logf("memory per node: %d bytes (%d heap in use + %d goroutine stacks, %d nodes)", heap+stack, heap, stack, nodes)
		tableSizes := make([]int, 0, nodes)
		for _, s := range servers {
			tableSizes = append(tableSizes, s.Stats().Nodes)
		}
		slices.Sort(tableSizes)
		t.Logf("routing table sizes: min %d, median %d, max %d", tableSizes[0], tableSizes[len(tableSizes)/2], tableSizes[len(tableSizes)-1])

		ih := metainfo.Hash(RandomID())
		announcer := servers[rng.IntN(nodes)]
		n, err := announcer.Announce(t.Context(), ih, 6881, true, false, nil)
		require.NoError(t, err)
		t.Logf("announce stored on %d nodes", n)
		want := addrOf(announcer)

		check := func(phase string, live []*Server, during func()) {
			found := 0
			var trips, first, queried []int
			var mu sync.Mutex
			var wg sync.WaitGroup
			for i := range lookups {
				s := live[rng.IntN(len(live))]
				wg.Add(1)
				go func() {
					defer wg.Done()
					// Stagger the lookups a little, as real ones are.
					time.Sleep(time.Duration(i) * 10 * time.Millisecond)
					ok := false
					st, err := s.GetPeers(context.Background(), ih, func(p netip.AddrPort) { ok = ok || p == want })
					mu.Lock()
					defer mu.Unlock()
					if err == nil && ok {
						found++
					}
					if st != nil {
						trips = append(trips, st.RoundTrips)
						if st.FirstPeerRoundTrip > 0 {
							first = append(first, st.FirstPeerRoundTrip)
						}
						queried = append(queried, st.Queried)
					}
				}()
			}
			if during != nil {
				time.Sleep(time.Duration(lookups) * 10 * time.Millisecond / 2)
				during()
			}
			wg.Wait()
			slices.Sort(trips)
			slices.Sort(first)
			slices.Sort(queried)
			firstMedian := 0 // lookups started at a node storing the peer get it locally
			if len(first) > 0 {
				firstMedian = first[len(first)/2]
			}
			t.Logf("%s: %d/%d lookups found the peer; median round trips %d (to the first remote peer %d), median nodes queried %d",
				phase, found, lookups, trips[len(trips)/2], firstMedian, queried[len(queried)/2])
			require.GreaterOrEqual(t, float64(found), 0.99*float64(lookups), phase)
		}
		check("all nodes", servers, nil)

		// Remove 20% of the nodes (never the announcer) while the second
		// round of lookups is under way; lookups start from survivors.
		rng.Shuffle(len(servers), func(i, j int) { servers[i], servers[j] = servers[j], servers[i] })
		var live, doomed []*Server
		for _, s := range servers {
			if len(doomed) < nodes/5 && s != announcer {
				doomed = append(doomed, s)
			} else {
				live = append(live, s)
			}
		}
		check("20% removed mid-lookups", live, func() {
			for _, s := range doomed {
				require.NoError(t, s.Close())
			}
		})
		// And once more with the network settled.
		check("20% removed", live, nil)
	})
}
