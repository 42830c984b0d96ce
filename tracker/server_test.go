package tracker

import (
	"encoding/binary"
	"math/rand/v2"
	"net/netip"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/bittern/bittern/metainfo"
)

func ann(ih metainfo.Hash, id byte, addr string, left int64, ev Event) *serverAnnounce {
	return &serverAnnounce{infoHash: ih, peerID: peerID(id), addr: netip.MustParseAddrPort(addr),
		left: left, event: ev, numWant: -1, want4: true, want6: true}
}

func TestServerCountsAndEvents(t *testing.T) {
	s := NewServer(nil)
	r, err := s.announce(ann(testIH, 1, "1.1.1.1:1", 0, EventStarted))
	require.NoError(t, err)
	require.Equal(t, 1, r.seeders)
	require.Empty(t, r.peers)
	r, err = s.announce(ann(testIH, 2, "2.2.2.2:2", 5, EventStarted))
	require.NoError(t, err)
	require.Equal(t, 1, r.seeders)
	require.Equal(t, 1, r.leechers)
	require.Equal(t, []swarmPeer{{peerID(1), netip.MustParseAddrPort("1.1.1.1:1")}}, r.peers)

	// completed counts once; the peer moves to the seeders.
	for range 2 {
		_, err = s.announce(ann(testIH, 2, "2.2.2.2:2", 0, EventCompleted))
		require.NoError(t, err)
	}
	st, _ := s.scrape([]metainfo.Hash{testIH})
	require.Equal(t, ScrapeStats{Complete: 2, Incomplete: 0, Downloaded: 1, HasDownloaders: true}, st[testIH])

	// A seeder is not given other seeders.
	r, _ = s.announce(ann(testIH, 1, "1.1.1.1:1", 0, EventNone))
	require.Empty(t, r.peers)

	// stopped removes the peer and returns nobody.
	r, _ = s.announce(ann(testIH, 2, "2.2.2.2:2", 0, EventStopped))
	require.Empty(t, r.peers)
	require.Equal(t, 1, r.seeders)
	_, _ = s.announce(ann(testIH, 1, "1.1.1.1:1", 0, EventStopped))
	require.Equal(t, ServerStats{}, s.Stats())

	// A peer ID listed at another address cannot be taken over or
	// stopped without the key it was listed with.
	a := ann(testIH, 5, "5.5.5.5:5", 1, EventStarted)
	a.key = "k1"
	_, err = s.announce(a)
	require.NoError(t, err)
	for _, k := range []string{"", "k2"} {
		b := ann(testIH, 5, "6.6.6.6:5", 1, EventStopped)
		b.key = k
		_, err = s.announce(b)
		require.ErrorIs(t, err, errPeerIDInUse)
	}
	a.addr, a.event = netip.MustParseAddrPort("6.6.6.6:5"), EventNone
	_, err = s.announce(a) // right key: the peer moved
	require.NoError(t, err)
	r, _ = s.announce(ann(testIH, 6, "7.7.7.7:7", 1, EventNone))
	require.Equal(t, []swarmPeer{{peerID(5), netip.MustParseAddrPort("6.6.6.6:5")}}, r.peers)
	_, _ = s.announce(ann(testIH, 6, "7.7.7.7:7", 1, EventStopped))
	a.event = EventStopped
	_, _ = s.announce(a)
	require.Equal(t, ServerStats{}, s.Stats())

	// Invalid port.
	_, err = s.announce(ann(testIH, 1, "1.1.1.1:0", 0, EventStarted))
	require.ErrorIs(t, err, errBadRequest)
}

