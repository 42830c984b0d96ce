package dht

import (
	"crypto/sha1"
	"math"
	"math/bits"
	"net/netip"
)

// bloomBytes is the size of a BEP 33 scrape bloom filter.
const bloomBytes = 256

// bloom is a BEP 33 scrape bloom filter: m = 2048 bits, k = 2.
type bloom [bloomBytes]byte

// add inserts ip (4 or 16 bytes on the wire; IPv4-mapped addresses count as
// IPv4).
func (f *bloom) add(ip netip.Addr) {
	h := sha1.Sum(ip.Unmap().AsSlice())
	const m = bloomBytes * 8
	i1 := (uint(h[0]) | uint(h[1])<<8) % m
	i2 := (uint(h[2]) | uint(h[3])<<8) % m
	f[i1/8] |= 1 << (i1 % 8)
	f[i2/8] |= 1 << (i2 % 8)
}

// union ORs o into f.
func (f *bloom) union(o *bloom) {
	for i := range f {
		f[i] |= o[i]
	}
}

// estimate returns the BEP 33 estimate of how many IPs were inserted.
func (f *bloom) estimate() float64 {
	const m = bloomBytes * 8
	zeros := 0
	for _, b := range f {
		zeros += 8 - bits.OnesCount8(b)
	}
	c := float64(min(m-1, zeros))
	return math.Log(c/m) / (2 * math.Log(1-1.0/m))
}

// ScrapeEstimate estimates the number of distinct IPs in a BEP 33 bloom
// filter ("BFsd" or "BFpe"); filters are ORed together first, so the
// result is the size of their union. Filters that are not 256 bytes are
// ignored.
func ScrapeEstimate(filters ...[]byte) float64 {
	var f bloom
	for _, b := range filters {
		if len(b) == bloomBytes {
			f.union((*bloom)(b))
		}
	}
	return f.estimate()
}
