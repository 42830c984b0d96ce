package dht

import (
	"net/netip"
	"testing"
	"testing/synctest"

	"github.com/bittern/bittern/internal/memnet"
	"github.com/bittern/bittern/metainfo"
	"github.com/stretchr/testify/require"
)

func TestMarshalNodes(t *testing.T) {
	self := RandomID()
	nodes := []NodeInfo{
		{RandomID(), netip.MustParseAddrPort("1.2.3.4:5")},
		{RandomID(), netip.MustParseAddrPort("[2001:db8::1]:6881")},
	}
	b, err := MarshalNodes(self, nodes)
	require.NoError(t, err)
	gotSelf, got, err := UnmarshalNodes(b)
	require.NoError(t, err)
	require.Equal(t, self, gotSelf)
	require.Equal(t, nodes, got)
	for _, bad := range []string{"", "le", "d2:id3:abce", "d5:nodes3:abce"} {
		_, _, err := UnmarshalNodes([]byte(bad))
		require.ErrorIs(t, err, ErrBadNodesFile, bad)
	}
}

func FuzzUnmarshalNodes(f *testing.F) {
	b, _ := MarshalNodes(RandomID(), []NodeInfo{{RandomID(), netip.MustParseAddrPort("1.2.3.4:5")}})
	f.Add(b)
	f.Add([]byte("de"))
	f.Fuzz(func(t *testing.T, b []byte) {
		self, nodes, err := UnmarshalNodes(b)
		if err != nil {
			return
		}
		again, err := MarshalNodes(self, nodes)
		require.NoError(t, err)
		self2, nodes2, err := UnmarshalNodes(again)
		require.NoError(t, err)
		require.Equal(t, self, self2)
		require.Equal(t, nodes, nodes2)
	})
}

// TestIPv6Network runs a small IPv6-only DHT: nodes travel as nodes6 and
// peers as 18-byte compact addresses (BEP 32).
func TestIPv6Network(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := memnet.New(nil)
		addr := func(i int) netip.AddrPort {
			return netip.AddrPortFrom(netip.AddrFrom16([16]byte{0x20, 0x01, 0x0d, 0xb8, 15: byte(i)}), 6881)
		}
		var servers []*Server
		for i := range 15 {
			conn, err := n.Listen(addr(i + 1))
			require.NoError(t, err)
			cfg := &Config{BootstrapNodes: []string{addr(1).String()}}
			s, err := NewServer(conn, cfg)
			require.NoError(t, err)
			defer s.Close()
			if i > 0 {
				require.NoError(t, s.Bootstrap(t.Context()))
				synctest.Wait()
			}
			servers = append(servers, s)
		}
		synctest.Wait()
		st := servers[7].Stats()
		require.Zero(t, st.Nodes)
		require.Positive(t, st.Nodes6)
		ih := metainfo.Hash(RandomID())
		_, err := servers[4].Announce(t.Context(), ih, 7777, false, false, nil)
		require.NoError(t, err)
		var got []netip.AddrPort
		_, err = servers[12].GetPeers(t.Context(), ih, func(p netip.AddrPort) { got = append(got, p) })
		require.NoError(t, err)
		require.Equal(t, []netip.AddrPort{netip.AddrPortFrom(addr(5).Addr(), 7777)}, got)

		// A restart from saved nodes needs no bootstrap.
		b, err := MarshalNodes(servers[3].ID(), servers[3].Nodes())
		require.NoError(t, err)
		self, nodes, err := UnmarshalNodes(b)
		require.NoError(t, err)
		require.NoError(t, servers[3].Close())
		conn, err := n.Listen(addr(4))
		require.NoError(t, err)
		s, err := NewServer(conn, &Config{NodeID: self, Nodes: nodes, BootstrapNodes: []string{}})
		require.NoError(t, err)
		defer s.Close()
		got = nil
		_, err = s.GetPeers(t.Context(), ih, func(p netip.AddrPort) { got = append(got, p) })
		require.NoError(t, err)
		require.Len(t, got, 1)
	})
}
