package bitset

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"testing"
)

func TestSetClearHas(t *testing.T) {
	for _, n := range []int{0, 1, 7, 8, 9, 63, 64, 65, 130} {
		b := New(n)
		ref := make([]bool, n)
		r := rand.New(rand.NewPCG(uint64(n), 1))
		for range 4 * n {
			i := r.IntN(n+4) - 2
			if r.IntN(2) == 0 {
				added := b.Set(i)
				if want := i >= 0 && i < n && !ref[i]; added != want {
					t.Fatalf("n=%d Set(%d)=%v want %v", n, i, added, want)
				}
				if i >= 0 && i < n {
					ref[i] = true
				}
			} else {
				removed := b.Clear(i)
				if want := i >= 0 && i < n && ref[i]; removed != want {
					t.Fatalf("n=%d Clear(%d)=%v want %v", n, i, removed, want)
				}
				if i >= 0 && i < n {
					ref[i] = false
				}
			}
			check(t, b, ref)
		}
		b.SetAll()
		for i := range ref {
			ref[i] = true
		}
		check(t, b, ref)
		if !b.All() {
			t.Fatal("All false after SetAll")
		}
		b.ClearAll()
		clear(ref)
		check(t, b, ref)
	}
}

func check(t *testing.T, b *Bitset, ref []bool) {
	t.Helper()
	count := 0
	for i, v := range ref {
		if b.Has(i) != v {
			t.Fatalf("Has(%d)=%v want %v", i, !v, v)
		}
		if v {
			count++
		}
		wantNext, wantClear := -1, -1
		for j := i; j < len(ref); j++ {
			if ref[j] && wantNext < 0 {
				wantNext = j
			}
			if !ref[j] && wantClear < 0 {
				wantClear = j
			}
		}
		if got := b.NextSet(i); got != wantNext {
			t.Fatalf("NextSet(%d)=%d want %d", i, got, wantNext)
		}
		if got := b.NextClear(i); got != wantClear {
			t.Fatalf("NextClear(%d)=%d want %d", i, got, wantClear)
		}
	}
	if b.Has(-1) || b.Has(len(ref)) {
		t.Fatal("Has out of range")
	}
	if b.Count() != count {
		t.Fatalf("Count=%d want %d", b.Count(), count)
	}
	if b.NextSet(len(ref)) != -1 || b.NextClear(len(ref)) != -1 {
		t.Fatal("Next past end")
	}
}

func TestWire(t *testing.T) {
	b := New(10)
	b.Set(0)
	b.Set(9)
	got := b.AppendWire(nil)
	if want := []byte{0x80, 0x40}; !bytes.Equal(got, want) {
		t.Fatalf("wire %x want %x", got, want)
	}
	c := New(10)
	if err := c.UnmarshalWire(got); err != nil {
		t.Fatal(err)
	}
	if !c.Has(0) || !c.Has(9) || c.Count() != 2 {
		t.Fatal("round trip lost bits")
	}
	if err := c.UnmarshalWire([]byte{0x80, 0x20}); !errors.Is(err, ErrSpareBits) {
		t.Fatalf("spare bit: %v", err)
	}
	if err := c.UnmarshalWire([]byte{0x80}); !errors.Is(err, ErrLength) {
		t.Fatalf("short: %v", err)
	}
}

func TestNextInBoth(t *testing.T) {
	a, b := New(200), New(150)
	a.Set(3)
	a.Set(140)
	a.Set(170)
	b.Set(140)
	b.Set(4)
	if got := a.NextInBoth(b, 0); got != 140 {
		t.Fatalf("got %d", got)
	}
	if got := a.NextInBoth(b, 141); got != -1 {
		t.Fatalf("got %d", got)
	}
	var both, idx []int
	for i := range a.InBoth(b) {
		both = append(both, i)
	}
	for i := range a.Indices() {
		idx = append(idx, i)
	}
	var wrapped []int
	for i := range a.InBothFrom(a, 150) {
		wrapped = append(wrapped, i)
	}
	if fmt.Sprint(wrapped) != "[140 170 3]" {
		t.Fatalf("InBothFrom(150) %v", wrapped)
	}
	if fmt.Sprint(both) != "[140]" || fmt.Sprint(idx) != "[3 140 170]" {
		t.Fatalf("InBoth %v Indices %v", both, idx)
	}
	if !a.Intersects(b) {
		t.Fatal("Intersects false")
	}
	c := a.Clone()
	c.Clear(140)
	if c.Intersects(b) || !a.Has(140) {
		t.Fatal("clone not independent")
	}
}

func FuzzUnmarshalWire(f *testing.F) {
	f.Add(uint16(10), []byte{0x80, 0x40})
	f.Add(uint16(8), []byte{0xff})
	f.Add(uint16(0), []byte{})
	f.Fuzz(func(t *testing.T, n uint16, p []byte) {
		b := New(int(n))
		if err := b.UnmarshalWire(p); err != nil {
			return
		}
		if got := b.AppendWire(nil); !bytes.Equal(got, p) {
			t.Fatalf("round trip %x -> %x", p, got)
		}
		count := 0
		for i := range b.Len() {
			if b.Has(i) {
				count++
			}
		}
		if count != b.Count() {
			t.Fatalf("count %d, Has says %d", b.Count(), count)
		}
	})
}
