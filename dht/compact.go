package dht

import (
	"net/netip"
)

// Sizes of the compact encodings (BEP 5, BEP 32).
const (
	compactPeer4 = 6
	compactPeer6 = 18
	compactNode4 = 20 + compactPeer4
	compactNode6 = 20 + compactPeer6
)

// NodeInfo is a node's ID and UDP address.
type NodeInfo struct {
	ID   ID
	Addr netip.AddrPort
}

// appendCompactAddr appends the compact form of a: 4 or 16 address bytes
// then the port, big-endian.
func appendCompactAddr(dst []byte, a netip.AddrPort) []byte {
	ip := a.Addr().Unmap()
	if ip.Is4() {
		b := ip.As4()
		dst = append(dst, b[:]...)
	} else {
		b := ip.As16()
		dst = append(dst, b[:]...)
	}
	return append(dst, byte(a.Port()>>8), byte(a.Port()))
}

// parseCompactAddr decodes a 6- or 18-byte compact address.
func parseCompactAddr(b []byte) (netip.AddrPort, bool) {
	var ip netip.Addr
	switch len(b) {
	case compactPeer4:
		ip = netip.AddrFrom4([4]byte(b[:4]))
	case compactPeer6:
		ip = netip.AddrFrom16([16]byte(b[:16])).Unmap()
	default:
		return netip.AddrPort{}, false
	}
	return netip.AddrPortFrom(ip, uint16(b[len(b)-2])<<8|uint16(b[len(b)-1])), true
}

// appendCompactNodes appends the compact node info of each node whose
// address family matches v6.
func appendCompactNodes(dst []byte, nodes []NodeInfo, v6 bool) []byte {
	for _, n := range nodes {
		if n.Addr.Addr().Unmap().Is4() == v6 {
			continue
		}
		dst = append(dst, n.ID[:]...)
		dst = appendCompactAddr(dst, n.Addr)
	}
	return dst
}

// parseCompactNodes decodes a "nodes" (v6 false) or "nodes6" string. It
// returns false if the length is not a multiple of the entry size. Entries
// with a zero port, an unspecified address or an address of the other
// family are skipped.
func parseCompactNodes(s string, v6 bool, max int) ([]NodeInfo, bool) {
	size := compactNode4
	if v6 {
		size = compactNode6
	}
	if len(s)%size != 0 {
		return nil, false
	}
	n := len(s) / size
	if n > max {
		n = max
	}
	out := make([]NodeInfo, 0, n)
	for i := 0; i < n; i++ {
		e := s[i*size : (i+1)*size]
		a, _ := parseCompactAddr([]byte(e[20:]))
		if a.Port() == 0 || a.Addr().IsUnspecified() || a.Addr().Is4() != !v6 {
			continue // includes IPv4-mapped addresses in nodes6
		}
		out = append(out, NodeInfo{ID: ID([]byte(e[:20])), Addr: a})
	}
	return out, true
}
