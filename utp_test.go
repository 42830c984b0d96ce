package bittern

import (
	"bytes"
	"context"
	"errors"
	"net"
	"net/netip"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bittern/bittern/dht"
	"github.com/bittern/bittern/metainfo"
	"github.com/bittern/bittern/storage"
)

// tcpDialer counts TCP dials and refuses them when refuse is set.
type tcpDialer struct {
	dials  atomic.Int64
	refuse bool
}

func (d *tcpDialer) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	d.dials.Add(1)
	if d.refuse {
		return nil, errRefused
	}
	return (&net.Dialer{}).DialContext(ctx, network, addr)
}

// utpSeeder starts a seeder of data on loopback with uTP on; cfg (may be
// nil) is the base configuration.
func utpSeeder(t testing.TB, data []byte, cfg *Config) (*Session, *metainfo.MetaInfo) {
	t.Helper()
	mi := makeTorrent(t, "utp.bin", data, 256<<10)
	st := &storage.Memory{}
	fill(t, st, mi, data)
	c := Config{}
	if cfg != nil {
		c = *cfg
	}
	c.ListenAddr = "127.0.0.1:0"
	c.Storage = st
	c.UTP = true
	s, err := NewSession(&c)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.AddTorrent(context.Background(), mi, nil); err != nil {
		s.Close()
		t.Fatal(err)
	}
	return s, mi
}

