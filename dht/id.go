package dht

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"math/bits"
)

// ID is a 160-bit DHT node ID or lookup target (an info-hash or a BEP 44
// item target). metainfo.Hash converts to it directly: ID(ih).
type ID [20]byte

// RandomID returns a uniformly random ID.
func RandomID() ID {
	var id ID
	_, _ = rand.Read(id[:])
	return id
}

// ParseID parses 40 hex digits.
func ParseID(s string) (ID, error) {
	var id ID
	if len(s) != 40 {
		return id, fmt.Errorf("dht: ID %q: want 40 hex digits", s)
	}
	if _, err := hex.Decode(id[:], []byte(s)); err != nil {
		return id, fmt.Errorf("dht: ID %q: %w", s, err)
	}
	return id, nil
}

// String returns id as 40 lower-case hex digits.
func (id ID) String() string { return hex.EncodeToString(id[:]) }

// IsZero reports whether id is all zeros.
func (id ID) IsZero() bool { return id == ID{} }

// Xor returns the XOR distance between id and o.
func (id ID) Xor(o ID) ID {
	var d ID
	for i := range d {
		d[i] = id[i] ^ o[i]
	}
	return d
}

// CommonPrefixLen returns the number of leading bits id and o share (160 if
// they are equal).
func (id ID) CommonPrefixLen(o ID) int {
	for i := range id {
		if x := id[i] ^ o[i]; x != 0 {
			return i*8 + bits.LeadingZeros8(x)
		}
	}
	return 160
}

// closer reports whether a is strictly closer to target than b.
func closer(target, a, b ID) bool {
	for i := range target {
		da, db := a[i]^target[i], b[i]^target[i]
		if da != db {
			return da < db
		}
	}
	return false
}

// distCmp compares the distances of a and b to target (-1, 0, +1).
func distCmp(target, a, b ID) int {
	for i := range target {
		da, db := a[i]^target[i], b[i]^target[i]
		if da != db {
			if da < db {
				return -1
			}
			return 1
		}
	}
	return 0
}

// randomIDWithPrefix returns a random ID sharing exactly the first n bits
// with id (n < 160), used to refresh the bucket at depth n.
func randomIDWithPrefix(id ID, n int) ID {
	r := RandomID()
	if n >= 160 {
		return id
	}
	for i := 0; i < n/8; i++ {
		r[i] = id[i]
	}
	byteI, bit := n/8, uint(n%8)
	hi := byte(0xff) << (8 - bit) // the bits before bit n in this byte
	b := byte(0x80) >> bit        // bit n itself
	r[byteI] = id[byteI]&hi | r[byteI]&^hi
	r[byteI] = r[byteI]&^b | ^id[byteI]&b
	return r
}
