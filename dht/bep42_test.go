package dht

import (
	"net/netip"
	"testing"
	"testing/synctest"

	"github.com/bittern/bittern/internal/memnet"
	"github.com/stretchr/testify/require"
)

// publicAddr returns a public (non-exempt) test address.
func publicAddr(i int) netip.AddrPort {
	return netip.AddrPortFrom(netip.AddrFrom4([4]byte{81, byte(i), 2, 3}), 6881) // one per /24
}

func TestAdoptsBEP42IDFromVotes(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := memnet.New(nil)
		var servers []*Server
		for i := range 12 {
			conn, err := n.Listen(publicAddr(i + 1))
			require.NoError(t, err)
			cfg := &Config{BootstrapNodes: []string{}}
			if i > 0 {
				cfg.BootstrapNodes = []string{publicAddr(1).String()}
			}
			s, err := NewServer(conn, cfg)
			require.NoError(t, err)
			defer s.Close()
			if i > 0 {
				require.NoError(t, s.Bootstrap(t.Context()))
				synctest.Wait()
			}
			servers = append(servers, s)
		}
		synctest.Wait() // verification pings answered
		// A second round of lookups gathers more votes.
		for i, s := range servers {
			_, err := s.FindNode(t.Context(), RandomID())
			require.NoError(t, err, "server %d: %+v", i, s.Stats())
		}
		synctest.Wait()
		adopted := 0
		for _, s := range servers {
			ip, ok := s.ExternalIP()
			require.True(t, ok)
			require.Equal(t, addrOf(s).Addr(), ip)
			if NodeIDValid(s.ID(), ip) {
				adopted++
			}
		}
		require.GreaterOrEqual(t, adopted, len(servers)-1)

		// The network still works after the ID changes.
		ih := RandomID()
		_, err := servers[3].Announce(t.Context(), [20]byte(ih), 1234, false, false, nil)
		require.NoError(t, err)
		found := false
		_, err = servers[9].GetPeers(t.Context(), [20]byte(ih), func(p netip.AddrPort) { found = found || p.Port() == 1234 })
		require.NoError(t, err)
		require.True(t, found)

		// A fixed Config.NodeID is never replaced.
		conn, _ := n.Listen(publicAddr(100))
		fixed := RandomID()
		s, err := NewServer(conn, &Config{NodeID: fixed, BootstrapNodes: []string{publicAddr(1).String()}})
		require.NoError(t, err)
		defer s.Close()
		require.NoError(t, s.Bootstrap(t.Context()))
		require.Equal(t, fixed, s.ID())
	})
}

func TestEnforceNodeID(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := memnet.New(nil)
		connA, _ := n.Listen(publicAddr(1))
		a, err := NewServer(connA, &Config{BootstrapNodes: []string{}, EnforceNodeID: true})
		require.NoError(t, err)
		defer a.Close()
		connB, _ := n.Listen(publicAddr(2))
		b, err := NewServer(connB, &Config{BootstrapNodes: []string{}, NodeID: RandomID()})
		require.NoError(t, err)
		defer b.Close()
		connC, _ := n.Listen(publicAddr(3))
		c, err := NewServer(connC, &Config{BootstrapNodes: []string{}, NodeID: NodeIDForIP(publicAddr(3).Addr(), 7)})
		require.NoError(t, err)
		defer c.Close()
		_, err = a.Ping(t.Context(), publicAddr(2))
		require.NoError(t, err)
		_, err = a.Ping(t.Context(), publicAddr(3))
		require.NoError(t, err)
		synctest.Wait()
		nodes := a.Nodes()
		require.Len(t, nodes, 1, "only the node with a valid BEP 42 ID")
		require.Equal(t, c.ID(), nodes[0].ID)
	})
}

func TestBEP42IDFromPublicBind(t *testing.T) {
	n := memnet.New(nil)
	conn, err := n.Listen(publicAddr(9))
	require.NoError(t, err)
	s, err := NewServer(conn, &Config{BootstrapNodes: []string{}})
	require.NoError(t, err)
	defer s.Close()
	require.True(t, NodeIDValid(s.ID(), publicAddr(9).Addr()))
}
