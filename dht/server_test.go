package dht

import (
	"context"
	"errors"
	"net/netip"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/bittern/bittern/bencode"
	"github.com/bittern/bittern/internal/memnet"
	"github.com/bittern/bittern/metainfo"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestPingAndTable(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tn := newTestNet(t, nil)
		a, b := tn.server(nil), tn.server(nil)
		id, err := a.Ping(t.Context(), addrOf(b))
		require.NoError(t, err)
		require.Equal(t, b.ID(), id)
		synctest.Wait() // b pings a back to verify it
		require.Equal(t, 1, a.Stats().Nodes)
		require.Equal(t, 1, b.Stats().Nodes)
		ip, ok := a.ExternalIP()
		require.True(t, ok)
		require.Equal(t, addrOf(a).Addr(), ip)
		require.Equal(t, []NodeInfo{{ID: b.ID(), Addr: addrOf(b)}}, a.Nodes())
	})
}

func TestPingTimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tn := newTestNet(t, nil)
		a := tn.server(&Config{QueryTimeout: 2 * time.Second})
		start := time.Now()
		_, err := a.Ping(t.Context(), testAddr(999))
		require.ErrorIs(t, err, ErrTimeout)
		require.Equal(t, 2*time.Second, time.Since(start))
		require.Equal(t, uint64(1), a.Stats().Timeouts)

		ctx, cancel := context.WithTimeout(t.Context(), time.Second)
		defer cancel()
		_, err = a.Ping(ctx, testAddr(999))
		require.ErrorIs(t, err, context.DeadlineExceeded)
	})
}

func TestCloseFailsPending(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tn := newTestNet(t, nil)
		a := tn.server(nil)
		errc := make(chan error)
		go func() { _, err := a.Ping(context.Background(), testAddr(999)); errc <- err }()
		synctest.Wait()
		require.NoError(t, a.Close())
		require.ErrorIs(t, <-errc, ErrClosed)
		require.ErrorIs(t, a.Close(), ErrClosed)
		_, err := a.Ping(t.Context(), testAddr(999))
		require.ErrorIs(t, err, ErrClosed)
	})
}

// smallDHT starts n servers, all bootstrapped from the first.
func smallDHT(t *testing.T, tn *testNet, n int) []*Server {
	first := tn.server(nil)
	servers := []*Server{first}
	for i := 1; i < n; i++ {
		s := tn.server(&Config{BootstrapNodes: []string{addrOf(first).String()}})
		require.NoError(t, s.Bootstrap(t.Context()))
		synctest.Wait() // let verification pings finish, as time passes between joins
		servers = append(servers, s)
	}
	return servers
}

func TestAnnounceAndGetPeers(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tn := newTestNet(t, &memnet.Config{Latency: 20 * time.Millisecond})
		servers := smallDHT(t, tn, 30)
		ih := metainfo.Hash(RandomID())
		n, err := servers[3].Announce(t.Context(), ih, 51413, false, false, nil)
		require.NoError(t, err)
		require.GreaterOrEqual(t, n, 1)

		var got []netip.AddrPort
		st, err := servers[17].GetPeers(t.Context(), ih, func(p netip.AddrPort) { got = append(got, p) })
		require.NoError(t, err)
		want := netip.AddrPortFrom(addrOf(servers[3]).Addr(), 51413)
		require.Equal(t, []netip.AddrPort{want}, got)
		require.NotEmpty(t, st.Closest)
		require.GreaterOrEqual(t, st.RoundTrips, 1)

		// implied_port uses the UDP source port.
		_, err = servers[5].Announce(t.Context(), ih, 0, true, true, nil)
		require.NoError(t, err)
		got = nil
		require.NoError(t, servers[20].FindPeers(t.Context(), ih, func(p netip.AddrPort) { got = append(got, p) }))
		require.ElementsMatch(t, []netip.AddrPort{want, addrOf(servers[5])}, got)

		// BEP 33 scrape: one seed, one downloader.
		seeds, peers, err := servers[9].Scrape(t.Context(), ih)
		require.NoError(t, err)
		require.InDelta(t, 1, seeds, 0.1)
		require.InDelta(t, 1, peers, 0.1)

		// find_node converges on the closest nodes.
		target := servers[11].ID()
		closest, err := servers[2].FindNode(t.Context(), target)
		require.NoError(t, err)
		require.Equal(t, target, closest[0].ID)
	})
}

