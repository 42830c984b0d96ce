package piecepicker

import (
	"crypto/sha1"
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
)

// ErrAllowedFastAddr reports an address the BEP 6 allowed-fast algorithm has no provision
// for: it is defined for IPv4 only (an IPv4-mapped IPv6 address is used as IPv4).
var ErrAllowedFastAddr = errors.New("piecepicker: allowed-fast set needs an IPv4 address")

// MaxAllowedFastK is the largest set AllowedFastSet computes; BEP 6 suggests 10.
const MaxAllowedFastK = 256

// AllowedFastSet appends to dst the BEP 6 allowed-fast set of k pieces that we offer the
// peer at addr: pieces it may request while we choke it. The set depends only on addr's
// /24 network, the info-hash and numPieces, so reconnecting does not change it; a larger k
// extends a smaller one. k is capped at numPieces and at MaxAllowedFastK.
func AllowedFastSet(dst []int, k, numPieces int, infoHash [20]byte, addr netip.Addr) ([]int, error) {
	addr = addr.Unmap()
	if !addr.Is4() {
		return dst, fmt.Errorf("%w: %v", ErrAllowedFastAddr, addr)
	}
	if numPieces <= 0 || numPieces > MaxPieces {
		return dst, fmt.Errorf("%w: %d pieces", ErrBadPiece, numPieces)
	}
	k = min(k, numPieces, MaxAllowedFastK)
	ip := addr.As4()
	var x [24]byte
	copy(x[:3], ip[:3]) // ip & 0xffffff00, big-endian
	copy(x[4:], infoHash[:])
	h := sha1.Sum(x[:])
	start := len(dst)
	// Each hash yields 5 indices; bound the rounds so that no input can loop for long.
	for round := 0; len(dst)-start < k && round < 64*MaxAllowedFastK; round++ {
		for i := 0; i < 5 && len(dst)-start < k; i++ {
			index := int(binary.BigEndian.Uint32(h[4*i:]) % uint32(numPieces))
			if !containsInt(dst[start:], index) {
				dst = append(dst, index)
			}
		}
		h = sha1.Sum(h[:])
	}
	return dst, nil
}

func containsInt(s []int, v int) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}
