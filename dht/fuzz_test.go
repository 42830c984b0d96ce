package dht

import (
	"net/netip"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func krpcSeeds() []string {
	id := "abcdefghij0123456789"
	seq := int64(1)
	msgs := []*Msg{
		{T: "aa", Y: typeQuery, Q: methodPing, A: &Args{ID: id}},
		{T: "aa", Y: typeQuery, Q: methodGetPeers, A: &Args{ID: id, InfoHash: id, Want: []string{"n4", "n6"}, Scrape: 1, NoSeed: 1}},
		{T: "aa", Y: typeQuery, Q: methodAnnouncePeer, A: &Args{ID: id, InfoHash: id, Port: 6881, ImpliedPort: 1, Token: "tok", Seed: 1}},
		{T: "aa", Y: typeQuery, Q: methodPut, A: &Args{ID: id, V: []byte("3:abc"), K: string(make([]byte, 32)), Sig: string(make([]byte, 64)), Seq: &seq, Salt: "s", CAS: &seq, Token: "t"}},
		{T: "aa", Y: typeResponse, R: &Return{ID: id, Nodes: string(appendCompactNodes(nil, []NodeInfo{{ID(RandomID()), netip.MustParseAddrPort("1.2.3.4:5")}}, false)), Values: []string{"abcdef"}, Token: "x", BFsd: string(make([]byte, 256)), BFpe: string(make([]byte, 256))}, IP: "\x01\x02\x03\x04\x00\x05"},
		{T: "aa", Y: typeResponse, R: &Return{ID: id, Samples: id, Num: &seq, Interval: &seq, V: []byte("i1e"), Seq: &seq}},
		{T: "aa", Y: typeError, E: &Error{Code: 203, Msg: "bad"}, RO: 1, V: "BN\x00\x01"},
	}
	var out []string
	for _, m := range msgs {
		b, err := AppendMsg(nil, m)
		if err != nil {
			panic(err)
		}
		out = append(out, string(b))
	}
	return append(out,
		"d1:eli201e23:A Generic Error Ocurrede1:t2:aa1:y1:ee",
		"d1:ad2:id20:abcdefghij0123456789e1:q4:ping1:t2:aa1:y1:qe",
		"d1:rd2:id20:abcdefghij01234567895:token8:aoeusnth6:valuesl6:axje.u6:idhtnmee1:t2:aa1:y1:re",
		"d1:eli201ee1:t2:aa1:y1:ee", "d1:ele1:t1:a1:y1:ee", "d1:t1:a1:y1:qe", "le", "\x41\x02")
}

// FuzzDecodeMsg checks that KRPC decoding never panics and that every
// message it accepts re-encodes to a message that decodes to the same value.
func FuzzDecodeMsg(f *testing.F) {
	for _, s := range krpcSeeds() {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var m Msg
		if DecodeMsg(b, &m) != nil {
			return
		}
		enc, err := AppendMsg(nil, &m)
		require.NoError(t, err)
		var m2 Msg
		require.NoError(t, DecodeMsg(enc, &m2))
		require.Equal(t, m, m2)
	})
}

// FuzzServerHandle feeds arbitrary datagrams to a server's packet handler:
// it must never panic, and a reply is never much larger than needed.
func FuzzServerHandle(f *testing.F) {
	for _, s := range krpcSeeds() {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		s := newHandlerOnly()
		s.handlePacket(b, netip.MustParseAddrPort("10.0.0.7:7"))
		for _, out := range s.conn.(*recordConn).sent {
			require.LessOrEqual(t, len(out), maxReply)
		}
	})
}

// newHandlerOnly returns a Server whose goroutines are not started, with a
// socket that records what is sent, for fuzzing the packet handler.
func newHandlerOnly() *Server {
	now := time.Now()
	s := &Server{conn: &recordConn{}, txs: make(map[string]*transaction), done: make(chan struct{}),
		pings:  make(chan netip.AddrPort, pingQueueLen),
		voters: make(map[netip.Addr]netip.Addr), local4: true, local6: true}
	s.cfg = Config{Alpha: 3, QueryTimeout: time.Second, QueryRate: 1e9, QueryBurst: 1e9, MaxItems: 10}
	s.id = RandomID()
	s.log = discardLogger()
	s.tables = [2]*table{newTable(s.id, now), newTable(s.id, now)}
	s.tokens = newTokens(now)
	s.peers = newPeerStore(time.Minute, 10, 10)
	s.items = newItemStore(10)
	s.limiter = newIPLimiter(1e9, 1e9)
	s.closed = true // no pings from handlers
	for i := range 40 {
		s.tables[0].insert(NodeInfo{RandomID(), testAddr(i + 1)}, true, now)
	}
	return s
}

// FuzzLookupResponse feeds arbitrary responses to a get_peers lookup, as a
// hostile node would send them: nodes, values and tokens of any shape must
// never panic it, and every peer it reports is a valid address.
func FuzzLookupResponse(f *testing.F) {
	for _, s := range krpcSeeds() {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var m Msg
		if DecodeMsg(b, &m) != nil || m.R == nil {
			return
		}
		s := newHandlerOnly()
		l := s.peersLookup([20]byte(RandomID()), func(p netip.AddrPort) {
			if !p.IsValid() || p.Port() == 0 {
				t.Fatalf("bad peer %v", p)
			}
		}, true, nil)
		require.NotEmpty(t, l.cands)
		c := l.cands[0]
		c.state = candInFlight
		l.handle(lookupReply{c: c, m: &m})
		require.LessOrEqual(t, len(l.cands), maxCandidates)
		l.next()
	})
}
