// Package bitset is a fixed-length set of small non-negative integers, sized for piece
// indices. It reads and writes the BitTorrent bitfield wire layout (BEP 3: the high bit of
// the first byte is index 0, spare bits at the end are zero).
//
// The zero Bitset is empty with length 0. Methods given an index outside [0, Len()) ignore
// it (Set, Clear) or report false (Has); they never panic.
package bitset

import (
	"errors"
	"iter"
	"math/bits"
)

// ErrLength reports a wire bitfield whose size does not match the set's length.
var ErrLength = errors.New("bitset: bitfield length mismatch")

// ErrSpareBits reports a wire bitfield with a spare bit set past the last index.
var ErrSpareBits = errors.New("bitset: spare bits set in bitfield")

// Bitset is a set of integers in [0, Len()).
type Bitset struct {
	words []uint64
	n     int
	count int
}

// New returns an empty set of length n (n < 0 is treated as 0).
func New(n int) *Bitset {
	if n < 0 {
		n = 0
	}
	return &Bitset{words: make([]uint64, (n+63)/64), n: n}
}

// Len reports the length of the set: the number of indices it can hold.
func (b *Bitset) Len() int { return b.n }

// Count reports how many indices are set, in O(1).
func (b *Bitset) Count() int { return b.count }

// All reports whether every index is set.
func (b *Bitset) All() bool { return b.count == b.n }

// Has reports whether i is in the set.
func (b *Bitset) Has(i int) bool {
	if uint(i) >= uint(b.n) {
		return false
	}
	return b.words[i>>6]&(1<<(uint(i)&63)) != 0
}

// Set adds i and reports whether it was newly added.
func (b *Bitset) Set(i int) bool {
	if uint(i) >= uint(b.n) {
		return false
	}
	w, m := i>>6, uint64(1)<<(uint(i)&63)
	if b.words[w]&m != 0 {
		return false
	}
	b.words[w] |= m
	b.count++
	return true
}

// Clear removes i and reports whether it was present.
func (b *Bitset) Clear(i int) bool {
	if uint(i) >= uint(b.n) {
		return false
	}
	w, m := i>>6, uint64(1)<<(uint(i)&63)
	if b.words[w]&m == 0 {
		return false
	}
	b.words[w] &^= m
	b.count--
	return true
}

// SetAll adds every index.
func (b *Bitset) SetAll() {
	for i := range b.words {
		b.words[i] = ^uint64(0)
	}
	b.trim()
	b.count = b.n
}

// ClearAll removes every index.
func (b *Bitset) ClearAll() {
	clear(b.words)
	b.count = 0
}

// trim zeroes the bits past n in the last word.
func (b *Bitset) trim() {
	if r := uint(b.n) & 63; r != 0 {
		b.words[len(b.words)-1] &= (1 << r) - 1
	}
}

// NextSet returns the smallest set index >= i, or -1 if there is none.
func (b *Bitset) NextSet(i int) int {
	if i < 0 {
		i = 0
	}
	if i >= b.n {
		return -1
	}
	w := i >> 6
	word := b.words[w] >> (uint(i) & 63)
	if word != 0 {
		return i + bits.TrailingZeros64(word)
	}
	for w++; w < len(b.words); w++ {
		if b.words[w] != 0 {
			return w<<6 + bits.TrailingZeros64(b.words[w])
		}
	}
	return -1
}

// NextClear returns the smallest index >= i not in the set, or -1 if there is none.
func (b *Bitset) NextClear(i int) int {
	if i < 0 {
		i = 0
	}
	if i >= b.n {
		return -1
	}
	w := i >> 6
	word := ^b.words[w] >> (uint(i) & 63)
	if word != 0 {
		if j := i + bits.TrailingZeros64(word); j < b.n {
			return j
		}
		return -1
	}
	for w++; w < len(b.words); w++ {
		if ^b.words[w] != 0 {
			if j := w<<6 + bits.TrailingZeros64(^b.words[w]); j < b.n {
				return j
			}
			return -1
		}
	}
	return -1
}