func TestSavedTableNeedsNoBootstrap(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tn := newTestNet(t, nil)
		servers := smallDHT(t, tn, 10)
		saved := servers[4].Nodes()
		require.NotEmpty(t, saved)
		s := tn.server(&Config{Nodes: saved})
		require.Equal(t, len(saved), s.Stats().Nodes)
		_, err := s.FindNode(t.Context(), RandomID())
		require.NoError(t, err)
	})
}

func TestNoNodes(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tn := newTestNet(t, nil)
		s := tn.server(nil)
		_, err := s.FindNode(t.Context(), RandomID())
		require.ErrorIs(t, err, ErrNoNodes)
		require.ErrorIs(t, s.Bootstrap(t.Context()), ErrNoNodes)
		_, err = s.Announce(t.Context(), metainfo.Hash{}, 1, false, false, nil)
		require.ErrorIs(t, err, ErrNoNodes)
	})
}

// rawQuery sends b from a bare memnet conn to s and returns the decoded
// reply, or nil if none arrived within a second. Queries the server sends
// to the bare conn in the meantime are skipped.
func rawQuery(t *testing.T, tn *testNet, from netip.AddrPort, s *Server, b []byte) *Msg {
	t.Helper()
	conn, err := tn.net.Listen(from)
	require.NoError(t, err)
	defer conn.Close()
	_, err = conn.WriteToAddrPort(b, addrOf(s))
	require.NoError(t, err)
	require.NoError(t, conn.SetReadDeadline(time.Now().Add(time.Second)))
	buf := make([]byte, 2048)
	for {
		n, _, err := conn.ReadFromAddrPort(buf)
		if err != nil {
			return nil
		}
		var m Msg
		require.NoError(t, DecodeMsg(buf[:n], &m), "%q", buf[:n])
		// The server may query a node it has just met (to fill or refresh
		// its table); only the reply to b is of interest here.
		if m.Y == typeQuery {
			continue
		}
		return &m
	}
}

