package dht

import (
	"net/netip"
	"slices"
	"testing"
	"testing/synctest"
	"time"

	"github.com/bittern/bittern/internal/memnet"
	"github.com/stretchr/testify/require"
)

var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

func idWithPrefix(self ID, cpl int, tail byte) ID {
	id := randomIDWithPrefix(self, cpl)
	id[19] = tail
	return id
}

func TestIDHelpers(t *testing.T) {
	self := RandomID()
	for n := range 160 {
		id := randomIDWithPrefix(self, n)
		require.Equal(t, n, self.CommonPrefixLen(id), n)
	}
	require.Equal(t, 160, self.CommonPrefixLen(self))
	_, err := ParseID("zz")
	require.Error(t, err)
	id, err := ParseID(self.String())
	require.NoError(t, err)
	require.Equal(t, self, id)
	a, b := ID{0: 0x01}, ID{0: 0x02}
	require.True(t, closer(ID{}, a, b))
	require.False(t, closer(ID{}, b, a))
	require.Equal(t, ID{0: 3}, a.Xor(b))
}

func TestTableSplitAndReplace(t *testing.T) {
	self := ID{}
	tb := newTable(self, t0)
	addr := func(i int) netip.AddrPort { return testAddr(i) }
	// 8 far nodes (cpl 0) fill bucket 0 after splits.
	for i := range K {
		id := idWithPrefix(self, 0, byte(i))
		res, _ := tb.insert(NodeInfo{id, addr(i)}, true, t0)
		require.Equal(t, inserted, res)
	}
	// Nodes near us force splits.
	for i := range K {
		res, _ := tb.insert(NodeInfo{idWithPrefix(self, 5, byte(i)), addr(100 + i)}, true, t0)
		require.Equal(t, inserted, res)
	}
	require.GreaterOrEqual(t, len(tb.buckets), 2)
	require.Equal(t, 2*K, tb.count)
	// A ninth far node goes to the replacement cache; all are good.
	extra := NodeInfo{idWithPrefix(self, 0, 99), addr(50)}
	res, ping := tb.insert(extra, true, t0)
	require.Equal(t, cached, res)
	require.Nil(t, ping)
	// After 15 minutes nodes are questionable: insert asks for a ping of
	// the least recently seen one.
	b0 := tb.buckets[0]
	for i, n := range b0.nodes {
		n.lastReply = t0.Add(time.Duration(len(b0.nodes)-i) * time.Second)
	}
	later := t0.Add(goodFor + time.Minute)
	res, ping = tb.insert(NodeInfo{idWithPrefix(self, 0, 98), addr(51)}, true, later)
	require.Equal(t, cached, res)
	require.Equal(t, b0.nodes[len(b0.nodes)-1], ping)
	// A node failing twice is replaced from the cache.
	victim := tb.buckets[0].nodes[0]
	tb.failed(victim.ID, victim.Addr)
	require.NotNil(t, tb.lookup(victim.ID))
	tb.failed(victim.ID, victim.Addr)
	require.Nil(t, tb.lookup(victim.ID))
	require.Equal(t, 2*K, tb.count)
	// Unverified nodes never enter a full bucket's cache.
	res, _ = tb.insert(NodeInfo{idWithPrefix(self, 0, 97), addr(52)}, false, t0)
	require.Equal(t, cached, res)
	// Our own ID is refused.
	res, _ = tb.insert(NodeInfo{self, addr(1)}, true, t0)
	require.Equal(t, rejectedSelf, res)
	// closest is sorted by distance.
	target := RandomID()
	cl := tb.closest(target, K)
	require.Len(t, cl, K)
	for i := 1; i < len(cl); i++ {
		require.True(t, closer(target, cl[i-1].ID, cl[i].ID))
	}
	require.Len(t, tb.all(), tb.count)
	require.Len(t, tb.staleBuckets(t0.Add(time.Hour), time.Minute), len(tb.buckets))
	require.NotEmpty(t, tb.questionable(later, 100))
	tb.remove(cl[0].ID)
	require.Nil(t, tb.lookup(cl[0].ID))
}

func TestTableAddressChange(t *testing.T) {
	self := RandomID()
	tb := newTable(self, t0)
	id := RandomID()
	tb.insert(NodeInfo{id, testAddr(1)}, true, t0)
	// A good node keeps its address against a claim from elsewhere.
	tb.insert(NodeInfo{id, testAddr(2)}, true, t0)
	require.Equal(t, testAddr(1), tb.lookup(id).Addr)
	// Once it stops answering, the new address is believed.
	tb.failed(id, testAddr(1))
	tb.insert(NodeInfo{id, testAddr(2)}, true, t0)
	require.Equal(t, testAddr(2), tb.lookup(id).Addr)
}

