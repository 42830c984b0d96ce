package bittern

import (
	"fmt"
	"net/netip"
	"slices"
	"testing"

	"github.com/bittern/bittern/peerwire"
)

func TestBestCandidatesByBEP40Rank(t *testing.T) {
	self := netip.MustParseAddrPort("123.213.32.10:6881")
	var cands []*peerAddr
	for i := range 50 {
		a := netip.MustParseAddrPort(fmt.Sprintf("98.%d.%d.%d:6881", i, 5*i, 3*i))
		cands = append(cands, &peerAddr{addr: a, rank: peerwire.PeerPriority(self, a)})
	}
	ranks := make([]uint32, len(cands))
	for i, c := range cands {
		ranks[i] = c.rank
	}
	slices.Sort(ranks)
	best := bestCandidates(slices.Clone(cands), 5)
	if len(best) != 5 {
		t.Fatalf("got %d, want 5", len(best))
	}
	for i, c := range best {
		if want := ranks[len(ranks)-1-i]; c.rank != want {
			t.Errorf("best[%d].rank = %d, want %d", i, c.rank, want)
		}
	}
	if got := bestCandidates(cands[:3], 5); len(got) != 3 {
		t.Errorf("fewer candidates than slots: got %d", len(got))
	}
}

func TestSelfAddrPrefersExternalIP(t *testing.T) {
	s := &Session{}
	peer := netip.MustParseAddrPort("98.76.1.2:6881")
	if got := s.selfAddr(peer).Addr(); got != netip.IPv4Unspecified() {
		t.Errorf("no listener, no external IP: %v", got)
	}
	s.noteExternalIP(netip.MustParseAddr("123.213.32.10"))
	if got := s.selfAddr(peer).Addr(); got != netip.MustParseAddr("123.213.32.10") {
		t.Errorf("after a tracker's external ip: %v", got)
	}
	if got := s.selfAddr(netip.MustParseAddrPort("[2001:db8::1]:6881")).Addr(); got != netip.IPv6Unspecified() {
		t.Errorf("IPv6 peer with only an IPv4 external address: %v", got)
	}
}

// Ranks computed before we knew our external IP are recomputed once we
// learn it, before the next ranking is used.
func TestRanksFollowExternalIP(t *testing.T) {
	s := &Session{}
	tor := &Torrent{s: s}
	tor.addrs = make(map[netip.AddrPort]*peerAddr)
	for i := range 20 {
		a := netip.MustParseAddrPort(fmt.Sprintf("98.%d.%d.%d:6881", i, 7*i, 11*i))
		tor.addrs[a] = &peerAddr{addr: a, rank: tor.rankOf(a)}
	}
	tor.refreshRanks()
	ext := netip.MustParseAddr("123.213.32.10")
	s.noteExternalIP(ext)
	tor.refreshRanks()
	self := netip.AddrPortFrom(ext, 0)
	for a, pa := range tor.addrs {
		if want := peerwire.PeerPriority(self, a); pa.rank != want {
			t.Errorf("%v: rank %d, want %d (as seen from %v)", a, pa.rank, want, self)
		}
	}
}
