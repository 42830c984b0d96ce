package dht

import (
	"net/netip"
	"testing"
	"testing/synctest"

	"github.com/bittern/bittern/internal/memnet"
	"github.com/bittern/bittern/metainfo"
	"github.com/stretchr/testify/require"
)

// fakeNode answers the queries reaching addr with whatever reply returns
// (nil: no answer), until the test ends.
func fakeNode(t *testing.T, n *memnet.Network, addr netip.AddrPort, reply func(q *Msg, from netip.AddrPort) []byte) {
	t.Helper()
	conn, err := n.Listen(addr)
	require.NoError(t, err)
	t.Cleanup(func() { conn.Close() })
	go func() {
		buf := make([]byte, maxPacket)
		for {
			k, from, err := conn.ReadFromAddrPort(buf)
			if err != nil {
				return
			}
			var m Msg
			if DecodeMsg(buf[:k], &m) != nil || m.Y != typeQuery {
				continue
			}
			if b := reply(&m, from); b != nil {
				_, _ = conn.WriteToAddrPort(b, from)
			}
		}
	}()
}

func encode(t *testing.T, m *Msg) []byte {
	t.Helper()
	b, err := AppendMsg(nil, m)
	require.NoError(t, err)
	return b
}

// TestHostileResponses runs lookups against a node that lies: it answers
// under another ID than the one it was known by, with hundreds of values
// (some malformed), nodes lists naming us, port 0 and a wrong length, and
// a get_peers token it did not earn. The lookup must neither panic nor
// pass on anything invalid, and stays within its bounds.
func TestHostileResponses(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tn := newTestNet(t, nil)
		liar := testAddr(700)
		self := RandomID()
		fakeNode(t, tn.net, liar, func(q *Msg, _ netip.AddrPort) []byte {
			r := &Return{ID: string(make([]byte, 20)), Token: "tok"}
			for i := range 300 {
				v := appendCompactAddr(nil, testAddr(10000+i))
				switch i % 10 {
				case 0:
					v = v[:5] // too short
				case 1:
					v = appendCompactAddr(nil, netip.AddrPortFrom(testAddr(i).Addr(), 0)) // port 0
				}
				r.Values = append(r.Values, string(v))
			}
			var nodes []NodeInfo
			for i := range 100 {
				id, a := RandomID(), testAddr(20000+i)
				switch i % 4 {
				case 0:
					id = self // claims our ID
				case 1:
					a = netip.AddrPortFrom(a.Addr(), 0)
				}
				nodes = append(nodes, NodeInfo{id, a})
			}
			r.Nodes = string(appendCompactNodes(nil, nodes, false))
			r.Nodes6 = "not a multiple of 38"
			return encode(t, &Msg{T: q.T, Y: typeResponse, R: r})
		})
		s := tn.server(&Config{NodeID: self, Nodes: []NodeInfo{{RandomID(), liar}}})
		var peers []netip.AddrPort
		st, err := s.GetPeers(t.Context(), metainfo.Hash(RandomID()), func(p netip.AddrPort) { peers = append(peers, p) })
		require.NoError(t, err)
		require.LessOrEqual(t, len(peers), 4*maxValuesPerReply)
		require.NotEmpty(t, peers)
		for _, p := range peers {
			require.True(t, p.IsValid() && p.Port() != 0, "%v", p)
		}
		require.Equal(t, 1, st.Replied)
		require.LessOrEqual(t, st.Queried, maxCandidates+1)
		for _, n := range st.Closest {
			require.NotEqual(t, self, n.ID)
		}
		synctest.Wait()
		// The liar is in our table under the ID it answered with, not the
		// one it was introduced by; nobody sits there under our own ID.
		for _, n := range s.Nodes() {
			require.NotEqual(t, self, n.ID)
			if n.Addr == liar {
				require.Equal(t, ID{}, n.ID)
			}
		}
	})
}

// TestRemoteErrorsAndSpoofedReplies checks the client side of KRPC errors
// (a query returns the remote *Error with its code) and of transaction
// IDs: a reply with the right ID from the wrong address is ignored.
func TestRemoteErrorsAndSpoofedReplies(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tn := newTestNet(t, nil)
		for code := ErrCodeGeneric; code <= ErrCodeMethodUnknown; code++ {
			addr := testAddr(800 + code)
			fakeNode(t, tn.net, addr, func(q *Msg, _ netip.AddrPort) []byte {
				return encode(t, &Msg{T: q.T, Y: typeError, E: &Error{Code: code, Msg: "no"}})
			})
			s := tn.server(nil)
			_, err := s.Ping(t.Context(), addr)
			var re *Error
			require.ErrorAs(t, err, &re)
			require.Equal(t, code, re.Code)
			require.Equal(t, "no", re.Msg)
		}

		// A spoofer answers every transaction ID it learns, from its own
		// address, before the real node does.
		spoofer, err := tn.net.Listen(testAddr(900))
		require.NoError(t, err)
		defer spoofer.Close()
		real := testAddr(901)
		fakeNode(t, tn.net, real, func(q *Msg, from netip.AddrPort) []byte {
			fake := encode(t, &Msg{T: q.T, Y: typeResponse, R: &Return{ID: "spoofspoofspoofspoof"}})
			_, _ = spoofer.WriteToAddrPort(fake, from)
			return encode(t, &Msg{T: q.T, Y: typeResponse, R: &Return{ID: "realrealrealrealreal"}})
		})
		s := tn.server(nil)
		id, err := s.Ping(t.Context(), real)
		require.NoError(t, err)
		require.Equal(t, "realrealrealrealreal", string(id[:]))
		require.Equal(t, uint64(1), s.Stats().UnknownTransactions)
	})
}
