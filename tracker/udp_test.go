package tracker

import (
	"context"
	"encoding/binary"
	"net/netip"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/bittern/bittern/metainfo"
)

var (
	srvAddr4 = netip.MustParseAddrPort("10.0.0.1:6969")
	cliIP4   = netip.MustParseAddr("10.0.0.2")
	testIH   = metainfo.Hash{0xde, 0xad, 0xbe, 0xef, 1, 2, 3}
)

// runUDPServer serves srv on a memNet socket at addr until the test ends.
func runUDPServer(t *testing.T, mn *memNet, srv *Server, addr netip.AddrPort) {
	pc := mn.listen(addr)
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() { _ = srv.ServeUDP(ctx, pc) })
	t.Cleanup(func() {
		cancel()
		wg.Wait()
		pc.Close()
	})
}

func peerID(b byte) [20]byte {
	var id [20]byte
	copy(id[:], "-BT0001-")
	id[19] = b
	return id
}

func TestUDPAnnounceAndScrape(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		mn := newMemNet()
		runUDPServer(t, mn, NewServer(&ServerConfig{Interval: 10 * time.Minute}), srvAddr4)
		cfg := &Config{Dial: mn.dialer(cliIP4)}
		a, err := NewUDP("udp://10.0.0.1:6969", cfg)
		require.NoError(t, err)
		defer a.Close()
		b, err := NewUDP("udp://10.0.0.1:6969", cfg)
		require.NoError(t, err)
		defer b.Close()
		ctx := context.Background()

		ra, err := a.Announce(ctx, AnnounceRequest{InfoHash: testIH, PeerID: peerID(1), Port: 1111, Left: 0, Event: EventStarted})
		require.NoError(t, err)
		require.Equal(t, 10*time.Minute, ra.Interval)
		require.Empty(t, ra.Peers)
		require.Equal(t, 1, ra.Seeders)

		rb, err := b.Announce(ctx, AnnounceRequest{InfoHash: testIH, PeerID: peerID(2), Port: 2222, Left: 100, Event: EventStarted})
		require.NoError(t, err)
		require.Equal(t, []netip.AddrPort{netip.AddrPortFrom(cliIP4, 1111)}, rb.Peers)
		require.Equal(t, 1, rb.Seeders)
		require.Equal(t, 1, rb.Leechers)

		ra, err = a.Announce(ctx, AnnounceRequest{InfoHash: testIH, PeerID: peerID(1), Port: 1111})
		require.NoError(t, err)
		require.Equal(t, []netip.AddrPort{netip.AddrPortFrom(cliIP4, 2222)}, ra.Peers)

		_, err = b.Announce(ctx, AnnounceRequest{InfoHash: testIH, PeerID: peerID(2), Port: 2222, Event: EventCompleted})
		require.NoError(t, err)
		other := metainfo.Hash{9}
		st, err := a.Scrape(ctx, testIH, other)
		require.NoError(t, err)
		require.Equal(t, ScrapeStats{Complete: 2, Incomplete: 0, Downloaded: 1}, st[testIH])
		require.Equal(t, ScrapeStats{}, st[other])

		_, err = a.Scrape(ctx, make([]metainfo.Hash, MaxScrapeHashes+1)...)
		require.ErrorIs(t, err, ErrTooManyHashes)
	})
}

