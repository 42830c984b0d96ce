package bittern

import (
	"net"
	"net/netip"
	"slices"

	"github.com/bittern/bittern/peerwire"
)

// BEP 40 canonical peer priority. When there are more peers to dial than
// free connection slots, those with the highest priority of the pair (us,
// them) are dialled first, so that everyone in a swarm tends to keep the
// same connections and the swarm's graph stays well-mixed rather than
// clustered by whoever answered first. Our address is the external IP a
// tracker reported (BEP 24) or the DHT voted (BEP 42), else the listening
// address, with the listening port.

// selfAddr is our address as peer would see it, as well as we know it.
func (s *Session) selfAddr(peer netip.AddrPort) netip.AddrPort {
	port := uint16(s.listenPort())
	if ip, ok := s.extIP.Load().(netip.Addr); ok && ip.Is4() == peer.Addr().Unmap().Is4() {
		return netip.AddrPortFrom(ip, port)
	}
	if s.ownDHT != nil {
		if ip, ok := s.ownDHT.ExternalIP(); ok && ip.Unmap().Is4() == peer.Addr().Unmap().Is4() {
			return netip.AddrPortFrom(ip.Unmap(), port)
		}
	}
	if s.ln != nil {
		if a, ok := s.ln.Addr().(*net.TCPAddr); ok {
			if ip, ok := netip.AddrFromSlice(a.IP); ok && !ip.IsUnspecified() {
				return netip.AddrPortFrom(ip.Unmap(), port)
			}
		}
	}
	if peer.Addr().Unmap().Is4() {
		return netip.AddrPortFrom(netip.IPv4Unspecified(), port)
	}
	return netip.AddrPortFrom(netip.IPv6Unspecified(), port)
}

// noteExternalIP records our address as a tracker saw it (BEP 24).
func (s *Session) noteExternalIP(ip netip.Addr) {
	if ip.IsValid() && !ip.IsUnspecified() {
		s.extIP.Store(ip.Unmap())
	}
}

// bestCandidates reorders cands so that its first n entries are those of
// highest BEP 40 priority (ties in their given order), and returns them.
func bestCandidates(cands []*peerAddr, n int) []*peerAddr {
	if len(cands) <= n {
		return cands
	}
	slices.SortStableFunc(cands, func(a, b *peerAddr) int {
		switch {
		case a.rank > b.rank:
			return -1
		case a.rank < b.rank:
			return 1
		}
		return 0
	})
	return cands[:n]
}

// refreshRanks recomputes every known address's BEP 40 priority if our
// own address changed since they were computed (a tracker or the DHT told
// us our external IP after the first peers came). It runs on the owner,
// before a ranking is used: O(1) unless the address changed.
func (t *Torrent) refreshRanks() {
	now := [2]netip.AddrPort{
		t.s.selfAddr(netip.AddrPortFrom(netip.IPv4Unspecified(), 0)),
		t.s.selfAddr(netip.AddrPortFrom(netip.IPv6Unspecified(), 0)),
	}
	if now == t.rankedAs {
		return
	}
	t.rankedAs = now
	for a, pa := range t.addrs {
		pa.rank = t.rankOf(a)
	}
}

// rankOf is the BEP 40 priority of a connection with the peer at a.
func (t *Torrent) rankOf(a netip.AddrPort) uint32 {
	return peerwire.PeerPriority(t.s.selfAddr(a), a)
}
