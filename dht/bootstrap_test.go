package dht

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"slices"
	"sync"
	"testing"
	"testing/synctest"

	"github.com/stretchr/testify/require"
)

// TestBootstrapDefaultRoutersByName checks that a Server given no
// bootstrap list joins through the well-known routers, looked up by name
// (here one of them resolves to a node of the test network), and skips
// entries it cannot use.
func TestBootstrapDefaultRoutersByName(t *testing.T) {
	for _, hp := range DefaultBootstrapNodes {
		host, _, err := net.SplitHostPort(hp)
		require.NoError(t, err)
		_, err = netip.ParseAddr(host)
		require.Error(t, err, "%s is a name", hp)
	}
	synctest.Test(t, func(t *testing.T) {
		tn := newTestNet(t, nil)
		servers := smallDHT(t, tn, 5)
		router := addrOf(servers[0])
		var mu sync.Mutex
		var asked []string
		resolve := func(_ context.Context, host string) ([]netip.Addr, error) {
			mu.Lock()
			asked = append(asked, host)
			mu.Unlock()
			if host == "dht.libtorrent.org" {
				return []netip.Addr{router.Addr()}, nil
			}
			return nil, errors.New("no such host")
		}
		conn, err := tn.net.Listen(testAddr(500))
		require.NoError(t, err)
		s, err := NewServer(conn, &Config{Resolve: resolve}) // BootstrapNodes nil: the defaults
		require.NoError(t, err)
		defer s.Close()
		// The router listens on 6881, not on dht.libtorrent.org's 25401:
		// move it there so the default entry reaches it.
		require.NoError(t, servers[0].Close())
		rconn, err := tn.net.Listen(netip.AddrPortFrom(router.Addr(), 25401))
		require.NoError(t, err)
		r, err := NewServer(rconn, &Config{BootstrapNodes: []string{}, Nodes: servers[1].Nodes()})
		require.NoError(t, err)
		defer r.Close()

		require.NoError(t, s.Bootstrap(t.Context()))
		synctest.Wait()
		mu.Lock()
		slices.Sort(asked)
		require.Equal(t, []string{"dht.libtorrent.org", "dht.transmissionbt.com", "router.bittorrent.com", "router.utorrent.com"}, asked)
		mu.Unlock()
		require.GreaterOrEqual(t, s.Stats().Nodes, 4, "the router's nodes joined our table")

		// Unusable entries are skipped; an IP:port needs no lookup.
		conn2, err := tn.net.Listen(testAddr(501))
		require.NoError(t, err)
		s2, err := NewServer(conn2, &Config{Resolve: resolve, BootstrapNodes: []string{
			"no-port", "host:0", "host:x", "0.0.0.0:1", addrOf(servers[2]).String()}})
		require.NoError(t, err)
		defer s2.Close()
		mu.Lock()
		asked = nil
		mu.Unlock()
		require.NoError(t, s2.Bootstrap(t.Context()))
		mu.Lock()
		require.Empty(t, asked)
		mu.Unlock()
	})
}