func TestUDPIPv6(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		mn := newMemNet()
		srv6 := netip.MustParseAddrPort("[fd00::1]:6969")
		runUDPServer(t, mn, NewServer(nil), srv6)
		cfg := &Config{Dial: mn.dialer(netip.MustParseAddr("fd00::2"))}
		a, _ := NewUDP("udp://[fd00::1]:6969", cfg)
		defer a.Close()
		_, err := a.Announce(t.Context(), AnnounceRequest{InfoHash: testIH, PeerID: peerID(1), Port: 1111})
		require.NoError(t, err)
		r, err := a.Announce(t.Context(), AnnounceRequest{InfoHash: testIH, PeerID: peerID(2), Port: 2222, Left: 1})
		require.NoError(t, err)
		require.Equal(t, []netip.AddrPort{netip.MustParseAddrPort("[fd00::2]:1111")}, r.Peers)
		// The reply used the 18-byte stride.
		pk := mn.packets()
		last := pk[len(pk)-1]
		require.Len(t, last.data, 20+18)
		// An IPv4 address to advertise cannot go in the IP field over IPv6:
		// it is sent as 0 (BEP 15).
		_, err = a.Announce(t.Context(), AnnounceRequest{InfoHash: testIH, PeerID: peerID(3), Port: 3333, IP: netip.MustParseAddr("1.2.3.4")})
		require.NoError(t, err)
		pk = mn.packets()
		req, ok := parseUDPRequest(pk[len(pk)-2].data)
		require.True(t, ok)
		require.Equal(t, actionAnnounce, req.action)
		require.Equal(t, [4]byte{}, req.announce.ip)
	})
}

// action returns the action of a client request.
func reqAction(b []byte) uint32 {
	r, ok := parseUDPRequest(b)
	if !ok {
		return 99
	}
	return r.action
}

func TestUDPRetransmitConnect(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		mn := newMemNet()
		mn.drop = func(_, to netip.AddrPort, _ []byte) bool { return to == srvAddr4 }
		runUDPServer(t, mn, NewServer(nil), srvAddr4)
		a, _ := NewUDP("udp://10.0.0.1:6969", &Config{Dial: mn.dialer(cliIP4)})
		defer a.Close()
		start := time.Now()
		_, err := a.Announce(t.Context(), AnnounceRequest{InfoHash: testIH, Port: 1})
		require.ErrorIs(t, err, ErrTimeout)
		// BEP 15: 15·2^n seconds, n = 0…8.
		require.Equal(t, 15*(1<<9-1)*time.Second, time.Since(start))
		var got []time.Duration
		for _, p := range mn.packets() {
			require.Equal(t, actionConnect, reqAction(p.data))
			got = append(got, p.at.Sub(start))
		}
		want := []time.Duration{0, 15, 45, 105, 225, 465, 945, 1905, 3825}
		for i := range want {
			want[i] *= time.Second
		}
		require.Equal(t, want, got)
	})
}

// TestUDPRetransmitAnnounce follows BEP 15's second timeline: announces
// time out and the counter keeps growing across the reconnect forced by the
// connection ID's expiry.
func TestUDPRetransmitAnnounce(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		mn := newMemNet()
		mn.drop = func(_, to netip.AddrPort, b []byte) bool {
			return to == srvAddr4 && reqAction(b) == actionAnnounce
		}
		runUDPServer(t, mn, NewServer(nil), srvAddr4)
		a, _ := NewUDP("udp://10.0.0.1:6969", &Config{Dial: mn.dialer(cliIP4), UDPRetries: 5})
		defer a.Close()
		start := time.Now()
		_, err := a.Announce(t.Context(), AnnounceRequest{InfoHash: testIH, Port: 1})
		require.ErrorIs(t, err, ErrTimeout)
		require.Equal(t, 945*time.Second, time.Since(start))
		type ev struct {
			action uint32
			at     time.Duration
		}
		var got []ev
		for _, p := range mn.packets() {
			if p.to == srvAddr4 {
				got = append(got, ev{reqAction(p.data), p.at.Sub(start) / time.Second})
			}
		}
		require.Equal(t, []ev{
			{actionConnect, 0}, {actionAnnounce, 0}, {actionAnnounce, 15}, {actionAnnounce, 45},
			{actionConnect, 105}, {actionAnnounce, 105},
			{actionConnect, 225}, {actionAnnounce, 225},
			{actionConnect, 465}, {actionAnnounce, 465},
		}, got)
	})
}

