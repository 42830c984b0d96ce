package tracker

import (
	"context"
	"net"
	"net/http/httptest"
	"net/netip"
	"sync"
	"testing"
	"time"
)

// benchServer returns a server with one 1,000-peer swarm.
func benchServer() *Server {
	s := NewServer(nil)
	for i := range 1000 {
		addr := netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, 0, byte(i >> 8), byte(i)}), 6881)
		var id [20]byte
		id[0], id[1] = byte(i>>8), byte(i)
		_, _ = s.announce(&serverAnnounce{infoHash: testIH, peerID: id, addr: addr, left: int64(i % 2), want4: true})
	}
	return s
}

// BenchmarkServerUDPAnnounce measures one connected UDP announce (parse,
// MAC check, swarm update, 50-peer sample, reply encoding).
func BenchmarkServerUDPAnnounce(b *testing.B) {
	s := benchServer()
	from := netip.MustParseAddrPort("10.9.9.9:5000")
	now := time.Now()
	a := udpAnnounce{connID: s.connID(from.Addr(), connIDWindowAt(now)), infoHash: testIH, peerID: peerID(1), port: 1, left: 1, numWant: 50}
	pkt := appendUDPAnnounce(nil, &a)
	out := make([]byte, 0, 2048)
	b.ReportAllocs()
	for b.Loop() {
		out = s.handleUDP(out[:0], pkt, from, now)
	}
	if len(out) != 20+50*6 {
		b.Fatalf("reply %d bytes", len(out))
	}
}

// BenchmarkServerUDPConnect measures answering a connect (one HMAC).
func BenchmarkServerUDPConnect(b *testing.B) {
	s := NewServer(nil)
	from := netip.MustParseAddrPort("10.9.9.9:5000")
	pkt := appendUDPConnect(nil, 1)
	out := make([]byte, 0, 64)
	now := time.Now()
	b.ReportAllocs()
	for b.Loop() {
		out = s.handleUDP(out[:0], pkt, from, now)
	}
}

// BenchmarkServerHTTPAnnounceEncode measures encoding a 50-peer compact
// HTTP reply.
func BenchmarkServerHTTPAnnounceEncode(b *testing.B) {
	s := benchServer()
	res, _ := s.announce(ann(testIH, 1, "10.9.9.9:1", 1, EventNone))
	ext := netip.MustParseAddr("10.9.9.9")
	b.ReportAllocs()
	for b.Loop() {
		_ = s.encodeAnnounce(res, ext, true, true)
	}
}

// BenchmarkParseAnnounceResponse parses a 50-peer compact HTTP reply.
func BenchmarkParseAnnounceResponse(b *testing.B) {
	s := benchServer()
	res, _ := s.announce(ann(testIH, 1, "10.9.9.9:1", 1, EventNone))
	body := s.encodeAnnounce(res, netip.MustParseAddr("10.9.9.9"), true, true)
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ParseAnnounceResponse(body); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkParseUDPAnnounceReply parses a 50-peer UDP announce reply.
func BenchmarkParseUDPAnnounceReply(b *testing.B) {
	peers := make([]netip.AddrPort, 50)
	for i := range peers {
		peers[i] = netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, 0, 0, byte(i)}), 6881)
	}
	pkt := appendUDPAnnounceReply(nil, 1, 60, 1, 1, peers, false)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := parseUDPReply(pkt, false); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkUDPLoopbackAnnounce measures a full UDP announce round trip,
// client to server, over real loopback sockets.
func BenchmarkUDPLoopbackAnnounce(b *testing.B) {
	s := benchServer()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() { _ = s.ServeUDP(ctx, pc) })
	defer func() { cancel(); wg.Wait(); pc.Close() }()
	cl, err := NewUDP("udp://"+pc.LocalAddr().String(), nil)
	if err != nil {
		b.Fatal(err)
	}
	defer cl.Close()
	req := AnnounceRequest{InfoHash: testIH, PeerID: peerID(1), Port: 1, Left: 1, NumWant: 50}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := cl.Announce(ctx, req); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkHTTPLoopbackAnnounce measures a full HTTP announce round trip
// over a real loopback connection (kept alive).
func BenchmarkHTTPLoopbackAnnounce(b *testing.B) {
	ts := httptest.NewServer(benchServer())
	defer ts.Close()
	cl, err := NewHTTP(ts.URL+"/announce", &Config{HTTPClient: ts.Client()})
	if err != nil {
		b.Fatal(err)
	}
	req := AnnounceRequest{InfoHash: testIH, PeerID: peerID(1), Port: 1, Left: 1, NumWant: 50}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := cl.Announce(context.Background(), req); err != nil {
			b.Fatal(err)
		}
	}
}