func TestServerFamiliesAndNumWant(t *testing.T) {
	s := NewServer(&ServerConfig{MaxNumWant: 10, DefaultNumWant: 5})
	for i := range 20 {
		addr := netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, 0, 0, byte(i)}), 1000)
		if i%2 == 1 {
			addr = netip.AddrPortFrom(netip.AddrFrom16([16]byte{0xfd, 15: byte(i)}), 1000)
		}
		_, err := s.announce(&serverAnnounce{infoHash: testIH, peerID: peerID(byte(i)), addr: addr, left: 1, numWant: 0})
		require.NoError(t, err)
	}
	a := ann(testIH, 100, "9.9.9.9:9", 1, EventNone)
	r, _ := s.announce(a)
	require.Len(t, r.peers, 5) // default
	a.numWant = 1000
	r, _ = s.announce(a)
	require.Len(t, r.peers, 10) // capped
	seen := map[[20]byte]bool{}
	for _, p := range r.peers {
		require.False(t, seen[p.id], "duplicate peer")
		seen[p.id] = true
		require.NotEqual(t, peerID(100), p.id, "self returned")
	}
	a.want6 = false
	r, _ = s.announce(a)
	for _, p := range r.peers {
		require.True(t, p.addr.Addr().Is4())
	}
	a.want4, a.want6 = false, true
	r, _ = s.announce(a)
	for _, p := range r.peers {
		require.True(t, p.addr.Addr().Is6())
	}
}

func TestServerWhitelistAndLimits(t *testing.T) {
	s := NewServer(&ServerConfig{
		Allow:            func(h metainfo.Hash) bool { return h == testIH },
		MaxPeersPerSwarm: 2,
	})
	_, err := s.announce(ann(metainfo.Hash{1}, 1, "1.1.1.1:1", 0, EventStarted))
	require.ErrorIs(t, err, errNotAllowed)
	_, err = s.scrape([]metainfo.Hash{{1}})
	require.ErrorIs(t, err, errNotAllowed)
	for i := range 2 {
		_, err = s.announce(ann(testIH, byte(i), "1.1.1.1:1", 0, EventStarted))
		require.NoError(t, err)
	}
	_, err = s.announce(ann(testIH, 3, "1.1.1.1:1", 0, EventStarted))
	require.ErrorIs(t, err, errSwarmFull)
	// Known peers may still announce.
	_, err = s.announce(ann(testIH, 1, "1.1.1.1:1", 0, EventNone))
	require.NoError(t, err)

	s = NewServer(&ServerConfig{MaxSwarms: 1})
	_, err = s.announce(ann(metainfo.Hash{1}, 1, "1.1.1.1:1", 0, EventStarted))
	require.NoError(t, err)
	_, err = s.announce(ann(metainfo.Hash{2}, 1, "1.1.1.1:1", 0, EventStarted))
	require.ErrorIs(t, err, errTrackerFull)
}

func TestServerPeerExpiry(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := NewServer(&ServerConfig{Interval: time.Minute, PeerTimeout: 90 * time.Second})
		_, _ = s.announce(ann(testIH, 1, "1.1.1.1:1", 0, EventStarted))
		time.Sleep(60 * time.Second)
		_, _ = s.announce(ann(testIH, 2, "2.2.2.2:2", 1, EventStarted))
		time.Sleep(29 * time.Second)
		r, _ := s.announce(ann(testIH, 3, "3.3.3.3:3", 1, EventStarted))
		require.Len(t, r.peers, 2)
		time.Sleep(time.Second) // peer 1 is now 90 s old
		st, _ := s.scrape([]metainfo.Hash{testIH})
		require.Equal(t, ScrapeStats{Complete: 0, Incomplete: 2, Downloaders: 2, HasDownloaders: true}, st[testIH])
		r, _ = s.announce(ann(testIH, 3, "3.3.3.3:3", 1, EventNone))
		require.Equal(t, []swarmPeer{{peerID(2), netip.MustParseAddrPort("2.2.2.2:2")}}, r.peers)
		// A swarm nobody announces to is dropped by the periodic sweep.
		_, _ = s.announce(ann(metainfo.Hash{7}, 1, "1.1.1.1:1", 0, EventStarted))
		time.Sleep(91 * time.Second)
		_, _ = s.announce(ann(metainfo.Hash{8}, 1, "1.1.1.1:1", 0, EventStarted))
		require.Equal(t, ServerStats{Swarms: 1, Peers: 1, Seeders: 1}, s.Stats())
	})
}

