package dht

import (
	"context"
	"math/rand/v2"
	"net/netip"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/bittern/bittern/internal/memnet"
	"github.com/bittern/bittern/metainfo"
	"github.com/stretchr/testify/require"
)

// TestSimulationPacketLoss runs a 300-node DHT that loses 10% of all
// datagrams: lookups must still find an announced peer.
func TestSimulationPacketLoss(t *testing.T) {
	const nodes, lookups = 300, 100
	synctest.Test(t, func(t *testing.T) {
		rng := rand.New(rand.NewPCG(3, 4))
		var mu sync.Mutex
		lossy := false
		tn := newTestNet(t, &memnet.Config{Latency: 20 * time.Millisecond, QueueLen: 1024,
			Drop: func(from, to netip.AddrPort, b []byte) bool {
				mu.Lock()
				defer mu.Unlock()
				return lossy && rng.IntN(10) == 0
			}})
		servers := []*Server{tn.server(nil)}
		for len(servers) < nodes {
			var wg sync.WaitGroup
			for range 10 {
				mu.Lock()
				boot := servers[rng.IntN(len(servers))]
				mu.Unlock()
				s := tn.server(&Config{BootstrapNodes: []string{addrOf(boot).String()}})
				servers = append(servers, s)
				wg.Add(1)
				go func() {
					defer wg.Done()
					_ = s.Bootstrap(context.Background())
				}()
			}
			wg.Wait()
			synctest.Wait() // verification pings finish before the next wave
		}
		synctest.Wait()
		mu.Lock()
		lossy = true
		mu.Unlock()
		ih := metainfo.Hash(RandomID())
		announcer := servers[7]
		n, err := announcer.Announce(t.Context(), ih, 6881, true, false, nil)
		require.NoError(t, err)
		t.Logf("announce stored on %d nodes under 10%% loss", n)
		found := 0
		var wg sync.WaitGroup
		for i := range lookups {
			mu.Lock()
			s := servers[rng.IntN(nodes)]
			mu.Unlock()
			wg.Add(1)
			go func() {
				defer wg.Done()
				time.Sleep(time.Duration(i) * 10 * time.Millisecond)
				ok := false
				_, _ = s.GetPeers(context.Background(), ih, func(p netip.AddrPort) { ok = ok || p == addrOf(announcer) })
				if ok {
					mu.Lock()
					found++
					mu.Unlock()
				}
			}()
		}
		wg.Wait()
		t.Logf("10%% loss: %d/%d lookups found the peer", found, lookups)
		require.GreaterOrEqual(t, found, lookups*99/100)
	})
}