func TestErrorsAndHostileInput(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tn := newTestNet(t, nil)
		var mu sync.Mutex
		var unhandled [][]byte
		s := tn.server(&Config{Unhandled: func(b []byte, from netip.AddrPort) {
			mu.Lock()
			unhandled = append(unhandled, append([]byte(nil), b...))
			mu.Unlock()
		}})
		src := netip.MustParseAddrPort("10.9.0.1:1234")
		id := "abcdefghij0123456789"
		cases := []struct {
			name string
			in   string
			code int
		}{
			{"unknown method", "d1:ad2:id20:" + id + "e1:q3:foo1:t2:aa1:y1:qe", ErrCodeMethodUnknown},
			{"id wrong type", "d1:ad2:idi5ee1:q4:ping1:t2:aa1:y1:qe", ErrCodeProtocol},
			{"short id", "d1:ad2:id3:abce1:q4:ping1:t2:aa1:y1:qe", ErrCodeProtocol},
			{"no target", "d1:ad2:id20:" + id + "e1:q9:find_node1:t2:aa1:y1:qe", ErrCodeProtocol},
			{"bad token", "d1:ad2:id20:" + id + "9:info_hash20:mnopqrstuvwxyz1234564:porti6881e5:token8:aoeusnthe1:q13:announce_peer1:t2:aa1:y1:qe", ErrCodeProtocol},
			{"values wrong type", "d1:ad2:id20:" + id + "6:targetli1eee1:q9:find_node1:t2:aa1:y1:qe", ErrCodeProtocol},
		}
		for i, c := range cases {
			m := rawQuery(t, tn, netip.AddrPortFrom(src.Addr(), uint16(2000+i)), s, []byte(c.in))
			require.NotNil(t, m, c.name)
			require.Equal(t, typeError, m.Y, c.name)
			require.Equal(t, c.code, m.E.Code, c.name)
			require.Equal(t, "aa", m.T, c.name)
		}
		// Ping answered with our ID and the requester's address (BEP 42).
		m := rawQuery(t, tn, src, s, []byte("d1:ad2:id20:"+id+"e1:q4:ping1:t2:aa1:y1:qe"))
		require.NotNil(t, m)
		sid := s.ID()
		require.Equal(t, string(sid[:]), m.R.ID)
		require.Equal(t, string(appendCompactAddr(nil, src)), m.IP)

		// Not KRPC: handed on, never answered.
		for _, in := range []string{"\x01\x02garbage", "", "d1:a", "i5e", "le", "dd", string(make([]byte, 300))} {
			require.Nil(t, rawQuery(t, tn, src, s, []byte(in)), "%q", in)
		}
		deep := ""
		for range 1000 {
			deep += "l"
		}
		require.Nil(t, rawQuery(t, tn, src, s, []byte("d1:a"+deep)))
		mu.Lock()
		require.Len(t, unhandled, 8) // the empty packet is also handed on
		mu.Unlock()
		// Responses matching no transaction are ignored.
		require.Nil(t, rawQuery(t, tn, src, s, []byte("d1:rd2:id20:"+id+"e1:t2:zz1:y1:re")))
		require.Equal(t, uint64(1), s.Stats().UnknownTransactions)
	})
}

func TestRateLimit(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tn := newTestNet(t, nil)
		s := tn.server(&Config{QueryRate: 1, QueryBurst: 3})
		conn, err := tn.net.Listen(netip.MustParseAddrPort("10.9.0.1:1000"))
		require.NoError(t, err)
		defer conn.Close()
		ping := []byte("d1:ad2:id20:abcdefghij0123456789e1:q4:ping1:t2:aa1:y1:qe")
		for range 10 {
			_, _ = conn.WriteToAddrPort(ping, addrOf(s))
		}
		synctest.Wait()
		replies := 0
		buf := make([]byte, 1500)
		_ = conn.SetReadDeadline(time.Now().Add(time.Millisecond))
		for {
			n, _, err := conn.ReadFrom(buf)
			if err != nil {
				break
			}
			var m Msg
			if DecodeMsg(buf[:n], &m) == nil && m.Y == typeResponse {
				replies++
			}
		}
		require.Equal(t, 3, replies)
		require.Equal(t, uint64(7), s.Stats().RateLimited)
		// Tokens refill.
		time.Sleep(2 * time.Second)
		_ = conn.SetReadDeadline(time.Time{})
		_, _ = conn.WriteToAddrPort(ping, addrOf(s))
		_, _, err = conn.ReadFrom(buf)
		require.NoError(t, err)
	})
}

func TestReadOnly(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tn := newTestNet(t, nil)
		a := tn.server(nil)
		ro := tn.server(&Config{ReadOnly: true})
		_, err := ro.Ping(t.Context(), addrOf(a))
		require.NoError(t, err)
		synctest.Wait()
		require.Equal(t, 0, a.Stats().Nodes, "read-only nodes stay out of tables")
		require.Equal(t, 1, ro.Stats().Nodes)
		ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
		defer cancel()
		_, err = a.Ping(ctx, addrOf(ro))
		require.ErrorIs(t, err, ErrTimeout)
		// A read-only node can still announce.
		_, err = ro.Announce(t.Context(), metainfo.Hash{1}, 1, false, false, nil)
		require.NoError(t, err)
		require.Equal(t, 1, a.Stats().Peers)
	})
}

