package bittern

import (
	"bytes"
	"context"
	"net"
	"net/netip"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/bittern/bittern/bencode"
	"github.com/bittern/bittern/dht"
	"github.com/bittern/bittern/internal/memnet"
	"github.com/bittern/bittern/metainfo"
	"github.com/bittern/bittern/storage"
)

// dhtNode starts a DHT node at addr on n that bootstraps from boot.
func dhtNode(t *testing.T, n *memnet.Network, addr string, boot []string) *dht.Server {
	t.Helper()
	pc, err := n.Listen(netip.MustParseAddrPort(addr))
	if err != nil {
		t.Fatal(err)
	}
	srv, err := dht.NewServer(pc, &dht.Config{BootstrapNodes: boot})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	return srv
}

// dhtNetwork starts count plain DHT nodes at 10.9.0.x:6881, joined.
func dhtNetwork(t *testing.T, n *memnet.Network, count int) []string {
	t.Helper()
	var addrs []string
	for i := range count {
		addr := netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, 9, 0, byte(i + 1)}), 6881).String()
		var boot []string
		if i > 0 {
			boot = addrs[:1]
		} else {
			boot = []string{}
		}
		srv := dhtNode(t, n, addr, boot)
		if i > 0 {
			if err := srv.Bootstrap(t.Context()); err != nil {
				t.Fatal(err)
			}
		}
		addrs = append(addrs, addr)
	}
	return addrs
}

// The leecher knows no peer and no tracker: it finds the seeder through
// the DHT, where the seeder announced itself.
func TestDHTPeerSource(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		pn := newPipeNet()
		dn := memnet.New(nil)
		boot := dhtNetwork(t, dn, 8)
		data := randomData(500<<10, 70)
		mi := makeTorrent(t, "dht.bin", data, 32<<10)
		seedDHT := dhtNode(t, dn, "10.0.0.1:6881", boot[:1])
		if err := seedDHT.Bootstrap(t.Context()); err != nil {
			t.Fatal(err)
		}
		seeder := startSeeder(t, pn, "10.0.0.1:6881", mi, data, &Config{DHT: seedDHT})
		defer seeder.Close()
		synctest.Wait() // the seeder's announce is done

		leechDHT := dhtNode(t, dn, "10.0.1.1:6881", boot[:1])
		if err := leechDHT.Bootstrap(t.Context()); err != nil {
			t.Fatal(err)
		}
		st := &storage.Memory{}
		leecher := newPipeSession(t, pn, "10.0.1.1:6881", &Config{Storage: st, DHT: leechDHT})
		defer leecher.Close()
		tor, err := leecher.AddTorrent(context.Background(), mi, nil)
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Hour)
		defer cancel()
		if err := tor.Wait(ctx); err != nil {
			t.Fatalf("%v; %+v", err, tor.Stats())
		}
		if !bytes.Equal(contents(t, st, mi), data) {
			t.Fatal("data differs")
		}
		if tor.Stats().SourcePeers == 0 {
			t.Error("no peers counted from the DHT")
		}
		// A magnet link alone works too: metadata from a DHT peer.
		leech2DHT := dhtNode(t, dn, "10.0.1.2:6881", boot[:1])
		if err := leech2DHT.Bootstrap(t.Context()); err != nil {
			t.Fatal(err)
		}
		leecher2 := newPipeSession(t, pn, "10.0.1.2:6881", &Config{DHT: leech2DHT})
		defer leecher2.Close()
		tor2, err := leecher2.AddMagnet(ctx, "magnet:?xt=urn:btih:"+mi.InfoHash().String(), nil)
		if err != nil {
			t.Fatal(err)
		}
		if err := tor2.Wait(ctx); err != nil {
			t.Fatal(err)
		}
	})
}

// countingSource is a PeerSource that returns fixed peers and counts its
// lookups.
type countingSource struct {
	peers []netip.AddrPort
	calls atomic.Int64
}

func (c *countingSource) FindPeers(ctx context.Context, ih metainfo.Hash, found func(netip.AddrPort)) error {
	c.calls.Add(1)
	for _, p := range c.peers {
		found(p)
	}
	return nil
}

