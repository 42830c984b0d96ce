package bittern

import (
	"bytes"
	"crypto/sha1"
	"testing"
)

// Blocks fed in order are hashed as they come; the rest is read back.
func TestPieceHashFeedAndFinish(t *testing.T) {
	data := randomData(5*16384+100, 40)
	want := sha1.Sum(data)
	r := bytes.NewReader(append(make([]byte, 1000), data...)) // the piece starts at 1000
	for _, order := range [][]int{{0, 1, 2, 3, 4, 5}, {0, 2, 1, 3, 5, 4}, {5, 4, 3, 2, 1, 0}, {}} {
		ph := newPieceHash()
		for _, b := range order {
			begin := b * 16384
			ph.feed(int64(begin), data[begin:min(begin+16384, len(data))])
		}
		if !ph.finish(r, 1000, int64(len(data)), want) {
			t.Errorf("order %v: hash mismatch", order)
		}
	}
	ph := newPieceHash()
	ph.feed(0, data[:16384])
	bad := append([]byte(nil), data...)
	bad[20000] ^= 1
	if ph.finish(bytes.NewReader(append(make([]byte, 1000), bad...)), 1000, int64(len(data)), want) {
		t.Error("corrupt tail passed")
	}
	if newPieceHash().finish(bytes.NewReader(data[:100]), 0, int64(len(data)), want) {
		t.Error("short data passed")
	}
}