func TestUDPConnectionIDReuse(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		mn := newMemNet()
		runUDPServer(t, mn, NewServer(nil), srvAddr4)
		a, _ := NewUDP("udp://10.0.0.1:6969", &Config{Dial: mn.dialer(cliIP4)})
		defer a.Close()
		countConnects := func() int {
			n := 0
			for _, p := range mn.packets() {
				if p.to == srvAddr4 && reqAction(p.data) == actionConnect {
					n++
				}
			}
			return n
		}
		req := AnnounceRequest{InfoHash: testIH, PeerID: peerID(1), Port: 1}
		_, err := a.Announce(t.Context(), req)
		require.NoError(t, err)
		time.Sleep(59 * time.Second)
		_, err = a.Announce(t.Context(), req)
		require.NoError(t, err)
		_, err = a.Scrape(t.Context(), testIH)
		require.NoError(t, err)
		require.Equal(t, 1, countConnects()) // reused across sockets
		mn.mu.Lock()
		require.Len(t, mn.sockets, 1, "an idle client holds no socket")
		mn.mu.Unlock()
		time.Sleep(time.Second)
		_, err = a.Announce(t.Context(), req)
		require.NoError(t, err)
		require.Equal(t, 2, countConnects())
	})
}

// fakeUDPTracker answers client packets with reply(req, from).
func fakeUDPTracker(t *testing.T, mn *memNet, reply func(req []byte, send func([]byte))) {
	pc := mn.listen(srvAddr4)
	var wg sync.WaitGroup
	wg.Go(func() {
		buf := make([]byte, 2048)
		for {
			n, from, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			reply(append([]byte(nil), buf[:n]...), func(b []byte) { _, _ = pc.WriteTo(b, from) })
		}
	})
	t.Cleanup(func() { pc.Close(); wg.Wait() })
}

func TestUDPTransactionIDAndErrors(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		mn := newMemNet()
		var gotURLData string
		var gotIP [4]byte
		fakeUDPTracker(t, mn, func(b []byte, send func([]byte)) {
			r, ok := parseUDPRequest(b)
			if !ok {
				return
			}
			switch r.action {
			case actionConnect:
				send(appendUDPConnectReply(nil, r.tid+1, 7))          // wrong tid: ignored
				send([]byte{0, 0})                                    // garbage: ignored
				send(appendUDPConnectReply(nil, r.tid, 0x1122334455)) // right
			case actionAnnounce:
				gotURLData, gotIP = r.announce.urlData, r.announce.ip
				if r.connID != 0x1122334455 {
					send(appendUDPError(nil, r.tid, "bad id"))
					return
				}
				if r.announce.port == 666 {
					send(appendUDPError(nil, r.tid, "go away"))
					return
				}
				// A trailing partial peer is ignored.
				peers := []netip.AddrPort{netip.MustParseAddrPort("1.2.3.4:5"), netip.MustParseAddrPort("1.2.3.4:5")}
				send(append(appendUDPAnnounceReply(nil, r.tid, 60, 3, 4, peers, false), 9, 9))
			}
		})
		a, _ := NewUDP("udp://10.0.0.1:6969/announce?passkey=abc", &Config{Dial: mn.dialer(cliIP4)})
		defer a.Close()
		r, err := a.Announce(t.Context(), AnnounceRequest{InfoHash: testIH, Port: 1, IP: netip.MustParseAddr("::ffff:5.6.7.8")})
		require.NoError(t, err)
		require.Equal(t, "/announce?passkey=abc", gotURLData)
		require.Equal(t, [4]byte{5, 6, 7, 8}, gotIP)
		require.Equal(t, &AnnounceResponse{Interval: time.Minute, Leechers: 3, Seeders: 4,
			Peers: []netip.AddrPort{netip.MustParseAddrPort("1.2.3.4:5")}}, r)

		_, err = a.Announce(t.Context(), AnnounceRequest{InfoHash: testIH, Port: 666})
		var fe *FailureError
		require.ErrorAs(t, err, &fe)
		require.Equal(t, "go away", fe.Reason)
	})
}

