package storage

import (
	"os"
	"sync"
)

// Write-behind tuning (see Dir.WriteBehind). A file is cut into
// aligned chunks of writeBehindChunk bytes; a chunk whose every byte was
// written has its writeback started at once, and its pages are dropped
// from the page cache once writeBehindLag more chunks of the same file
// were completed after it.
const (
	writeBehindChunk = 8 << 20
	writeBehindLag   = 8 // chunks, so 64 MiB of finished data stay cached per file
)

// byteRange is a range of bytes of one file.
type byteRange struct{ off, n int64 }

// writebackOps are the system calls of write-behind; tests substitute a
// recorder. Errors are not reported: the calls are advice, the data is
// already written, and Flush reports write-back errors (fsync).
type writebackOps interface {
	// start begins the writeback of the dirty pages of r without waiting
	// for it.
	start(f *os.File, r byteRange)
	// drop waits for the writeback of r and then drops its pages from
	// the page cache.
	drop(f *os.File, r byteRange)
}

// writeBehind is the bookkeeping of one file: which chunks are complete
// and which of those are still cached.
type writeBehind struct {
	chunk int64 // chunk size
	lag   int   // complete chunks kept cached
	size  int64 // file length

	mu      sync.Mutex
	written map[int64]int64 // bytes written to each incomplete chunk
	started []int64         // complete chunks not yet dropped, oldest first
}

func newWriteBehind(size, chunk int64, lag int) *writeBehind {
	return &writeBehind{chunk: chunk, lag: lag, size: size, written: make(map[int64]int64)}
}

// chunkRange returns the bytes of chunk c.
func (w *writeBehind) chunkRange(c int64) byteRange {
	off := c * w.chunk
	return byteRange{off, min(w.chunk, w.size-off)}
}

// wrote records that n bytes were written at off and appends to start
// the chunks this write completed and to drop the chunks that fell more
// than lag completions behind. Bytes written twice count twice, so a
// rewritten chunk may complete early: that only starts its writeback
// early. A chunk written again after it completed is left to the kernel.
func (w *writeBehind) wrote(off, n int64, start, drop []byteRange) ([]byteRange, []byteRange) {
	if n <= 0 || off < 0 || off >= w.size {
		return start, drop
	}
	n = min(n, w.size-off)
	w.mu.Lock()
	defer w.mu.Unlock()
	for n > 0 {
		c := off / w.chunk
		r := w.chunkRange(c)
		m := min(n, r.off+r.n-off)
		w.written[c] += m
		if w.written[c] >= r.n {
			delete(w.written, c)
			start = append(start, r)
			w.started = append(w.started, c)
		}
		off, n = off+m, n-m
	}
	for len(w.started) > w.lag {
		drop = append(drop, w.chunkRange(w.started[0]))
		w.started = w.started[1:]
	}
	return start, drop
}

// writeBehindFor returns the bookkeeping of file i, or nil when
// write-behind is off.
func (t *dirTorrent) writeBehindFor(i int) *writeBehind {
	if t.wbOps == nil {
		return nil
	}
	t.wbMu.Lock()
	defer t.wbMu.Unlock()
	w := t.wb[i]
	if w == nil {
		w = newWriteBehind(t.l.files[i].length, t.wbChunk, t.wbLag)
		t.wb[i] = w
	}
	return w
}

// afterWrite feeds a write of n bytes at off in file i, made through f,
// to write-behind and makes the calls it asks for.
func (t *dirTorrent) afterWrite(i int, f *os.File, off, n int64) {
	w := t.writeBehindFor(i)
	if w == nil {
		return
	}
	var sb, db [2]byteRange
	start, drop := w.wrote(off, n, sb[:0], db[:0])
	for _, r := range start {
		t.wbOps.start(f, r)
	}
	for _, r := range drop {
		t.wbOps.drop(f, r)
	}
}