// TestServerDefaultPeerTimeout: with no PeerTimeout a peer stays listed for
// 1.5 announce intervals after its last announce, so one that announces on
// time never drops out.
func TestServerDefaultPeerTimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := NewServer(&ServerConfig{Interval: time.Minute})
		_, _ = s.announce(ann(testIH, 1, "1.1.1.1:1", 0, EventStarted))
		_, _ = s.announce(ann(testIH, 2, "2.2.2.2:2", 1, EventStarted))
		for range 5 { // peer 2 announces every interval, peer 1 never again
			time.Sleep(time.Minute)
			_, _ = s.announce(ann(testIH, 2, "2.2.2.2:2", 1, EventNone))
		}
		st, _ := s.scrape([]metainfo.Hash{testIH})
		require.Equal(t, ScrapeStats{Incomplete: 1, Downloaders: 1, HasDownloaders: true}, st[testIH])

		s = NewServer(&ServerConfig{Interval: time.Minute})
		_, _ = s.announce(ann(testIH, 1, "1.1.1.1:1", 0, EventStarted))
		time.Sleep(90*time.Second - time.Nanosecond)
		st, _ = s.scrape([]metainfo.Hash{testIH})
		require.Equal(t, 1, st[testIH].Complete, "still listed just before 1.5 intervals")
		time.Sleep(time.Nanosecond)
		st, _ = s.scrape([]metainfo.Hash{testIH})
		require.Equal(t, ScrapeStats{}, st[testIH], "expired at 1.5 intervals")
	})
}

func TestServerUDPConnectionIDWindow(t *testing.T) {
	s := NewServer(nil)
	from := netip.MustParseAddrPort("10.0.0.2:5000")
	t0 := time.Unix(1_700_000_000, 0)
	rep := s.handleUDP(nil, appendUDPConnect(nil, 42), from, t0)
	r, err := parseUDPReply(rep, false)
	require.NoError(t, err)
	require.Equal(t, uint32(42), r.tid)
	id := r.connID

	announce := func(now time.Time, from netip.AddrPort) udpReply {
		a := udpAnnounce{connID: id, tid: 7, infoHash: testIH, peerID: peerID(1), port: 1, numWant: -1}
		rep := s.handleUDP(nil, appendUDPAnnounce(nil, &a), from, now)
		r, err := parseUDPReply(rep, false)
		require.NoError(t, err)
		return r
	}
	require.Equal(t, actionAnnounce, announce(t0, from).action)
	// Another port of the same host may use it.
	require.Equal(t, actionAnnounce, announce(t0, netip.MustParseAddrPort("10.0.0.2:5001")).action)
	// Accepted for at least two minutes…
	require.Equal(t, actionAnnounce, announce(t0.Add(2*time.Minute-time.Second), from).action)
	// …but not from another host, nor after four minutes.
	require.Equal(t, actionError, announce(t0, netip.MustParseAddrPort("10.0.0.3:5000")).action)
	require.Equal(t, actionError, announce(t0.Add(4*time.Minute+time.Second), from).action)
}

// TestServerUDPNoAmplification checks that no reply to a packet without a
// valid connection ID is larger than the packet.
func TestServerUDPNoAmplification(t *testing.T) {
	s := NewServer(nil)
	_, _ = s.announce(ann(testIH, 1, "1.1.1.1:1", 1, EventStarted))
	from := netip.MustParseAddrPort("10.0.0.2:5000")
	now := time.Now()
	rng := rand.New(rand.NewPCG(1, 2))
	var pkts [][]byte
	for n := range 200 {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(rng.UintN(256))
		}
		pkts = append(pkts, b)
		// Forged requests of every action with a made-up connection ID.
		for action := range uint32(4) {
			f := append([]byte(nil), b...)
			if len(f) >= 16 {
				binary.BigEndian.PutUint32(f[8:], action)
				pkts = append(pkts, f)
			}
		}
	}
	a := udpAnnounce{connID: 12345, infoHash: testIH, port: 1, numWant: 200}
	pkts = append(pkts, appendUDPAnnounce(nil, &a), appendUDPScrape(nil, 1, 1, [][20]byte{testIH}))
	for _, p := range pkts {
		rep := s.handleUDP(nil, p, from, now)
		require.LessOrEqual(t, len(rep), len(p), "request %x", p)
	}
}

