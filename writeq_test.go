package bittern

import (
	"crypto/sha1"
	"testing"
)

// A piece's write queue starts one job, hands blocks over in arrival
// order, and ends the job only once it is empty.
func TestPieceWriteQueue(t *testing.T) {
	data := randomData(4*16384, 3)
	ph := newPieceHash()
	block := func(i int) pendingBlock {
		return pendingBlock{begin: int64(i * 16384), data: data[i*16384 : (i+1)*16384]}
	}
	if !ph.enqueue(block(0)) {
		t.Fatal("first block started no job")
	}
	if ph.enqueue(block(1)) {
		t.Fatal("second block started a second job")
	}
	var batch []pendingBlock
	next := 0
	feed := func() {
		for _, b := range batch {
			if b.begin != int64(next*16384) {
				t.Fatalf("block at %d, want %d", b.begin, next*16384)
			}
			ph.feed(b.begin, b.data)
			next++
		}
	}
	batch = ph.takeQueue(batch)
	feed()
	if ph.enqueue(block(2)) || ph.enqueue(block(3)) {
		t.Fatal("a block queued while draining started a job")
	}
	batch = ph.takeQueue(batch)
	feed()
	if batch = ph.takeQueue(batch); len(batch) != 0 {
		t.Fatalf("%d blocks after the queue was drained", len(batch))
	}
	if next != 4 || ph.next != int64(len(data)) {
		t.Fatalf("hashed %d blocks, %d bytes", next, ph.next)
	}
	if !ph.finish(nil, 0, int64(len(data)), sha1.Sum(data)) {
		t.Fatal("hash of the blocks fed in order does not match")
	}
	if !ph.enqueue(block(0)) {
		t.Fatal("no job started after the queue was drained")
	}
}