// leechFrom downloads mi from peer with a session configured by cfg and
// returns the session (closed by the test's cleanup), its torrent and its
// storage, once the download is complete.
func leechFrom(t *testing.T, cfg Config, mi *metainfo.MetaInfo, peer netip.AddrPort) (*Session, *Torrent, *storage.Memory) {
	t.Helper()
	st := &storage.Memory{}
	cfg.Storage = st
	if cfg.ListenAddr == "" {
		cfg.ListenAddr = "127.0.0.1:0"
	}
	leecher, err := NewSession(&cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { leecher.Close() })
	lt, err := leecher.AddTorrent(context.Background(), mi, &TorrentOptions{Peers: []netip.AddrPort{peer}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := lt.Wait(ctx); err != nil {
		t.Fatalf("wait: %v; %+v", err, lt.Stats())
	}
	return leecher, lt, st
}

// A Session downloads from a Session over uTP only (TCP dials are
// refused), with MSE off and required: the uTP socket is on the TCP
// listener's port, the connection counts as a uTP peer, and the address
// is remembered as reachable over uTP.
func TestUTPSessionToSession(t *testing.T) {
	for _, enc := range []Encryption{EncryptionOff, EncryptionRequired} {
		t.Run(enc.String(), func(t *testing.T) {
			data := randomData(4<<20+7, 31)
			seeder, mi := utpSeeder(t, data, &Config{Encryption: enc})
			defer seeder.Close()
			tcpPort := seeder.Addr().(*net.TCPAddr).Port
			if ua, ok := seeder.UTPAddr().(*net.UDPAddr); !ok || ua.Port != tcpPort {
				t.Fatalf("uTP on %v, TCP on port %d", seeder.UTPAddr(), tcpPort)
			}
			d := &tcpDialer{refuse: true}
			peer := addrOf(t, seeder)
			leecher, lt, st := leechFrom(t, Config{UTP: true, Dialer: d, Encryption: enc}, mi, peer)
			if !bytes.Equal(contents(t, st, mi), data) {
				t.Fatal("data differs")
			}
			if n := d.dials.Load(); n != 0 {
				t.Errorf("%d TCP dials, want none (uTP first)", n)
			}
			if tr := leecher.transports.get(peer.String()); tr != transportUTP {
				t.Errorf("remembered transport %v, want utp", tr)
			}
			if s := lt.Stats(); s.Peers == 1 && s.UTPPeers != 1 {
				t.Errorf("stats %+v: want the peer counted as uTP", s)
			}
			if enc == EncryptionRequired {
				if s := lt.Stats(); s.Peers == 1 && s.EncryptedPeers != 1 {
					t.Errorf("stats %+v: want the peer counted as encrypted", s)
				}
			}
			if s := seeder.utp.Stats(); s.Syns == 0 {
				t.Errorf("seeder's uTP socket saw no SYN: %+v", s)
			}
		})
	}
}

// With PreferTCP, a refused TCP dial falls back to uTP.
func TestUTPTCPRefusedFallsBackToUTP(t *testing.T) {
	data := randomData(1<<20, 32)
	seeder, mi := utpSeeder(t, data, nil)
	defer seeder.Close()
	d := &tcpDialer{refuse: true}
	peer := addrOf(t, seeder)
	leecher, _, st := leechFrom(t, Config{UTP: true, PreferTCP: true, Dialer: d}, mi, peer)
	if !bytes.Equal(contents(t, st, mi), data) {
		t.Fatal("data differs")
	}
	if d.dials.Load() == 0 {
		t.Error("TCP was not tried first")
	}
	if tr := leecher.transports.get(peer.String()); tr != transportUTP {
		t.Errorf("remembered transport %v, want utp", tr)
	}
}

// A peer without uTP (its UDP port closed) is reached over TCP once the
// uTP attempt times out, and TCP is remembered for it.
func TestUTPUnavailableFallsBackToTCP(t *testing.T) {
	data := randomData(1<<20, 33)
	seeder, mi := loopbackSeeder(t, data, 256<<10) // TCP only
	defer seeder.Close()
	d := &tcpDialer{}
	peer := addrOf(t, seeder)
	leecher, lt, st := leechFrom(t, Config{UTP: true, Dialer: d, UTPConnectTimeout: 200 * time.Millisecond}, mi, peer)
	if !bytes.Equal(contents(t, st, mi), data) {
		t.Fatal("data differs")
	}
	if d.dials.Load() == 0 {
		t.Error("no TCP dial")
	}
	if tr := leecher.transports.get(peer.String()); tr != transportTCP {
		t.Errorf("remembered transport %v, want tcp", tr)
	}
	if s := lt.Stats(); s.UTPPeers != 0 {
		t.Errorf("stats %+v: no uTP peer expected", s)
	}
}

// The session's DHT node shares the uTP socket: a DHT ping through that
// port is answered while a uTP transfer runs over it.
func TestUTPSharedWithDHT(t *testing.T) {
	data := randomData(4<<20, 34)
	seeder, mi := utpSeeder(t, data, &Config{
		DHTListenAddr: "127.0.0.1:0",
		DHTConfig:     &dht.Config{BootstrapNodes: []string{}},
		// Slow enough that the transfer is still running at the ping.
		UploadRateLimit: 2 << 20,
	})
	defer seeder.Close()
	if got, want := seeder.DHT().Addr().String(), seeder.UTPAddr().String(); got != want {
		t.Fatalf("DHT on %s, uTP on %s: want one socket", got, want)
	}
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	node, err := dht.NewServer(pc, &dht.Config{BootstrapNodes: []string{}})
	if err != nil {
		t.Fatal(err)
	}
	defer node.Close()

	st := &storage.Memory{}
	leecher, err := NewSession(&Config{NoListen: true, UTP: true, Dialer: &tcpDialer{refuse: true}, Storage: st})
	if err != nil {
		t.Fatal(err)
	}
	defer leecher.Close()
	peer := addrOf(t, seeder)
	lt, err := leecher.AddTorrent(context.Background(), mi, &TorrentOptions{Peers: []netip.AddrPort{peer}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	// Wait for the transfer to be under way, then ping.
	for lt.Stats().Downloaded == 0 {
		select {
		case <-ctx.Done():
			t.Fatalf("no data: %+v", lt.Stats())
		case <-time.After(10 * time.Millisecond):
		}
	}
	id, err := node.Ping(ctx, peer)
	if err != nil {
		t.Fatalf("DHT ping through the shared socket: %v", err)
	}
	if id != seeder.DHT().ID() {
		t.Errorf("ping answered by %x, want %x", id, seeder.DHT().ID())
	}
	// And the other way: our node's query goes out of the shared socket
	// and its answer comes back through it.
	nodeAddr := netip.MustParseAddrPort(pc.LocalAddr().String())
	if id, err := seeder.DHT().Ping(ctx, nodeAddr); err != nil || id != node.ID() {
		t.Fatalf("DHT ping from the shared socket: %x, %v", id, err)
	}
	if lt.Stats().Complete {
		t.Log("transfer finished before the pings; they still went through the shared socket")
	}
	if err := lt.Wait(ctx); err != nil {
		t.Fatalf("wait: %v; %+v", err, lt.Stats())
	}
	if !bytes.Equal(contents(t, st, mi), data) {
		t.Fatal("data differs")
	}
	if s := seeder.utp.Stats(); s.Fallback == 0 {
		t.Errorf("uTP socket stats %+v: the DHT packets did not go through it", s)
	}
}

// Closing both sessions in the middle of a uTP transfer ends every
// goroutine (TestMain runs goleak) and closes the UDP socket.
func TestUTPCloseDuringTransfer(t *testing.T) {
	data := randomData(8<<20, 35)
	seeder, mi := utpSeeder(t, data, &Config{UploadRateLimit: 1 << 20})
	st := &storage.Memory{}
	leecher, err := NewSession(&Config{ListenAddr: "127.0.0.1:0", UTP: true, Dialer: &tcpDialer{refuse: true}, Storage: st})
	if err != nil {
		seeder.Close()
		t.Fatal(err)
	}
	lt, err := leecher.AddTorrent(context.Background(), mi, &TorrentOptions{Peers: []netip.AddrPort{addrOf(t, seeder)}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for lt.Stats().Downloaded == 0 {
		select {
		case <-ctx.Done():
			t.Fatalf("no data: %+v", lt.Stats())
		case <-time.After(10 * time.Millisecond):
		}
	}
	if s := lt.Stats(); s.UTPPeers != 1 {
		t.Errorf("stats %+v: want one uTP peer", s)
	}
	if s := leecher.Stats(); s.UTPPeers != 1 || s.UTPAddr == nil || s.UTPAddr.String() != leecher.UTPAddr().String() {
		t.Errorf("session stats %+v: want one uTP peer and the uTP address", s)
	}
	uaddr := seeder.UTPAddr().String()
	leecher.Close()
	seeder.Close()
	if lt.Stats().Complete {
		t.Log("transfer completed before Close")
	}
	// The port is free again: the socket was closed.
	pc, err := net.ListenPacket("udp", uaddr)
	if err != nil {
		t.Fatalf("uTP socket still open after Close: %v", err)
	}
	pc.Close()
}

// A session whose UDP port is taken fails to start with a listen error
// rather than running without uTP; with an ephemeral port it finds one.
func TestUTPPortTaken(t *testing.T) {
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	port := pc.LocalAddr().(*net.UDPAddr).Port
	ln, err := net.Listen("tcp", pc.LocalAddr().String())
	if err != nil {
		t.Skipf("TCP port %d taken too: %v", port, err)
	}
	ln.Close()
	_, err = NewSession(&Config{ListenAddr: pc.LocalAddr().String(), UTP: true, Storage: &storage.Memory{}})
	if err == nil || errors.Is(err, net.ErrClosed) {
		t.Fatalf("NewSession on a taken UDP port: %v, want a listen error", err)
	}
	s, err := NewSession(&Config{ListenAddr: "127.0.0.1:0", UTP: true, Storage: &storage.Memory{}})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if s.UTPAddr().(*net.UDPAddr).Port != s.Addr().(*net.TCPAddr).Port {
		t.Fatalf("uTP on %v, TCP on %v", s.UTPAddr(), s.Addr())
	}
}
