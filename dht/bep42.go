package dht

import (
	"crypto/rand"
	"hash/crc32"
	"net/netip"
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// bep42Prefix returns the CRC32-C of ip masked as BEP 42 prescribes with r
// (0..7) mixed in.
func bep42Prefix(ip netip.Addr, r byte) uint32 {
	ip = ip.Unmap()
	if ip.Is4() {
		b := ip.As4()
		mask := [4]byte{0x03, 0x0f, 0x3f, 0xff}
		for i := range b {
			b[i] &= mask[i]
		}
		b[0] |= r << 5
		return crc32.Checksum(b[:], castagnoli)
	}
	full := ip.As16()
	b := [8]byte(full[:8])
	mask := [8]byte{0x01, 0x03, 0x07, 0x0f, 0x1f, 0x3f, 0x7f, 0xff}
	for i := range b {
		b[i] &= mask[i]
	}
	b[0] |= r << 5
	return crc32.Checksum(b[:], castagnoli)
}

// NodeIDForIP returns a BEP 42 node ID for ip: its first 21 bits come from
// the CRC32-C of the masked IP and rnd, its last byte is rnd, and the rest
// is random.
func NodeIDForIP(ip netip.Addr, rnd byte) ID {
	var id ID
	_, _ = rand.Read(id[:])
	c := bep42Prefix(ip, rnd&7)
	id[0] = byte(c >> 24)
	id[1] = byte(c >> 16)
	id[2] = byte(c>>8)&0xf8 | id[2]&0x07
	id[19] = rnd
	return id
}

// NodeIDValid reports whether id is a valid BEP 42 ID for ip. Local and
// private addresses are exempt, as BEP 42 says.
func NodeIDValid(id ID, ip netip.Addr) bool {
	ip = ip.Unmap()
	if bep42Exempt(ip) {
		return true
	}
	c := bep42Prefix(ip, id[19]&7)
	return id[0] == byte(c>>24) && id[1] == byte(c>>16) && id[2]&0xf8 == byte(c>>8)&0xf8
}

func bep42Exempt(ip netip.Addr) bool {
	return ip.IsLoopback() || ip.IsPrivate() || ip.IsLinkLocalUnicast() || !ip.IsGlobalUnicast()
}
