package peerwire

import (
	"crypto/sha1"
	"encoding/binary"
	"hash/crc32"
	"net/netip"
	"slices"
)

// AllowedFastSet returns the first k pieces of the BEP 6 allowed fast set
// that a peer at ip gets for a torrent of numPieces pieces with the given
// info-hash: x = (ip & 255.255.255.0) ‖ infohash, then repeatedly
// x = SHA1(x) and each 4-byte big-endian word of x, modulo numPieces, is
// taken if new. k is capped at numPieces. BEP 6 defines the set for IPv4
// only (IPv4-mapped IPv6 addresses are unmapped); for other addresses it
// returns nil.
func AllowedFastSet(k, numPieces int, infoHash [20]byte, ip netip.Addr) []uint32 {
	ip = ip.Unmap()
	if !ip.Is4() || numPieces <= 0 || k <= 0 {
		return nil
	}
	k = min(k, numPieces)
	a := ip.As4()
	var x [24]byte
	copy(x[:3], a[:3])
	copy(x[4:], infoHash[:])
	set := make([]uint32, 0, k)
	h := x[:]
	for len(set) < k {
		sum := sha1.Sum(h)
		h = sum[:]
		for i := 0; i < 5 && len(set) < k; i++ {
			idx := binary.BigEndian.Uint32(sum[4*i:]) % uint32(numPieces)
			if !slices.Contains(set, idx) {
				set = append(set, idx)
			}
		}
	}
	return set
}

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// PeerPriority returns the BEP 40 canonical priority of the connection
// between us (client, as the peer sees us) and peer: the CRC32-C of the
// two masked addresses in ascending order, or of the two ports when the
// addresses are equal. Both sides compute the same value, so a client
// keeping only its best-priority connections keeps the same ones as
// everyone else. Addresses of different families yield 0.
func PeerPriority(client, peer netip.AddrPort) uint32 {
	a, b := client.Addr().Unmap(), peer.Addr().Unmap()
	if a == b {
		var buf [4]byte
		p, q := client.Port(), peer.Port()
		if p > q {
			p, q = q, p
		}
		binary.BigEndian.PutUint16(buf[:], p)
		binary.BigEndian.PutUint16(buf[2:], q)
		return crc32.Checksum(buf[:], castagnoli)
	}
	var x, y []byte
	switch {
	case a.Is4() && b.Is4():
		a4, b4 := a.As4(), b.As4()
		mask := [4]byte{0xff, 0xff, 0x55, 0x55}
		if a4[0] == b4[0] && a4[1] == b4[1] {
			mask = [4]byte{0xff, 0xff, 0xff, 0x55}
			if a4[2] == b4[2] {
				mask = [4]byte{0xff, 0xff, 0xff, 0xff}
			}
		}
		for i := range 4 {
			a4[i] &= mask[i]
			b4[i] &= mask[i]
		}
		x, y = a4[:], b4[:]
	case a.Is6() && b.Is6():
		a6, b6 := a.As16(), b.As16()
		// Default FFFF:FFFF:FFFF:5555:…; same /48: FFFF:FFFF:FFFF:FF55:…;
		// same /56: FFFF:FFFF:FFFF:FFFF:5555:….
		var mask [16]byte
		for i := range mask {
			mask[i] = 0x55
		}
		for i := range 6 {
			mask[i] = 0xff
		}
		if [6]byte(a6[:6]) == [6]byte(b6[:6]) {
			mask[6] = 0xff
			if a6[6] == b6[6] {
				mask[7] = 0xff
			}
		}
		for i := range 16 {
			a6[i] &= mask[i]
			b6[i] &= mask[i]
		}
		x, y = a6[:], b6[:]
	default:
		return 0
	}
	if string(x) > string(y) {
		x, y = y, x
	}
	return crc32.Checksum(append(slices.Clip(x), y...), castagnoli)
}