func TestTokens(t *testing.T) {
	tk := newTokens(t0)
	ip := netip.MustParseAddr("1.2.3.4")
	tok := tk.make(ip, t0)
	require.Len(t, tok, tokenLen)
	require.True(t, tk.valid(tok, ip, t0))
	require.False(t, tk.valid(tok, netip.MustParseAddr("1.2.3.5"), t0))
	require.False(t, tk.valid("short", ip, t0))
	// Valid across one rotation, not two.
	require.True(t, tk.valid(tok, ip, t0.Add(tokenRotation+time.Second)))
	require.False(t, tk.valid(tok, ip, t0.Add(2*tokenRotation+2*time.Second)))
	// A long idle period forgets both secrets.
	tk2 := newTokens(t0)
	tok2 := tk2.make(ip, t0)
	require.False(t, tk2.valid(tok2, ip, t0.Add(3*tokenRotation)))
}

func TestPeerStoreLimits(t *testing.T) {
	ps := newPeerStore(time.Minute, 2, 3)
	ih1, ih2, ih3 := ID{1}, ID{2}, ID{3}
	for i := range 5 {
		require.True(t, ps.add(ih1, testAddr(i), i == 0, t0.Add(time.Duration(i)*time.Second)))
	}
	require.Equal(t, 3, ps.npeers)
	require.Len(t, ps.get(ih1, 10, false, false, t0.Add(5*time.Second)), 3)
	require.Len(t, ps.get(ih1, 2, false, false, t0.Add(5*time.Second)), 2)
	require.Empty(t, ps.get(ih1, 10, true, false, t0.Add(5*time.Second)), "no IPv6 peers")
	// Same IP, new port: one entry (BEP 33).
	p := netip.AddrPortFrom(testAddr(4).Addr(), 9999)
	ps.add(ih1, p, false, t0.Add(6*time.Second))
	require.Equal(t, 3, ps.npeers)
	require.Contains(t, ps.get(ih1, 10, false, false, t0.Add(6*time.Second)), p)
	require.True(t, ps.add(ih2, testAddr(1), false, t0))
	require.True(t, ps.add(ih2, testAddr(2), false, t0))
	require.False(t, ps.add(ih3, testAddr(1), false, t0), "info-hash cap: no swarm with a single peer to evict")
	// Expiry frees room.
	late := t0.Add(2 * time.Minute)
	require.Empty(t, ps.get(ih1, 10, false, false, late))
	require.True(t, ps.add(ih3, testAddr(1), false, late))
	require.Equal(t, 1, ps.npeers)
	require.Len(t, ps.infoHashes(10), 1)
	// A full store evicts a one-peer swarm for a new info-hash.
	ps2 := newPeerStore(time.Hour, 2, 10)
	ps2.add(ih1, testAddr(1), false, t0)
	ps2.add(ih1, testAddr(2), false, t0)
	ps2.add(ih2, testAddr(3), false, t0)
	require.True(t, ps2.add(ih3, testAddr(4), false, t0))
	require.Nil(t, ps2.swarms[ih2])
	require.Equal(t, 3, ps2.npeers)
}

func TestRateLimiterBounded(t *testing.T) {
	l := newIPLimiter(1, 2)
	ip := netip.MustParseAddr("1.1.1.1")
	require.True(t, l.allow(ip, t0))
	require.True(t, l.allow(ip, t0))
	require.False(t, l.allow(ip, t0))
	require.True(t, l.allow(ip, t0.Add(time.Second)))
	for i := range maxLimiterEntries + 10 {
		l.allow(testAddr(i).Addr(), t0.Add(time.Second))
	}
	require.LessOrEqual(t, len(l.m), maxLimiterEntries)
	l.gc(t0.Add(time.Hour))
	require.Empty(t, l.m)
}

func TestCompact(t *testing.T) {
	nodes := []NodeInfo{
		{RandomID(), netip.MustParseAddrPort("1.2.3.4:5")},
		{RandomID(), netip.MustParseAddrPort("[2001:db8::1]:6881")},
		{RandomID(), netip.MustParseAddrPort("5.6.7.8:0")},
	}
	b4 := appendCompactNodes(nil, nodes, false)
	require.Len(t, b4, 2*compactNode4)
	got, ok := parseCompactNodes(string(b4), false, 10)
	require.True(t, ok)
	require.Equal(t, nodes[:1], got, "zero port dropped")
	b6 := appendCompactNodes(nil, nodes, true)
	got, ok = parseCompactNodes(string(b6), true, 10)
	require.True(t, ok)
	require.Equal(t, nodes[1:2], got)
	_, ok = parseCompactNodes("abc", false, 10)
	require.False(t, ok)
	got, _ = parseCompactNodes(string(b4), false, 1)
	require.Len(t, got, 1)
	_, ok = parseCompactAddr([]byte{1, 2, 3})
	require.False(t, ok)
}

