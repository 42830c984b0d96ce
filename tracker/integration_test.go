package tracker

import (
	"context"
	"net"
	"net/http/httptest"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// serveLoopback runs srv on real loopback HTTP (TLS if tls) and UDP sockets.
func serveLoopback(t *testing.T, srv *Server, tls bool) (ts *httptest.Server, udpURL string) {
	if tls {
		ts = httptest.NewTLSServer(srv)
	} else {
		ts = httptest.NewServer(srv)
	}
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() { _ = srv.ServeUDP(ctx, pc) })
	t.Cleanup(func() {
		cancel()
		wg.Wait()
		pc.Close()
		ts.Close()
	})
	return ts, "udp://" + pc.LocalAddr().String() + "/announce"
}

func TestHTTPSAnnounce(t *testing.T) {
	ts, _ := serveLoopback(t, NewServer(nil), true)
	tr, err := New(ts.URL+"/announce", &Config{HTTPClient: ts.Client()})
	require.NoError(t, err)
	r, err := tr.Announce(t.Context(), AnnounceRequest{InfoHash: testIH, PeerID: peerID(1), Port: 1})
	require.NoError(t, err)
	require.Equal(t, 1, r.Seeders)
}

// TestMultiOverRealTrackers runs Multi over HTTP and UDP trackers on
// loopback, one of them dead.
func TestMultiOverRealTrackers(t *testing.T) {
	srv := NewServer(&ServerConfig{Interval: time.Minute})
	ts, udpURL := serveLoopback(t, srv, false)
	dead, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	deadURL := "http://" + dead.Addr().String() + "/announce"
	dead.Close() // connections are refused

	cfg := &MultiConfig{Config: Config{UDPTimeout: time.Second, UDPRetries: 1}}
	seeder := NewMulti([][]string{{deadURL}, {udpURL}}, cfg)
	defer seeder.Close()
	leecher := NewMulti([][]string{{ts.URL + "/announce", deadURL}}, cfg)
	defer leecher.Close()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()

	_, err = seeder.Announce(ctx, AnnounceRequest{InfoHash: testIH, PeerID: peerID(1), Port: 1111})
	require.NoError(t, err)
	r, err := leecher.Announce(ctx, AnnounceRequest{InfoHash: testIH, PeerID: peerID(2), Port: 2222, Left: 5})
	require.NoError(t, err)
	require.Equal(t, []netip.AddrPort{netip.MustParseAddrPort("127.0.0.1:1111")}, r.Peers)

	st, err := seeder.Scrape(ctx, testIH)
	require.NoError(t, err)
	require.Equal(t, ScrapeStats{Complete: 1, Incomplete: 1}, st[testIH])

	for i, m := range []*Multi{seeder, leecher} {
		_, err = m.Announce(ctx, AnnounceRequest{InfoHash: testIH, PeerID: peerID(byte(i + 1)), Port: uint16(1111 * (i + 1)), Event: EventStopped})
		require.NoError(t, err)
	}
	require.Equal(t, ServerStats{}, srv.Stats())
}
