package tracker

import (
	"encoding/binary"
	"net/netip"
)

// Compact peer lists (BEP 23, BEP 7): 4- or 16-byte address, 2-byte port,
// big-endian.

// parseCompact4 decodes 6-byte IPv4 entries; a trailing partial entry and
// entries with port 0 are ignored.
func parseCompact4(b []byte) []netip.AddrPort {
	peers := make([]netip.AddrPort, 0, len(b)/6)
	for ; len(b) >= 6; b = b[6:] {
		port := binary.BigEndian.Uint16(b[4:])
		if port == 0 {
			continue
		}
		peers = append(peers, netip.AddrPortFrom(netip.AddrFrom4([4]byte(b[:4])), port))
	}
	return peers
}

// parseCompact6 decodes 18-byte IPv6 entries; a trailing partial entry and
// entries with port 0 are ignored. IPv4-mapped addresses are unmapped.
func parseCompact6(b []byte) []netip.AddrPort {
	peers := make([]netip.AddrPort, 0, len(b)/18)
	for ; len(b) >= 18; b = b[18:] {
		port := binary.BigEndian.Uint16(b[16:])
		if port == 0 {
			continue
		}
		peers = append(peers, netip.AddrPortFrom(netip.AddrFrom16([16]byte(b[:16])).Unmap(), port))
	}
	return peers
}

// appendCompact4 appends the IPv4 peers of peers in compact form.
func appendCompact4(b []byte, peers []netip.AddrPort) []byte {
	for _, p := range peers {
		a := p.Addr().Unmap()
		if !a.Is4() {
			continue
		}
		a4 := a.As4()
		b = append(b, a4[:]...)
		b = appendU16(b, p.Port())
	}
	return b
}

// appendCompact6 appends the IPv6 peers of peers in compact form.
func appendCompact6(b []byte, peers []netip.AddrPort) []byte {
	for _, p := range peers {
		a := p.Addr()
		if !a.Is6() || a.Is4In6() {
			continue
		}
		a16 := a.As16()
		b = append(b, a16[:]...)
		b = appendU16(b, p.Port())
	}
	return b
}
