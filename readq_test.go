package bittern

import (
	"slices"
	"testing"
)

// A connection's read queue starts one job, hands requests over in the
// order they were queued, and ends the job only once it is empty.
func TestConnReadQueue(t *testing.T) {
	c := &peerConn{}
	k := func(i uint32) blockKey { return blockKey{index: 1, begin: i * 16384, length: 16384} }
	if !c.queueRead(k(0)) {
		t.Fatal("first request started no job")
	}
	if c.queueRead(k(1)) {
		t.Fatal("second request started a second job")
	}
	got := c.takeReads(nil)
	if c.queueRead(k(2)) {
		t.Fatal("a request queued while reading started a job")
	}
	got = append(slices.Clone(got), c.takeReads(nil)...)
	if want := []blockKey{k(0), k(1), k(2)}; !slices.Equal(got, want) {
		t.Fatalf("reads %v, want %v", got, want)
	}
	if rest := c.takeReads(nil); len(rest) != 0 {
		t.Fatalf("%d reads after the queue was drained", len(rest))
	}
	if !c.queueRead(k(3)) {
		t.Fatal("no job started after the queue was drained")
	}
}
