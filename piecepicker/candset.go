package piecepicker

import "math/bits"

// candSet is a set of piece indices with summary levels: level 0 holds one bit per piece,
// and each level above holds one bit per word of the level below, set while that word is
// non-zero. Finding the next member from any index therefore costs O(log64 n) word reads
// however far away it is, where a flat bitset costs O(distance/64). It holds a peer's
// candidate pieces (see Peer.cand). Memory: n/8 bytes × 64/63.
type candSet struct {
	lv    [][]uint64 // lv[0] is the set itself; lv[len(lv)-1] has at most one word
	n     int
	count int
}

func newCandSet(n int) *candSet {
	c := &candSet{n: n}
	words := (n + 63) / 64
	for {
		c.lv = append(c.lv, make([]uint64, words))
		if words <= 1 {
			return c
		}
		words = (words + 63) / 64
	}
}

func (c *candSet) has(i int) bool {
	return uint(i) < uint(c.n) && c.lv[0][i>>6]&(1<<(uint(i)&63)) != 0
}

// set adds i and reports whether it was newly added.
func (c *candSet) set(i int) bool {
	if uint(i) >= uint(c.n) || c.has(i) {
		return false
	}
	c.count++
	for l := range c.lv {
		w := &c.lv[l][i>>6]
		was := *w
		*w |= 1 << (uint(i) & 63)
		if was != 0 {
			break
		}
		i >>= 6
	}
	return true
}

// clear removes i and reports whether it was there.
func (c *candSet) clear(i int) bool {
	if !c.has(i) {
		return false
	}
	c.count--
	for l := range c.lv {
		w := &c.lv[l][i>>6]
		*w &^= 1 << (uint(i) & 63)
		if *w != 0 {
			break
		}
		i >>= 6
	}
	return true
}

// clearAll empties the set. O(n/64).
func (c *candSet) clearAll() {
	for _, l := range c.lv {
		clear(l)
	}
	c.count = 0
}

// next returns the smallest member >= i, or -1.
func (c *candSet) next(i int) int {
	if i < 0 {
		i = 0
	}
	if i >= c.n {
		return -1
	}
	l := 0
	for {
		w := i >> 6
		if w >= len(c.lv[l]) {
			return -1
		}
		if word := c.lv[l][w] >> (uint(i) & 63); word != 0 {
			i += bits.TrailingZeros64(word)
			for ; l > 0; l-- {
				i = i<<6 + bits.TrailingZeros64(c.lv[l-1][i])
			}
			return i
		}
		if l+1 == len(c.lv) {
			return -1
		}
		l++
		i = w + 1
	}
}
