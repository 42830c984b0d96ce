package dht

import (
	"crypto/ed25519"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/bittern/bittern/bencode"
	"github.com/stretchr/testify/require"
)

// TestAmplificationBound measures, for each query, how much larger the
// largest reply a node can give is than the query asking for it, with the
// node's table and stores full: the reply fits one unfragmented datagram
// (maxReply bytes) and is at most maxAmplification times the query. Together with the per-IP query
// rate this bounds what a forged source address can draw from a node.
func TestAmplificationBound(t *testing.T) {
	const maxAmplification = 16
	s := newHandlerOnly()
	now := time.Now()
	for i := range 40 {
		a := netip.AddrPortFrom(netip.AddrFrom16([16]byte{0x20, 0x01, 0x0d, 0xb8, 14: byte(i), 15: 1}), 6881)
		s.tables[1].insert(NodeInfo{RandomID(), a}, true, now)
	}
	s.peers = newPeerStore(time.Hour, 1000, 1000)
	ih := RandomID()
	for i := range 300 {
		s.peers.add(ih, testAddr(1000+i), i%2 == 0, now)
	}
	for range 100 {
		s.peers.add(RandomID(), testAddr(5000), false, now)
	}
	_, priv, _ := ed25519.GenerateKey(nil)
	it := Item{V: bencode.AppendString(nil, strings.Repeat("v", MaxItemValue-4)), Salt: []byte(strings.Repeat("s", MaxSalt)), Seq: 1}
	it.Sign(priv)
	require.Nil(t, s.items.put(it.Target(), it, nil, now))
	target := it.Target()

	from := netip.MustParseAddrPort("10.0.0.7:7")
	rc := s.conn.(*recordConn)
	want := []string{"n4", "n6"}
	for _, c := range []struct {
		q string
		a Args
	}{
		{methodPing, Args{}},
		{methodFindNode, Args{Target: string(ih[:]), Want: want}},
		{methodGetPeers, Args{InfoHash: string(ih[:]), Want: want}},
		{methodGetPeers, Args{InfoHash: string(ih[:]), Want: want, Scrape: 1}},
		{methodGet, Args{Target: string(target[:]), Want: want}},
		{methodSampleInfohashes, Args{Target: string(ih[:]), Want: want}},
		{"unknown", Args{}},
	} {
		c.a.ID = string(s.id[:])
		q := encode(t, &Msg{T: "t", Y: typeQuery, Q: c.q, A: &c.a})
		rc.sent = nil
		s.handlePacket(q, from)
		require.Len(t, rc.sent, 1)
		r := len(rc.sent[0])
		t.Logf("%-17s scrape=%d: query %4d bytes, reply %4d bytes (%.1fx)", c.q, c.a.Scrape, len(q), r, float64(r)/float64(len(q)))
		require.LessOrEqual(t, r, maxReply, c.q)
		require.LessOrEqual(t, r, maxAmplification*len(q), c.q)
		if c.q == methodGet {
			var m Msg
			require.NoError(t, DecodeMsg(rc.sent[0], &m))
			require.Equal(t, string(it.V), string(m.R.V), "the value stays")
			require.NotEmpty(t, m.R.Nodes, "the nearest nodes stay")
			require.Less(t, len(m.R.Nodes6)/compactNode6+len(m.R.Nodes)/compactNode4, 2*K, "the farthest went")
		}
	}

	// A transaction ID is echoed: a long one gets no answer at all.
	rc.sent = nil
	s.handlePacket(encode(t, &Msg{T: strings.Repeat("t", maxTransactionID+1), Y: typeQuery, Q: methodPing, A: &Args{ID: string(s.id[:])}}), from)
	s.handlePacket(encode(t, &Msg{T: strings.Repeat("t", maxTransactionID+1), Y: typeQuery, Q: methodPing, A: &Args{ID: "short"}}), from)
	require.Empty(t, rc.sent)
	s.handlePacket(encode(t, &Msg{T: strings.Repeat("t", maxTransactionID), Y: typeQuery, Q: methodPing, A: &Args{ID: string(s.id[:])}}), from)
	require.Len(t, rc.sent, 1)
}
