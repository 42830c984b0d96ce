package dht

import (
	"fmt"
	"net/netip"
	"testing"

	"github.com/bittern/bittern/internal/memnet"
	"github.com/stretchr/testify/require"
)

// testNet is a memnet network of DHT servers for tests.
type testNet struct {
	t   testing.TB
	net *memnet.Network
	n   int
}

func newTestNet(t testing.TB, cfg *memnet.Config) *testNet {
	return &testNet{t: t, net: memnet.New(cfg)}
}

// addr returns the i-th test address (10.x.y.z:6881).
func testAddr(i int) netip.AddrPort {
	return netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)}), 6881)
}

// server starts a server on the next address. cfg may be nil; an empty
// bootstrap list is set unless cfg sets one.
func (tn *testNet) server(cfg *Config) *Server {
	tn.t.Helper()
	tn.n++
	conn, err := tn.net.Listen(testAddr(tn.n))
	require.NoError(tn.t, err)
	c := Config{}
	if cfg != nil {
		c = *cfg
	}
	if c.BootstrapNodes == nil {
		c.BootstrapNodes = []string{}
	}
	s, err := NewServer(conn, &c)
	require.NoError(tn.t, err)
	tn.t.Cleanup(func() { s.Close() })
	return s
}

func addrOf(s *Server) netip.AddrPort {
	ap, err := addrPortOf(s.Addr())
	if err != nil {
		panic(fmt.Sprint(err))
	}
	return ap
}