func TestServerUDPScrapeAndErrors(t *testing.T) {
	s := NewServer(&ServerConfig{Allow: func(h metainfo.Hash) bool { return h == testIH }})
	from := netip.MustParseAddrPort("10.0.0.2:5000")
	now := time.Now()
	id := s.connID(from.Addr(), connIDWindowAt(now))
	rep := s.handleUDP(nil, appendUDPScrape(nil, id, 5, [][20]byte{{1}}), from, now)
	r, err := parseUDPReply(rep, false)
	require.NoError(t, err)
	require.Equal(t, actionError, r.action)
	require.Equal(t, "torrent not allowed", r.message)

	// Unknown events are regular announces.
	a := udpAnnounce{connID: id, tid: 9, infoHash: testIH, peerID: peerID(9), port: 1, event: 4}
	r, _ = parseUDPReply(s.handleUDP(nil, appendUDPAnnounce(nil, &a), from, now), false)
	require.Equal(t, actionAnnounce, r.action)
	a.event = EventStopped
	s.handleUDP(nil, appendUDPAnnounce(nil, &a), from, now)
	require.Equal(t, ServerStats{}, s.Stats())

	// Announced IP is ignored unless trusted.
	a = udpAnnounce{connID: id, tid: 9, infoHash: testIH, peerID: peerID(1), port: 1, ip: [4]byte{8, 8, 8, 8}, left: 1, key: 77}
	s.handleUDP(nil, appendUDPAnnounce(nil, &a), from, now)
	res, _ := s.announce(ann(testIH, 2, "3.3.3.3:3", 1, EventNone))
	require.Equal(t, netip.MustParseAddrPort("10.0.0.2:1"), res.peers[0].addr)
	s.cfg.TrustClientIP = true
	s.handleUDP(nil, appendUDPAnnounce(nil, &a), from, now)
	res, _ = s.announce(ann(testIH, 2, "3.3.3.3:3", 1, EventNone))
	require.Equal(t, netip.MustParseAddrPort("8.8.8.8:1"), res.peers[0].addr)
}

// TestServerUDPReplyFitsOnePacket: however many peers are asked for and
// allowed, a UDP announce reply fits one 1500-byte IP packet with its
// headers, for IPv4 and IPv6 clients; the default num_want still applies.
func TestServerUDPReplyFitsOnePacket(t *testing.T) {
	s := NewServer(&ServerConfig{MaxNumWant: 1000})
	for i := range 600 {
		var id [20]byte
		binary.BigEndian.PutUint16(id[:], uint16(i))
		addr := netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, 2, byte(i >> 8), byte(i)}), 1)
		if i%2 == 1 {
			addr = netip.AddrPortFrom(netip.AddrFrom16([16]byte{0xfd, 14: byte(i >> 8), 15: byte(i)}), 1)
		}
		_, err := s.announce(&serverAnnounce{infoHash: testIH, peerID: id, addr: addr, left: 1, numWant: 0})
		require.NoError(t, err)
	}
	now := time.Now()
	for _, tc := range []struct {
		from       string
		numWant    int32
		peers      int
		ipOverhead int
	}{
		{"10.0.0.2:5000", 1000, 242, 20 + 8},
		{"[fd00::2]:5000", 1000, 79, 40 + 8},
		{"10.0.0.2:5000", -1, 50, 20 + 8},
		{"[fd00::2]:5000", -1, 50, 40 + 8},
		{"10.0.0.2:5000", 7, 7, 20 + 8},
		// An IPv4 client seen on a dual-stack socket is an IPv4 client.
		{"[::ffff:10.0.0.2]:5000", 1000, 242, 20 + 8},
	} {
		from := netip.MustParseAddrPort(tc.from)
		id := s.connID(from.Addr(), connIDWindowAt(now))
		a := udpAnnounce{connID: id, tid: 1, infoHash: testIH, peerID: peerID(0xee), port: 1, left: 1, numWant: tc.numWant}
		rep := s.handleUDP(nil, appendUDPAnnounce(nil, &a), from, now)
		v6 := from.Addr().Unmap().Is6()
		r, err := parseUDPReply(rep, v6)
		require.NoError(t, err)
		require.Len(t, r.peers, tc.peers, "%s num_want %d", tc.from, tc.numWant)
		for _, p := range r.peers {
			require.Equal(t, v6, p.Addr().Is6(), "peers of the client's family only")
		}
		require.LessOrEqual(t, len(rep)+tc.ipOverhead, 1500)
	}
}
