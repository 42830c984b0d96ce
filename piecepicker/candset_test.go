package piecepicker

import (
	"math/rand/v2"
	"slices"
	"testing"
)

// TestCandSet checks set, clear, clearAll and next against a sorted slice, at sizes with
// one to four summary levels.
func TestCandSet(t *testing.T) {
	for _, n := range []int{0, 1, 63, 64, 65, 4095, 4096, 4097, 300_000} {
		r := rand.New(rand.NewPCG(uint64(n), 1))
		c := newCandSet(n)
		ref := map[int]bool{}
		for step := range 3000 {
			i := r.IntN(n+2) - 1 // out of range too
			switch r.IntN(10) {
			case 0, 1, 2, 3:
				if got, want := c.set(i), i >= 0 && i < n && !ref[i]; got != want {
					t.Fatalf("n=%d step %d: set(%d) = %v", n, step, i, got)
				}
				if i >= 0 && i < n {
					ref[i] = true
				}
			case 4, 5:
				if got := c.clear(i); got != ref[i] {
					t.Fatalf("n=%d step %d: clear(%d) = %v", n, step, i, got)
				}
				delete(ref, i)
			case 6:
				if r.IntN(100) == 0 {
					c.clearAll()
					clear(ref)
				}
			default:
				keys := make([]int, 0, len(ref))
				for k := range ref {
					keys = append(keys, k)
				}
				slices.Sort(keys)
				want := -1
				if k, _ := slices.BinarySearch(keys, max(i, 0)); k < len(keys) {
					want = keys[k]
				}
				if got := c.next(i); got != want {
					t.Fatalf("n=%d step %d: next(%d) = %d, want %d", n, step, i, got, want)
				}
			}
			if c.count != len(ref) {
				t.Fatalf("n=%d step %d: count %d, want %d", n, step, c.count, len(ref))
			}
		}
		if err := c.check(); err != nil {
			t.Fatalf("n=%d: %v", n, err)
		}
	}
}
