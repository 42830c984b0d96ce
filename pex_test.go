package bittern

import (
	"context"
	"net/netip"
	"testing"
	"testing/synctest"
	"time"

	"github.com/bittern/bittern/bencode"
	"github.com/bittern/bittern/peerwire"
	"github.com/bittern/bittern/storage"
)

// knownAddrs asks the torrent's owner for the peer addresses it knows.
func knownAddrs(tor *Torrent) map[netip.AddrPort]bool {
	ch := make(chan map[netip.AddrPort]bool, 1)
	tor.inbox.post(func() {
		m := make(map[netip.AddrPort]bool, len(tor.addrs))
		for a := range tor.addrs {
			m[a] = true
		}
		ch <- m
	})
	return <-ch
}

// B knows only A; A tells B of the seeder through PEX, and B connects to
// it.
func TestPEXSpreadsPeers(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := newPipeNet()
		n.rate = 256 << 10
		data := randomData(2<<20, 80)
		mi := makeTorrent(t, "pex.bin", data, 32<<10)
		seeder := startSeeder(t, n, "10.0.0.1:6881", mi, data, nil)
		defer seeder.Close()
		a := newPipeSession(t, n, "10.0.1.1:6881", &Config{Storage: &storage.Memory{}})
		defer a.Close()
		if _, err := a.AddTorrent(context.Background(), mi, &TorrentOptions{Peers: []netip.AddrPort{netip.MustParseAddrPort("10.0.0.1:6881")}}); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Second)
		b := newPipeSession(t, n, "10.0.1.2:6881", &Config{Storage: &storage.Memory{}})
		defer b.Close()
		tb, err := b.AddTorrent(context.Background(), mi, &TorrentOptions{Peers: []netip.AddrPort{netip.MustParseAddrPort("10.0.1.1:6881")}})
		if err != nil {
			t.Fatal(err)
		}
		time.Sleep(3 * time.Second)
		if !knownAddrs(tb)[netip.MustParseAddrPort("10.0.0.1:6881")] || tb.Stats().PEXPeers == 0 {
			t.Fatalf("B did not learn of the seeder through PEX: %+v", tb.Stats())
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Hour)
		defer cancel()
		if err := tb.Wait(ctx); err != nil {
			t.Fatal(err)
		}
	})
}

// A peer sending ut_pex more than once a minute, or more than 50 added
// peers at once, gets only the first message, and only 50 of its peers,
// taken.
func TestPEXRateLimit(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := newPipeNet()
		mi := makeTorrent(t, "rl.bin", randomData(100<<10, 81), 16<<10)
		s := newPipeSession(t, n, "10.0.1.1:6881", nil)
		defer s.Close()
		tor, err := s.AddTorrent(context.Background(), mi, nil)
		if err != nil {
			t.Fatal(err)
		}
		conn, err := pipeDialer{n: n, host: netip.MustParseAddr("10.0.0.7")}.DialContext(context.Background(), "tcp", "10.0.1.1:6881")
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		var id [20]byte
		copy(id[:], "-XX0001-pexpexpexpex")
		if _, err := peerwire.Initiate(conn, peerwire.Handshake{Reserved: ourReserved, InfoHash: mi.InfoHash(), PeerID: id}, [20]byte{}); err != nil {
			t.Fatal(err)
		}
		fr := peerwire.NewFramer(conn, conn)
		go func() { // drain what the session sends
			for {
				if _, err := fr.ReadMessage(); err != nil {
					return
				}
			}
		}()
		hs, _ := bencode.Marshal(extHandshake{M: map[string]int{peerwire.ExtPEX: 9}, P: 6881})
		if err := fr.WriteExtended(0, hs); err != nil {
			t.Fatal(err)
		}
		pex := func(base byte) {
			var m peerwire.PEX
			for i := range 60 {
				m.Added = append(m.Added, peerwire.PEXPeer{Addr: netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, 20, base, byte(i)}), 6881)})
			}
			b, err := m.AppendTo(nil)
			if err != nil {
				t.Fatal(err)
			}
			if err := fr.WriteExtended(extIDPEX, b); err != nil {
				t.Fatal(err)
			}
		}
		pex(1)
		pex(2) // too soon: ignored
		synctest.Wait()
		if got := tor.Stats().PEXPeers; got != PEXMaxAdded {
			t.Fatalf("took %d PEX peers, want %d", got, PEXMaxAdded)
		}
		time.Sleep(PEXInterval)
		pex(3)
		synctest.Wait()
		if got := tor.Stats().PEXPeers; got != 2*PEXMaxAdded {
			t.Fatalf("took %d PEX peers, want %d", got, 2*PEXMaxAdded)
		}
		known := knownAddrs(tor)
		for a := range known {
			if a.Addr().As4()[2] == 2 {
				t.Fatalf("a peer of the ignored message was taken: %v", a)
			}
		}
	})
}

// Private torrents (BEP 27) neither offer nor take PEX.
func TestPEXPrivate(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := newPipeNet()
		data := randomData(1000, 82)
		mi := makePrivateTorrent(t, data)
		seeder := startSeeder(t, n, "10.0.0.1:6881", mi, data, nil)
		defer seeder.Close()
		a := newPipeSession(t, n, "10.0.1.1:6881", nil)
		defer a.Close()
		ta, err := a.AddTorrent(context.Background(), mi, &TorrentOptions{Peers: []netip.AddrPort{netip.MustParseAddrPort("10.0.0.1:6881")}})
		if err != nil {
			t.Fatal(err)
		}
		b := newPipeSession(t, n, "10.0.1.2:6881", nil)
		defer b.Close()
		tb, err := b.AddTorrent(context.Background(), mi, &TorrentOptions{Peers: []netip.AddrPort{netip.MustParseAddrPort("10.0.1.1:6881")}})
		if err != nil {
			t.Fatal(err)
		}
		time.Sleep(3 * time.Minute)
		if ta.Stats().PEXPeers != 0 || tb.Stats().PEXPeers != 0 || knownAddrs(tb)[netip.MustParseAddrPort("10.0.0.1:6881")] {
			t.Fatal("PEX on a private torrent")
		}
	})
}