// PeerSources are asked every PeerSourceInterval; private torrents never
// ask them (BEP 27).
func TestPeerSourceSchedule(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		pn := newPipeNet()
		data := randomData(100<<10, 71)
		mi := makeTorrent(t, "src.bin", data, 16<<10)
		seeder := startSeeder(t, pn, "10.0.0.1:6881", mi, data, nil)
		defer seeder.Close()
		src := &countingSource{peers: []netip.AddrPort{netip.MustParseAddrPort("10.0.0.1:6881")}}
		leecher := newPipeSession(t, pn, "10.0.1.1:6881", &Config{PeerSources: []PeerSource{src}, PeerSourceInterval: 10 * time.Minute})
		defer leecher.Close()
		tor, err := leecher.AddTorrent(context.Background(), mi, nil)
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Hour)
		defer cancel()
		if err := tor.Wait(ctx); err != nil {
			t.Fatal(err)
		}
		time.Sleep(25 * time.Minute)
		if got := src.calls.Load(); got != 3 {
			t.Errorf("%d lookups in 25 minutes at a 10-minute interval, want 3", got)
		}

		private := makePrivateTorrent(t, randomData(1000, 72))
		before := src.calls.Load()
		if _, err := leecher.AddTorrent(context.Background(), private, nil); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Minute)
		if got := src.calls.Load(); got != before {
			t.Errorf("a private torrent asked the peer source %d times", got-before)
		}
	})
}

// makePrivateTorrent builds a single-file private (BEP 27) v1 torrent.
func makePrivateTorrent(t *testing.T, data []byte) *metainfo.MetaInfo {
	t.Helper()
	base := makeTorrent(t, "private.bin", data, 16<<10)
	var info map[string]any
	if err := bencode.Unmarshal(base.InfoBytes, &info); err != nil {
		t.Fatal(err)
	}
	info["private"] = 1
	ib, err := bencode.Marshal(info)
	if err != nil {
		t.Fatal(err)
	}
	b, err := bencode.Marshal(map[string]any{"info": bencode.RawMessage(ib)})
	if err != nil {
		t.Fatal(err)
	}
	mi, err := metainfo.Parse(b)
	if err != nil {
		t.Fatal(err)
	}
	if !mi.Info().Private {
		t.Fatal("not private")
	}
	return mi
}

// Config.DHTListenAddr starts a DHT node the session owns and closes.
func TestSessionStartsDHT(t *testing.T) {
	s, err := NewSession(&Config{NoListen: true, Storage: &storage.Memory{}, DHTListenAddr: "127.0.0.1:0", DHTConfig: &dht.Config{BootstrapNodes: []string{}}})
	if err != nil {
		t.Fatal(err)
	}
	d := s.DHT()
	if d == nil {
		t.Fatal("no DHT started")
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := d.Ping(context.Background(), netip.MustParseAddrPort("127.0.0.1:9")); err == nil {
		t.Error("the DHT still works after Close")
	}
	if _, err := NewSession(&Config{NoListen: true, DHTListenAddr: "256.0.0.1:0"}); err == nil {
		t.Error("a bad DHT address was accepted")
	}
}

// The node a session starts joins the DHT by itself: its routing table
// fills from the configured bootstrap node without any lookup asking first.
func TestSessionDHTBootstraps(t *testing.T) {
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	boot, err := dht.NewServer(pc, &dht.Config{BootstrapNodes: []string{}})
	if err != nil {
		t.Fatal(err)
	}
	defer boot.Close()
	s, err := NewSession(&Config{NoListen: true, Storage: &storage.Memory{}, DHTListenAddr: "127.0.0.1:0",
		DHTConfig: &dht.Config{BootstrapNodes: []string{pc.LocalAddr().String()}}})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	deadline := time.Now().Add(20 * time.Second)
	for len(s.DHT().Nodes()) == 0 {
		if time.Now().After(deadline) {
			t.Fatal("the session's DHT node never bootstrapped")
		}
		time.Sleep(20 * time.Millisecond)
	}
}
