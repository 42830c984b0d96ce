package metainfo

import (
	"context"
	"crypto/sha1"
	"crypto/sha256"
	"errors"
	"fmt"
	"hash"
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
			w := newWorker(h)
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

// chunkSize is how much of a piece a worker reads at a time: memory per
// worker stays bounded whatever the piece length. It is a multiple of
// BlockSize, so v2 leaf blocks never straddle two reads.
const chunkSize = 1 << 20

type worker struct {
	h      *hasher
	buf    []byte
	sha1   hash.Hash
	blocks []HashV2
	open   int // index of the file in f
	f      *os.File
}

func newWorker(h *hasher) *worker {
	return &worker{h: h, buf: make([]byte, min(h.pieceLength, chunkSize)), sha1: sha1.New(), open: -1}
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

// read fills buf with the byte space at off (pad files read as zeros),
// starting the file search at index i; it returns the index of the file
// holding the last byte read.
func (w *worker) read(buf []byte, off int64, i int) (int, error) {
	h := w.h
	end := off + int64(len(buf))
	for ; off < end; i++ {
		f := &h.files[i]
		if f.offset+f.length <= off {
			continue // empty, or already consumed
		}
		n := min(f.offset+f.length, end) - off
		dst := buf[len(buf)-int(end-off):][:n]
		if f.pad {
			clear(dst)
		} else {
			fd, err := w.file(i)
			if err != nil {
				return i, err
			}
			if _, err := fd.ReadAt(dst, off-f.offset); err != nil {
				if errors.Is(err, io.EOF) {
					return i, fmt.Errorf("%w: %s is shorter than %d bytes", ErrBuildChanged, f.disk, f.length)
				}
				return i, err
			}
		}
		off += n
		if off == end {
			return i, nil
		}
	}
	return i, nil
}

func (w *worker) hashPiece(p int) error {
	h := w.h
	start := int64(p) * h.pieceLength
	end := start + min(h.pieceLength, h.total-start)
	// In a v2 layout a piece starts at the start of a file or inside it,
	// and holds only that file's data, then padding.
	owner := h.fileAt(start)
	ownerEnd := h.files[owner].offset + h.files[owner].length
	w.sha1.Reset()
	w.blocks = w.blocks[:0]
	i := owner
	for off := start; off < end; {
		n := min(int64(len(w.buf)), end-off)
		buf := w.buf[:n]
		var err error
		if i, err = w.read(buf, off, i); err != nil {
			return err
		}
		if h.v1 {
			w.sha1.Write(buf)
		}
		if h.v2 && off < ownerEnd {
			w.blocks = appendBlockHashes(w.blocks, buf[:min(n, ownerEnd-off)])
		}
		off += n
		h.report(n)
	}
	if h.v1 {
		w.sha1.Sum(h.pieces[p*sha1.Size : p*sha1.Size : (p+1)*sha1.Size])
	}
	if h.v2 {
		f := &h.files[owner]
		if f.layer != nil {
			f.layer[(start-f.offset)/h.pieceLength] = MerkleRoot(w.blocks, int(h.pieceLength/BlockSize))
		} else {
			f.root = MerkleRoot(w.blocks, len(w.blocks))
		}
	}
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