// NextInBoth returns the smallest index >= i set in both b and o, or -1 if there is none.
// Sets of different lengths are compared over the shorter one.
func (b *Bitset) NextInBoth(o *Bitset, i int) int {
	n := min(b.n, o.n)
	if i < 0 {
		i = 0
	}
	if i >= n {
		return -1
	}
	w := i >> 6
	word := (b.words[w] & o.words[w]) >> (uint(i) & 63)
	if word != 0 {
		if j := i + bits.TrailingZeros64(word); j < n {
			return j
		}
		return -1
	}
	for w++; w<<6 < n; w++ {
		if x := b.words[w] & o.words[w]; x != 0 {
			if j := w<<6 + bits.TrailingZeros64(x); j < n {
				return j
			}
			return -1
		}
	}
	return -1
}

// InBoth returns an iterator over the indices set in both b and o, ascending.
func (b *Bitset) InBoth(o *Bitset) iter.Seq[int] {
	return func(yield func(int) bool) {
		bw, ow := b.words, o.words
		n := min(len(bw), len(ow))
		bw, ow = bw[:n], ow[:n]
		for w := range bw {
			x := bw[w] & ow[w]
			for x != 0 {
				if !yield(w<<6 + bits.TrailingZeros64(x)) {
					return
				}
				x &= x - 1
			}
		}
	}
}

// InBothFrom returns an iterator over the indices set in both b and o, ascending from the
// word holding index start to the end, then wrapping around from 0: a scan that begins at
// a chosen (for example random) place and still visits every common index once.
func (b *Bitset) InBothFrom(o *Bitset, start int) iter.Seq[int] {
	return func(yield func(int) bool) {
		bw, ow := b.words, o.words
		n := min(len(bw), len(ow))
		if n == 0 {
			return
		}
		bw, ow = bw[:n], ow[:n]
		first := 0
		if start > 0 {
			first = (start >> 6) % n
		}
		for k := range n {
			w := first + k
			if w >= n {
				w -= n
			}
			x := bw[w] & ow[w]
			for x != 0 {
				if !yield(w<<6 + bits.TrailingZeros64(x)) {
					return
				}
				x &= x - 1
			}
		}
	}
}

// Indices returns an iterator over the set indices, ascending.
func (b *Bitset) Indices() iter.Seq[int] {
	return func(yield func(int) bool) {
		for w, x := range b.words {
			for x != 0 {
				if !yield(w<<6 + bits.TrailingZeros64(x)) {
					return
				}
				x &= x - 1
			}
		}
	}
}

// Intersects reports whether b and o share any index.
func (b *Bitset) Intersects(o *Bitset) bool {
	n := min(len(b.words), len(o.words))
	for w := range n {
		if b.words[w]&o.words[w] != 0 {
			return true
		}
	}
	return false
}

// Clone returns an independent copy.
func (b *Bitset) Clone() *Bitset {
	return &Bitset{words: append([]uint64(nil), b.words...), n: b.n, count: b.count}
}

// WireLen is the size in bytes of the wire bitfield for a set of length n.
func WireLen(n int) int { return (n + 7) / 8 }

// AppendWire appends the BEP 3 bitfield encoding of b to dst.
func (b *Bitset) AppendWire(dst []byte) []byte {
	nb := WireLen(b.n)
	for i := range nb {
		w := b.words[i>>3]
		dst = append(dst, bits.Reverse8(byte(w>>(8*(uint(i)&7)))))
	}
	return dst
}

// UnmarshalWire replaces the contents of b with the BEP 3 bitfield p, which must be exactly
// WireLen(b.Len()) bytes with all spare bits zero.
func (b *Bitset) UnmarshalWire(p []byte) error {
	if len(p) != WireLen(b.n) {
		return ErrLength
	}
	if r := b.n & 7; r != 0 && p[len(p)-1]&(0xff>>uint(r)) != 0 {
		return ErrSpareBits
	}
	clear(b.words)
	count := 0
	for i, c := range p {
		r := bits.Reverse8(c)
		b.words[i>>3] |= uint64(r) << (8 * (uint(i) & 7))
		count += bits.OnesCount8(c)
	}
	b.count = count
	return nil
}