func TestUDPContextCancel(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		mn := newMemNet()
		mn.drop = func(netip.AddrPort, netip.AddrPort, []byte) bool { return true }
		a, _ := NewUDP("udp://10.0.0.1:6969", &Config{Dial: mn.dialer(cliIP4)})
		defer a.Close()
		ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
		defer cancel()
		start := time.Now()
		_, err := a.Announce(ctx, AnnounceRequest{InfoHash: testIH, Port: 1})
		require.ErrorIs(t, err, context.DeadlineExceeded)
		require.Equal(t, 20*time.Second, time.Since(start))
		// The socket still works afterwards (the deadline set by the
		// cancellation does not leak into the next exchange).
		mn.drop = nil
		runUDPServer(t, mn, NewServer(nil), srvAddr4)
		_, err = a.Announce(t.Context(), AnnounceRequest{InfoHash: testIH, Port: 1})
		require.NoError(t, err)
		require.NoError(t, a.Close())
		_, err = a.Announce(t.Context(), AnnounceRequest{InfoHash: testIH, Port: 1})
		require.ErrorIs(t, err, ErrClosed)
	})
}

func TestUDPCloseInterrupts(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		mn := newMemNet()
		mn.drop = func(netip.AddrPort, netip.AddrPort, []byte) bool { return true }
		a, _ := NewUDP("udp://10.0.0.1:6969", &Config{Dial: mn.dialer(cliIP4)})
		start := time.Now()
		errc := make(chan error, 1)
		go func() {
			_, err := a.Announce(context.Background(), AnnounceRequest{Port: 1})
			errc <- err
		}()
		time.Sleep(5 * time.Second)
		require.NoError(t, a.Close())
		require.ErrorIs(t, <-errc, ErrClosed)
		require.Equal(t, 5*time.Second, time.Since(start))
	})
}

func TestUDPStaleConnectionIDReconnects(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		mn := newMemNet()
		srv := NewServer(nil)
		runUDPServer(t, mn, srv, srvAddr4)
		a, _ := NewUDP("udp://10.0.0.1:6969", &Config{Dial: mn.dialer(cliIP4)})
		defer a.Close()
		req := AnnounceRequest{InfoHash: testIH, PeerID: peerID(1), Port: 1}
		_, err := a.Announce(t.Context(), req)
		require.NoError(t, err)
		srv.secret[0] ^= 1 // as if the tracker restarted
		_, err = a.Announce(t.Context(), req)
		require.NoError(t, err)
	})
}

func TestNewUDPErrors(t *testing.T) {
	for _, u := range []string{"udp://host", "http://x:1", "udp://:80", "udp://h:1/" + string(make([]byte, 2000))} {
		_, err := NewUDP(u, nil)
		require.Error(t, err, u)
	}
}

// TestUDPSlowTracker: a tracker whose every answer takes 20 s. A
// retransmission repeats the transaction ID, so the late answer to the first
// connect is taken, and the announce, allowed 30 s as the second wait of the
// exchange (BEP 15), gets its answer too.
func TestUDPSlowTracker(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		mn := newMemNet()
		mn.delay = func(_, to netip.AddrPort, _ []byte) time.Duration {
			if to == srvAddr4 {
				return 0
			}
			return 20 * time.Second
		}
		runUDPServer(t, mn, NewServer(nil), srvAddr4)
		a, _ := NewUDP("udp://10.0.0.1:6969", &Config{Dial: mn.dialer(cliIP4)})
		defer a.Close()
		start := time.Now()
		_, err := a.Announce(t.Context(), AnnounceRequest{InfoHash: testIH, PeerID: peerID(1), Port: 1})
		require.NoError(t, err)
		require.Equal(t, 40*time.Second, time.Since(start))
		var sent []uint32
		var connTIDs []uint32
		for _, p := range mn.packets() {
			if p.to == srvAddr4 {
				r, _ := parseUDPRequest(p.data)
				sent = append(sent, r.action)
				if r.action == actionConnect {
					connTIDs = append(connTIDs, r.tid)
				}
			}
		}
		require.Equal(t, []uint32{actionConnect, actionConnect, actionAnnounce}, sent)
		require.Equal(t, connTIDs[0], connTIDs[1], "a retransmission repeats the transaction ID")
	})
}