func TestClosestMatchesSort(t *testing.T) {
	self := RandomID()
	tb := newTable(self, t0)
	var all []NodeInfo
	for i := range 400 {
		id := RandomID()
		if i%3 == 0 {
			id = randomIDWithPrefix(self, 4+i%20)
		}
		if res, _ := tb.insert(NodeInfo{id, testAddr(i + 1)}, true, t0); res == inserted {
			all = append(all, NodeInfo{id, testAddr(i + 1)})
		}
	}
	for range 200 {
		target := RandomID()
		if target[0]&1 == 0 {
			target = randomIDWithPrefix(self, int(target[1]%30))
		}
		want := slices.Clone(all)
		slices.SortFunc(want, func(a, b NodeInfo) int { return distCmp(target, a.ID, b.ID) })
		for _, n := range []int{1, K, 3 * K} {
			require.Equal(t, want[:n], tb.closest(target, n))
		}
	}
}

func TestRateLimitIPv6Prefix(t *testing.T) {
	l := newIPLimiter(1, 1)
	require.True(t, l.allow(netip.MustParseAddr("2001:db8::1"), t0))
	require.False(t, l.allow(netip.MustParseAddr("2001:db8::2"), t0), "same /64")
	require.True(t, l.allow(netip.MustParseAddr("2001:db8:0:1::1"), t0), "another /64")
}

// TestWantAndNoSeed checks BEP 32 "want" and BEP 33 "noseed" answers.
func TestWantAndNoSeed(t *testing.T) {
	s := newHandlerOnly()
	for i := range 10 {
		a := netip.AddrPortFrom(netip.AddrFrom16([16]byte{0x20, 0x01, 0x0d, 0xb8, 15: byte(i + 1)}), 6881)
		s.tables[1].insert(NodeInfo{RandomID(), a}, true, time.Now())
	}
	ih := RandomID()
	s.peers.add(ih, testAddr(1), true, time.Now())
	s.peers.add(ih, testAddr(2), false, time.Now())
	from := netip.MustParseAddrPort("10.0.0.7:7")
	rc := s.conn.(*recordConn)
	send := func(a *Args, q string) *Msg {
		rc.sent = nil
		a.ID = "abcdefghij0123456789"
		b, err := AppendMsg(nil, &Msg{T: "t1", Y: typeQuery, Q: q, A: a})
		require.NoError(t, err)
		s.handlePacket(b, from)
		require.Len(t, rc.sent, 1)
		var m Msg
		require.NoError(t, DecodeMsg(rc.sent[0], &m))
		return &m
	}
	m := send(&Args{Target: string(ih[:])}, methodFindNode)
	require.Len(t, m.R.Nodes, K*compactNode4)
	require.Empty(t, m.R.Nodes6)
	m = send(&Args{Target: string(ih[:]), Want: []string{"n4", "n6"}}, methodFindNode)
	require.Len(t, m.R.Nodes, K*compactNode4)
	require.Len(t, m.R.Nodes6, K*compactNode6)
	m = send(&Args{Target: string(ih[:]), Want: []string{"n6"}}, methodFindNode)
	require.Empty(t, m.R.Nodes)
	require.Len(t, m.R.Nodes6, K*compactNode6)

	m = send(&Args{InfoHash: string(ih[:])}, methodGetPeers)
	require.Len(t, m.R.Values, 2)
	m = send(&Args{InfoHash: string(ih[:]), NoSeed: 1}, methodGetPeers)
	require.Equal(t, []string{string(appendCompactAddr(nil, testAddr(2)))}, m.R.Values)
	m = send(&Args{InfoHash: string(ih[:]), Scrape: 1}, methodGetPeers)
	require.InDelta(t, 1, ScrapeEstimate([]byte(m.R.BFsd)), 0.1)
	require.InDelta(t, 1, ScrapeEstimate([]byte(m.R.BFpe)), 0.1)
}

