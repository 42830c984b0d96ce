package metainfo

import (
	"context"
	"crypto/sha1"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"sort"
	"sync"
	"sync/atomic"

	"golang.org/x/sync/errgroup"
)

// hasher computes the v1 piece hashes and the v2 merkle trees of a laid-out
// byte space, one piece per job, on Builder.Workers goroutines.
type hasher struct {
	b           *Builder
	files       []buildFile
	pieceLength int64
	v1, v2      bool

	total  int64
	pieces []byte // v1 hashes

	done     atomic.Int64
	progress sync.Mutex
}

func (h *hasher) run(ctx context.Context) error {
	for _, f := range h.files {
		h.total += f.length
	}
	n := int((h.total + h.pieceLength - 1) / h.pieceLength)
	if n > MaxPieces {
		return fmt.Errorf("%w: %d pieces of %d bytes; use a larger piece length", ErrTooManyPieces, n, h.pieceLength)
	}
	if h.v1 {
		h.pieces = make([]byte, n*sha1.Size)
	}
	if h.v2 {
		for i := range h.files {
			if f := &h.files[i]; !f.pad && f.length > h.pieceLength {
				f.layer = make([]HashV2, (f.length+h.pieceLength-1)/h.pieceLength)
			}
		}
	}
	workers := h.b.Workers
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	workers = min(workers, n)
	var next atomic.Int64
	g, ctx := errgroup.WithContext(ctx)
	for range workers {
		g.Go(func() error {
			w := worker{h: h, buf: make([]byte, h.pieceLength)}
			defer w.close()
			for {
				p := int(next.Add(1) - 1)
				if p >= n {
					return nil
				}
				if err := ctx.Err(); err != nil {
					return err
				}
				if err := w.hashPiece(p); err != nil {
					return err
				}
			}
		})
	}
	if err := g.Wait(); err != nil {
		return err
	}
	if h.v2 {
		for i := range h.files {
			if f := &h.files[i]; f.layer != nil {
				f.root = PiecesRoot(f.layer, h.pieceLength)
			}
		}
	}
	return nil
}

// fileAt returns the index of the first non-empty file holding offset off.
func (h *hasher) fileAt(off int64) int {
	return sort.Search(len(h.files), func(i int) bool {
		f := &h.files[i]
		return f.offset+f.length > off
	})
}

func (h *hasher) report(n int64) {
	done := h.done.Add(n)
	if h.b.Progress == nil {
		return
	}
	h.progress.Lock()
	defer h.progress.Unlock()
	// Report the latest total: a concurrent, later call may already have.
	h.b.Progress(max(done, h.done.Load()), h.total)
}

type worker struct {
	h      *hasher
	buf    []byte
	blocks []HashV2
	open   int // index of the file in f, or -1
	f      *os.File
}

func (w *worker) close() {
	if w.f != nil {
		w.f.Close()
		w.f = nil
	}
}

func (w *worker) file(i int) (*os.File, error) {
	if w.f != nil && w.open == i {
		return w.f, nil
	}
	w.close()
	f, err := os.Open(w.h.files[i].disk)
	if err != nil {
		return nil, err
	}
	w.f, w.open = f, i
	return f, nil
}

func (w *worker) hashPiece(p int) error {
	h := w.h
	start := int64(p) * h.pieceLength
	size := min(h.pieceLength, h.total-start)
	buf := w.buf[:size]
	first := h.fileAt(start)
	// Fill buf from the files (pad files read as zeros).
	for i, off := first, start; off < start+size; i++ {
		f := &h.files[i]
		if f.length == 0 {
			continue
		}
		lo := off - f.offset
		n := min(f.offset+f.length, start+size) - off
		dst := buf[off-start : off-start+n]
		if f.pad {
			clear(dst)
		} else {
			fd, err := w.file(i)
			if err != nil {
				return err
			}
			if _, err := fd.ReadAt(dst, lo); err != nil {
				if errors.Is(err, io.EOF) {
					return fmt.Errorf("%w: %s is shorter than %d bytes", ErrBuildChanged, f.disk, f.length)
				}
				return err
			}
		}
		off += n
	}
	if h.v1 {
		sum := sha1.Sum(buf)
		copy(h.pieces[p*sha1.Size:], sum[:])
	}
	if h.v2 {
		// In a v2 layout a piece starts at a file's start or inside it.
		f := &h.files[first]
		n := min(size, f.offset+f.length-start)
		w.blocks = appendBlockHashes(w.blocks[:0], buf[:n])
		if f.layer != nil {
			f.layer[(start-f.offset)/h.pieceLength] = MerkleRoot(w.blocks, int(h.pieceLength/BlockSize))
		} else {
			f.root = MerkleRoot(w.blocks, len(w.blocks))
		}
	}
	h.report(size)
	return nil
}

func appendBlockHashes(dst []HashV2, data []byte) []HashV2 {
	for len(data) > 0 {
		n := min(len(data), BlockSize)
		dst = append(dst, sha256.Sum256(data[:n]))
		data = data[n:]
	}
	return dst
}
