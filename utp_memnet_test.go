package bittern

import (
	"bytes"
	"context"
	"net/netip"
	"testing"
	"testing/synctest"
	"time"

	"github.com/bittern/bittern/internal/memnet"
	"github.com/bittern/bittern/peerwire"
	"github.com/bittern/bittern/storage"
	"github.com/bittern/bittern/utp"
)

// newUTPPipeSession is newPipeSession with uTP on, over a memnet packet
// conn at the same address.
func newUTPPipeSession(t testing.TB, tcp *pipeNet, udp *memnet.Network, addr string, cfg *Config) *Session {
	t.Helper()
	pc, err := udp.Listen(netip.MustParseAddrPort(addr))
	if err != nil {
		t.Fatal(err)
	}
	var c Config
	if cfg != nil {
		c = *cfg
	}
	c.UTP = true
	c.UTPPacketConn = pc
	return newPipeSession(t, tcp, addr, &c)
}

// Two sessions on in-memory networks (pipeNet for TCP, memnet for uTP
// through Config.UTPPacketConn), in virtual time: the download goes over
// uTP, tried first, with MSE off and required.
func TestUTPMemnet(t *testing.T) {
	for _, enc := range []Encryption{EncryptionOff, EncryptionRequired} {
		t.Run(enc.String(), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				tcp := newPipeNet()
				udp := memnet.New(&memnet.Config{Latency: 5 * time.Millisecond, QueueLen: 1024})
				data := randomData(2<<20+5, 36)
				mi := makeTorrent(t, "mem.bin", data, 64<<10)
				seedSt := &storage.Memory{}
				fill(t, seedSt, mi, data)
				seeder := newUTPPipeSession(t, tcp, udp, "10.0.0.1:6881", &Config{Storage: seedSt, Encryption: enc})
				defer seeder.Close()
				if _, err := seeder.AddTorrent(context.Background(), mi, nil); err != nil {
					t.Fatal(err)
				}
				st := &storage.Memory{}
				leecher := newUTPPipeSession(t, tcp, udp, "10.0.1.1:6881", &Config{Storage: st, Encryption: enc})
				defer leecher.Close()
				peer := netip.MustParseAddrPort("10.0.0.1:6881")
				tor, err := leecher.AddTorrent(context.Background(), mi, &TorrentOptions{Peers: []netip.AddrPort{peer}})
				if err != nil {
					t.Fatal(err)
				}
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
				defer cancel()
				sawUTP, sawEnc := false, false
				for ctx.Err() == nil && !tor.Stats().Complete {
					s := tor.Stats()
					sawUTP = sawUTP || s.UTPPeers > 0
					sawEnc = sawEnc || s.EncryptedPeers > 0
					time.Sleep(10 * time.Millisecond)
				}
				if err := tor.Wait(ctx); err != nil {
					t.Fatalf("wait: %v; %+v", err, tor.Stats())
				}
				if !bytes.Equal(contents(t, st, mi), data) {
					t.Fatal("data differs")
				}
				if !sawUTP {
					t.Error("no uTP peer counted")
				}
				if sawEnc != (enc == EncryptionRequired) {
					t.Errorf("encrypted %v under %v", sawEnc, enc)
				}
				if tr := leecher.transports.get(peer.String()); tr != transportUTP {
					t.Errorf("remembered transport %v, want utp", tr)
				}
				leecher.Close()
				seeder.Close()
			})
		})
	}
}