// TestUDPTruncatedAndOversizedReplies: replies that carry our transaction
// ID but are too short for their action are ignored (the real answer that
// follows is taken); a reply as large as a datagram can be is read whole.
func TestUDPTruncatedAndOversizedReplies(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		mn := newMemNet()
		const nPeers = (65507 - 20) / 6 // the largest IPv4 UDP payload
		fakeUDPTracker(t, mn, func(b []byte, send func([]byte)) {
			r, ok := parseUDPRequest(b)
			if !ok {
				return
			}
			switch r.action {
			case actionConnect:
				full := appendUDPConnectReply(nil, r.tid, 77)
				send(full[:12])
				send(full)
			case actionAnnounce:
				send(appendUDPAnnounceReply(nil, r.tid, 60, 1, 2, nil, false)[:16])
				peers := make([]netip.AddrPort, nPeers)
				for i := range peers {
					peers[i] = netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)}), 6881)
				}
				send(appendUDPAnnounceReply(nil, r.tid, 60, 1, 2, peers, false))
			case actionScrape:
				send(appendUDPScrapeReply(nil, r.tid, []ScrapeStats{{Complete: 1}})[:7])
				send(appendUDPScrapeReply(nil, r.tid, []ScrapeStats{{Complete: 1, Downloaded: 2, Incomplete: 3}}))
			}
		})
		a, _ := NewUDP("udp://10.0.0.1:6969", &Config{Dial: mn.dialer(cliIP4)})
		defer a.Close()
		start := time.Now()
		r, err := a.Announce(t.Context(), AnnounceRequest{InfoHash: testIH, Port: 1})
		require.NoError(t, err)
		require.Len(t, r.Peers, nPeers)
		require.Equal(t, 2, r.Seeders)
		st, err := a.Scrape(t.Context(), testIH)
		require.NoError(t, err)
		require.Equal(t, ScrapeStats{Complete: 1, Downloaded: 2, Incomplete: 3}, st[testIH])
		require.Zero(t, time.Since(start), "no retransmission was needed")
	})
}

// TestServeUDPNoAmplificationOnTheWire forges requests from a victim's
// address to a served tracker with a full swarm: every datagram the victim
// receives is no larger than the forged one that caused it, and a forged
// announce or scrape gets no counts or peers, only a short error.
func TestServeUDPNoAmplificationOnTheWire(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		mn := newMemNet()
		srv := NewServer(&ServerConfig{MaxNumWant: 200})
		for i := range 250 {
			_, err := srv.announce(ann(testIH, byte(i), netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, 1, byte(i >> 8), byte(i)}), 1).String(), 1, EventStarted))
			require.NoError(t, err)
		}
		runUDPServer(t, mn, srv, srvAddr4)
		victim := netip.MustParseAddrPort("192.0.2.7:6881")
		vc := mn.listen(victim)
		defer vc.Close()
		a := udpAnnounce{connID: 0x0123456789abcdef, tid: 1, infoHash: testIH, peerID: peerID(1), port: 1, numWant: 200}
		forged := [][]byte{
			appendUDPConnect(nil, 2),
			appendUDPAnnounce(nil, &a),
			appendUDPScrape(nil, 0x0123456789abcdef, 3, [][20]byte{testIH}),
		}
		for _, p := range forged {
			mn.send(victim, srvAddr4, p)
			synctest.Wait()
		}
		replies := 0
		for _, p := range mn.packets() {
			if p.to != victim {
				continue
			}
			replies++
			r, err := parseUDPReply(p.data, false)
			require.NoError(t, err)
			var req []byte
			for _, f := range forged {
				if binary.BigEndian.Uint32(f[12:]) == r.tid {
					req = f
				}
			}
			require.NotNil(t, req, "reply %x to no request", p.data)
			require.LessOrEqual(t, len(p.data), len(req), "reply %x to %x", p.data, req)
			if r.tid != 2 {
				require.Equal(t, actionError, r.action)
			}
		}
		require.Equal(t, len(forged), replies)
	})
}
