package metainfo

import (
	"crypto/sha1"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
)

// Hash is a 20-byte info-hash: the SHA-1 of a v1 info dictionary, or the
// truncated SHA-256 of a v2 one as used on the wire, by trackers and the DHT.
type Hash [20]byte

// HashV2 is the full SHA-256 info-hash of a v2 (BEP 52) info dictionary.
type HashV2 [32]byte

// HashBytes returns the SHA-1 of b.
func HashBytes(b []byte) Hash { return sha1.Sum(b) }

// HashBytesV2 returns the SHA-256 of b.
func HashBytesV2(b []byte) HashV2 { return sha256.Sum256(b) }

// String returns h as 40 lower-case hex digits.
func (h Hash) String() string { return hex.EncodeToString(h[:]) }

// IsZero reports whether h is all zeros.
func (h Hash) IsZero() bool { return h == Hash{} }

// String returns h as 64 lower-case hex digits.
func (h HashV2) String() string { return hex.EncodeToString(h[:]) }

// IsZero reports whether h is all zeros.
func (h HashV2) IsZero() bool { return h == HashV2{} }

// Truncate returns the first 20 bytes of h, the form v2 info-hashes take in
// the peer handshake, tracker announces and the DHT.
func (h HashV2) Truncate() Hash {
	var t Hash
	copy(t[:], h[:20])
	return t
}

// ParseHash parses 40 hex digits into a Hash.
func ParseHash(s string) (Hash, error) {
	var h Hash
	if len(s) != 2*len(h) {
		return h, fmt.Errorf("metainfo: info-hash %q: want 40 hex digits", s)
	}
	if _, err := hex.Decode(h[:], []byte(s)); err != nil {
		return h, fmt.Errorf("metainfo: info-hash %q: %w", s, err)
	}
	return h, nil
}

// ParseHashV2 parses 64 hex digits into a HashV2.
func ParseHashV2(s string) (HashV2, error) {
	var h HashV2
	if len(s) != 2*len(h) {
		return h, fmt.Errorf("metainfo: v2 info-hash %q: want 64 hex digits", s)
	}
	if _, err := hex.Decode(h[:], []byte(s)); err != nil {
		return h, fmt.Errorf("metainfo: v2 info-hash %q: %w", s, err)
	}
	return h, nil
}