// PEX's uTP flag (BEP 11, 0x04) picks the first transport for an address
// not dialled yet; what a dial found out is never overridden by a hint;
// the memory is bounded.
func TestUTPTransportMemory(t *testing.T) {
	s := &Session{utp: nil}
	s.pexTransportHint(peerwire.PEXPeer{Addr: netip.MustParseAddrPort("10.0.0.1:1"), Flags: peerwire.PEXUTP})
	if tr := s.transports.get("10.0.0.1:1"); tr != 0 {
		t.Fatalf("hint without uTP remembered %v", tr)
	}
	s.utp = &utp.Socket{} // only compared with nil here
	a, b := netip.MustParseAddrPort("10.0.0.1:1"), netip.MustParseAddrPort("10.0.0.2:1")
	s.pexTransportHint(peerwire.PEXPeer{Addr: a, Flags: peerwire.PEXUTP | peerwire.PEXSeed})
	s.pexTransportHint(peerwire.PEXPeer{Addr: b, Flags: peerwire.PEXSeed})
	if got := s.transports.get(a.String()); got != transportUTP {
		t.Errorf("flagged peer: %v, want utp", got)
	}
	if got := s.transports.get(b.String()); got != transportTCP {
		t.Errorf("unflagged peer: %v, want tcp", got)
	}
	s.transports.set(b.String(), transportUTP, false) // a dial found uTP
	s.pexTransportHint(peerwire.PEXPeer{Addr: b})
	if got := s.transports.get(b.String()); got != transportUTP {
		t.Errorf("hint overrode a dial's result: %v", got)
	}
	for i := range maxTransportMemory + 10 {
		s.transports.set(netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, 1, byte(i >> 8), byte(i)}), 1).String(), transportTCP, false)
	}
	if n := len(s.transports.m); n > maxTransportMemory {
		t.Errorf("%d addresses remembered, bound %d", n, maxTransportMemory)
	}
}

// A tells B of the seeder through PEX with the uTP flag, as A reaches it
// over uTP; B, which prefers TCP, dials the seeder over uTP first.
func TestUTPPEXFlag(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tcp := newPipeNet()
		udp := memnet.New(&memnet.Config{Latency: time.Millisecond, QueueLen: 1024})
		data := randomData(2<<20, 37)
		mi := makeTorrent(t, "pexutp.bin", data, 32<<10)
		seedSt := &storage.Memory{}
		fill(t, seedSt, mi, data)
		seeder := newUTPPipeSession(t, tcp, udp, "10.0.0.1:6881", &Config{Storage: seedSt, UploadRateLimit: 256 << 10})
		defer seeder.Close()
		if _, err := seeder.AddTorrent(context.Background(), mi, nil); err != nil {
			t.Fatal(err)
		}
		seedAddr := netip.MustParseAddrPort("10.0.0.1:6881")
		a := newUTPPipeSession(t, tcp, udp, "10.0.1.1:6881", nil)
		defer a.Close()
		ta, err := a.AddTorrent(context.Background(), mi, &TorrentOptions{Peers: []netip.AddrPort{seedAddr}})
		if err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Second)
		if s := ta.Stats(); s.UTPPeers != 1 {
			t.Fatalf("A: %+v, want its seeder over uTP", s)
		}
		b := newUTPPipeSession(t, tcp, udp, "10.0.1.2:6881", &Config{PreferTCP: true})
		defer b.Close()
		tb, err := b.AddTorrent(context.Background(), mi, &TorrentOptions{Peers: []netip.AddrPort{netip.MustParseAddrPort("10.0.1.1:6881")}})
		if err != nil {
			t.Fatal(err)
		}
		time.Sleep(3 * time.Second)
		if !knownAddrs(tb)[seedAddr] || tb.Stats().PEXPeers == 0 {
			t.Fatalf("B did not learn of the seeder through PEX: %+v", tb.Stats())
		}
		if tr := b.transports.get(seedAddr.String()); tr != transportUTP {
			t.Errorf("B reached the seeder over %v, want utp (PEX flag)", tr)
		}
		if tr := b.transports.get("10.0.1.1:6881"); tr != transportTCP {
			t.Errorf("B reached A over %v, want tcp (PreferTCP)", tr)
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Hour)
		defer cancel()
		if err := tb.Wait(ctx); err != nil {
			t.Fatal(err)
		}
	})
}