func TestTableSubnetRestriction(t *testing.T) {
	self := RandomID()
	tb := newTable(self, t0)
	tb.restrictIPs = true
	a := netip.MustParseAddrPort("81.2.3.4:1000")
	res, _ := tb.insert(NodeInfo{randomIDWithPrefix(self, 0), a}, true, t0)
	require.Equal(t, inserted, res)
	res, _ = tb.insert(NodeInfo{randomIDWithPrefix(self, 0), netip.MustParseAddrPort("81.2.3.99:1001")}, true, t0)
	require.Equal(t, rejectedSubnet, res, "same /24, same bucket")
	res, _ = tb.insert(NodeInfo{randomIDWithPrefix(self, 0), netip.MustParseAddrPort("81.2.4.1:1001")}, true, t0)
	require.Equal(t, inserted, res, "another /24")
	res, _ = tb.insert(NodeInfo{randomIDWithPrefix(self, 0), netip.MustParseAddrPort("[2a00:1:2:3::1]:1")}, true, t0)
	require.Equal(t, inserted, res)
	res, _ = tb.insert(NodeInfo{randomIDWithPrefix(self, 0), netip.MustParseAddrPort("[2a00:1:2:3::2]:1")}, true, t0)
	require.Equal(t, rejectedSubnet, res, "same /64")
	for i := range 3 {
		res, _ = tb.insert(NodeInfo{randomIDWithPrefix(self, 0), netip.AddrPortFrom(netip.MustParseAddr("10.0.0.1"), uint16(i+1))}, true, t0)
		require.Equal(t, inserted, res, "private addresses are exempt")
	}
}

func TestUnverifiedNodesNotShared(t *testing.T) {
	tb := newTable(RandomID(), t0)
	ni := NodeInfo{RandomID(), testAddr(1)}
	res, _ := tb.insert(ni, false, t0)
	require.Equal(t, inserted, res)
	require.Empty(t, tb.closest(ni.ID, K))
	require.Empty(t, tb.all())
	tb.insert(ni, true, t0)
	require.Equal(t, []NodeInfo{ni}, tb.closest(ni.ID, K))
	require.Equal(t, []NodeInfo{ni}, tb.all())
}

// TestReplyLimits checks the caps on values and samples per reply.
func TestReplyLimits(t *testing.T) {
	s := newHandlerOnly()
	s.peers = newPeerStore(time.Hour, 1000, 1000)
	ih := RandomID()
	now := time.Now()
	for i := range 2 * maxValuesPerReply {
		s.peers.add(ih, testAddr(1000+i), false, now)
	}
	for range 3 * maxSamples {
		s.peers.add(RandomID(), testAddr(5000), false, now)
	}
	from := netip.MustParseAddrPort("10.0.0.7:7")
	rc := s.conn.(*recordConn)
	ask := func(q string, a *Args) *Msg {
		rc.sent = nil
		a.ID = "abcdefghij0123456789"
		b, err := AppendMsg(nil, &Msg{T: "t1", Y: typeQuery, Q: q, A: a})
		require.NoError(t, err)
		s.handlePacket(b, from)
		require.Len(t, rc.sent, 1)
		require.LessOrEqual(t, len(rc.sent[0]), maxReply)
		var m Msg
		require.NoError(t, DecodeMsg(rc.sent[0], &m))
		return &m
	}
	m := ask(methodGetPeers, &Args{InfoHash: string(ih[:])})
	require.Len(t, m.R.Values, maxValuesPerReply)
	m = ask(methodGetPeers, &Args{InfoHash: string(ih[:]), Scrape: 1})
	require.Len(t, m.R.Values, maxValuesPerReply/2, "room for the bloom filters")
	m = ask(methodSampleInfohashes, &Args{Target: string(ih[:])})
	require.Len(t, m.R.Samples, 20*maxSamples)
	require.Equal(t, int64(3*maxSamples+1), *m.R.Num)
}

// TestLongDatagramTruncated checks the read limit: a datagram over
// maxPacket reaches Config.Unhandled cut to maxPacket bytes.
func TestLongDatagramTruncated(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := memnet.New(nil)
		conn, err := n.Listen(testAddr(1))
		require.NoError(t, err)
		got := make(chan int, 1)
		s, err := NewServer(conn, &Config{BootstrapNodes: []string{}, Unhandled: func(b []byte, _ netip.AddrPort) { got <- len(b) }})
		require.NoError(t, err)
		defer s.Close()
		peer, err := n.Listen(testAddr(2))
		require.NoError(t, err)
		defer peer.Close()
		_, err = peer.WriteToAddrPort(make([]byte, maxPacket+100), testAddr(1))
		require.NoError(t, err)
		require.Equal(t, maxPacket, <-got)
	})
}