func TestUnhandledCountedWithoutCallback(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tn := newTestNet(t, nil)
		s := tn.server(nil)
		require.Nil(t, rawQuery(t, tn, netip.MustParseAddrPort("10.9.0.1:1"), s, []byte{0x41, 0, 0, 0}))
		require.Equal(t, uint64(1), s.Stats().Unhandled)
	})
}

func TestMarshalRoundTrip(t *testing.T) {
	seq := int64(4)
	m := &Msg{T: "xy", Y: typeQuery, Q: methodPut, A: &Args{ID: string(make([]byte, 20)), V: bencode.RawMessage("3:abc"), Seq: &seq}}
	b, err := AppendMsg(nil, m)
	require.NoError(t, err)
	var got Msg
	require.NoError(t, DecodeMsg(b, &got))
	require.Equal(t, m, &got)
	e := &Msg{T: "xy", Y: typeError, E: &Error{Code: 201, Msg: "x"}}
	b, err = AppendMsg(nil, e)
	require.NoError(t, err)
	require.Equal(t, "d1:eli201e1:xe1:t2:xy1:y1:ee", string(b))
	var re *Error
	require.True(t, errors.As(e.E, &re))
}

// TestSharedSocket runs another protocol on the DHT's socket: its packets
// reach it through Config.Unhandled and it answers on the same conn, while
// the DHT keeps working.
func TestSharedSocket(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tn := newTestNet(t, nil)
		conn, err := tn.net.Listen(testAddr(50))
		require.NoError(t, err)
		s, err := NewServer(conn, &Config{BootstrapNodes: []string{}, Unhandled: func(b []byte, from netip.AddrPort) {
			// A toy protocol: echo with a prefix.
			_, _ = conn.WriteToAddrPort(append([]byte("echo:"), b...), from)
		}})
		require.NoError(t, err)
		defer s.Close()
		other := tn.server(nil)

		peer, err := tn.net.Listen(testAddr(51))
		require.NoError(t, err)
		defer peer.Close()
		_, _ = peer.WriteToAddrPort([]byte{0x41, 0x00, 0x01}, testAddr(50)) // uTP-like header
		buf := make([]byte, 64)
		n, from, err := peer.ReadFromAddrPort(buf)
		require.NoError(t, err)
		require.Equal(t, testAddr(50), from)
		require.Equal(t, "echo:\x41\x00\x01", string(buf[:n]))

		id, err := s.Ping(t.Context(), addrOf(other))
		require.NoError(t, err)
		require.Equal(t, other.ID(), id)
	})
}

func TestLookupErrors(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tn := newTestNet(t, nil)
		a := tn.server(&Config{Nodes: []NodeInfo{{RandomID(), testAddr(900)}}})
		_, err := a.FindNode(t.Context(), RandomID())
		require.ErrorIs(t, err, ErrNoResponse)
		b := tn.server(&Config{Nodes: []NodeInfo{{RandomID(), testAddr(901)}}})
		require.NoError(t, b.Close())
		_, err = b.GetPeers(t.Context(), metainfo.Hash{}, nil)
		require.ErrorIs(t, err, ErrClosed)
	})
}

func TestNewServerNilConn(t *testing.T) {
	_, err := NewServer(nil, nil)
	require.Error(t, err)
}

func TestKeepConnOpen(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tn := newTestNet(t, nil)
		conn, err := tn.net.Listen(testAddr(60))
		require.NoError(t, err)
		defer conn.Close()
		s, err := NewServer(conn, &Config{BootstrapNodes: []string{}, KeepConnOpen: true})
		require.NoError(t, err)
		synctest.Wait()
		require.NoError(t, s.Close())
		// The conn still works for its other users.
		peer, err := tn.net.Listen(testAddr(61))
		require.NoError(t, err)
		defer peer.Close()
		_, err = peer.WriteToAddrPort([]byte("after"), testAddr(60))
		require.NoError(t, err)
		buf := make([]byte, 16)
		n, _, err := conn.ReadFrom(buf)
		require.NoError(t, err)
		require.Equal(t, "after", string(buf[:n]))
	})
}
