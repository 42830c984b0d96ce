package storage

import (
	"context"
	"crypto/sha1"
	"crypto/sha256"
	"errors"
	"fmt"
	"hash"
	"io"
	"runtime"
	"sync"
	"sync/atomic"

	"github.com/bittern/bittern/metainfo"
)

// Verifier checks pieces against a torrent's hashes: SHA-1 for v1, the
// BEP 52 SHA-256 merkle tree for v2, both for hybrid torrents. It is
// safe for concurrent use.
type Verifier struct {
	l     *layout
	v1    []byte            // concatenated SHA-1 hashes, nil if none
	v2    []metainfo.HashV2 // expected v2 hash per piece, nil if none
	v2ok  []bool            // v2[p] is known
	whole []bool            // piece p is a whole file no longer than a piece
	data  []int64           // bytes of p that belong to its v2 file

	hashers sync.Pool // of *pieceHasher, for CheckPiece
}

// NewVerifier prepares the hashes of info. pieceLayers is
// MetaInfo.PieceLayers; it is needed for v2 and hybrid torrents (a hybrid
// torrent without it is checked with SHA-1 only). Each layer is checked
// against its file's pieces root.
func NewVerifier(info *metainfo.Info, pieceLayers map[metainfo.HashV2][]byte) (*Verifier, error) {
	l, err := newLayout(info)
	if err != nil {
		return nil, err
	}
	v := &Verifier{l: l}
	if info.Pieces != nil {
		if len(info.Pieces) != sha1.Size*l.numPieces {
			return nil, fmt.Errorf("%w: %d bytes of v1 hashes for %d pieces", ErrVerify, len(info.Pieces), l.numPieces)
		}
		v.v1 = info.Pieces
	}
	if info.IsV2() {
		if err := v.initV2(info, pieceLayers); err != nil {
			if v.v1 == nil || !errors.Is(err, errNoLayer) {
				return nil, err
			}
			v.v2, v.v2ok, v.whole, v.data = nil, nil, nil, nil
		}
	}
	if v.v1 == nil && v.v2 == nil {
		return nil, fmt.Errorf("%w: no piece hashes", ErrVerify)
	}
	return v, nil
}

var errNoLayer = fmt.Errorf("%w: missing piece layer", ErrVerify)

func (v *Verifier) initV2(info *metainfo.Info, layers map[metainfo.HashV2][]byte) error {
	l := v.l
	if l.pieceLen%metainfo.BlockSize != 0 || l.pieceLen&(l.pieceLen-1) != 0 {
		return fmt.Errorf("%w: v2 piece length %d is not a power of two of 16 KiB blocks", ErrVerify, l.pieceLen)
	}
	n := l.numPieces
	v.v2, v.v2ok, v.whole, v.data = make([]metainfo.HashV2, n), make([]bool, n), make([]bool, n), make([]int64, n)
	for i, f := range info.Files {
		if f.Pad || f.Length == 0 {
			continue
		}
		if f.Offset%l.pieceLen != 0 {
			return fmt.Errorf("%w: v2 file %d does not start on a piece boundary", ErrVerify, i)
		}
		first, last, _ := l.filePieces(i)
		for p := first; p <= last; p++ {
			off, _ := l.pieceRange(p)
			v.data[p] = min(l.pieceLen, f.Offset+f.Length-off)
		}
		if f.Length <= l.pieceLen {
			v.v2[first], v.v2ok[first], v.whole[first] = f.PiecesRoot, true, true
			continue
		}
		layer, ok := layers[f.PiecesRoot]
		if !ok {
			return fmt.Errorf("%w for file %d", errNoLayer, i)
		}
		np := last - first + 1
		if len(layer) != np*32 {
			return fmt.Errorf("%w: piece layer of file %d has %d bytes, want %d", ErrVerify, i, len(layer), np*32)
		}
		hs := make([]metainfo.HashV2, np)
		for k := range hs {
			copy(hs[k][:], layer[32*k:])
		}
		if metainfo.PiecesRoot(hs, l.pieceLen) != f.PiecesRoot {
			return fmt.Errorf("%w: piece layer of file %d does not match its pieces root", ErrVerify, i)
		}
		for k, h := range hs {
			v.v2[first+k], v.v2ok[first+k] = h, true
		}
	}
	return nil
}

// NumPieces returns the number of pieces.
func (v *Verifier) NumPieces() int { return v.l.numPieces }

// PieceSize returns the length of piece p.
func (v *Verifier) PieceSize(p int) int64 { _, n := v.l.pieceRange(p); return n }

// Check reports whether data, the full content of piece p (pad bytes
// included, as zeros), matches every hash the torrent has for it.
func (v *Verifier) Check(p int, data []byte) bool {
	if p < 0 || p >= v.l.numPieces {
		return false
	}
	if _, n := v.l.pieceRange(p); int64(len(data)) != n {
		return false
	}
	var sum [sha1.Size]byte
	if v.v1 != nil {
		sum = sha1.Sum(data)
	}
	var stack [64]metainfo.HashV2
	leaves := stack[:0]
	if v.v2 != nil {
		d := data[:v.data[p]]
		for len(d) > 0 {
			m := min(len(d), metainfo.BlockSize)
			leaves = append(leaves, sha256.Sum256(d[:m]))
			d = d[m:]
		}
	}
	return v.match(p, &sum, leaves)
}

// match compares the SHA-1 of piece p and the hashes of its v2 blocks
// with the expected ones.
func (v *Verifier) match(p int, sum *[sha1.Size]byte, leaves []metainfo.HashV2) bool {
	if v.v1 != nil && *sum != [sha1.Size]byte(v.v1[sha1.Size*p:]) {
		return false
	}
	if v.v2 == nil {
		return true
	}
	if !v.v2ok[p] {
		// No v2 file data in this piece (only pad): SHA-1 decides.
		return v.v1 != nil || v.data[p] == 0
	}
	width := int(v.l.pieceLen / metainfo.BlockSize)
	if v.whole[p] {
		width = len(leaves)
	}
	return metainfo.MerkleRoot(leaves, width) == v.v2[p]
}

// CheckPiece reads piece p from r (the torrent's byte space) in chunks
// and reports whether it matches its hashes; missing bytes fail it. It
// allocates nothing in the steady state. A read error other than io.EOF
// is returned.
func (v *Verifier) CheckPiece(r io.ReaderAt, p int) (bool, error) {
	if p < 0 || p >= v.l.numPieces {
		return false, fmt.Errorf("storage: piece %d out of range [0, %d)", p, v.l.numPieces)
	}
	ph, _ := v.hashers.Get().(*pieceHasher)
	if ph == nil {
		ph = v.newPieceHasher()
	}
	defer v.hashers.Put(ph)
	return ph.check(r, p)
}

// RecheckOptions tunes Recheck. The zero value hashes every piece on all
// cores.
type RecheckOptions struct {
	// Workers is the number of pieces hashed at once.
	// If zero, runtime.GOMAXPROCS(0).
	Workers int
	// Only, if non-nil, limits the recheck to the pieces it marks (one
	// entry per piece); the others are reported as not verified.
	Only []bool
	// OnPiece, if non-nil, is called once per hashed piece with its
	// result, from the worker goroutines (it must be safe for concurrent
	// use and quick).
	OnPiece func(piece int, ok bool)
}

// Recheck hashes the pieces of r, the torrent's byte space, on all cores
// and returns which match. A read error other than io.EOF (or ctx being
// done) stops it with that error; missing data just fails its piece.
func (v *Verifier) Recheck(ctx context.Context, r io.ReaderAt, opts *RecheckOptions) ([]bool, error) {
	var o RecheckOptions
	if opts != nil {
		o = *opts
	}
	if o.Only != nil && len(o.Only) != v.l.numPieces {
		return nil, fmt.Errorf("storage: Recheck: Only has %d entries for %d pieces", len(o.Only), v.l.numPieces)
	}
	workers := o.Workers
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	workers = max(1, min(workers, v.l.numPieces))
	ok := make([]bool, v.l.numPieces)
	var (
		next     atomic.Int64
		wg       sync.WaitGroup
		errOnce  sync.Once
		firstErr error
		stop     atomic.Bool
	)
	fail := func(err error) {
		errOnce.Do(func() { firstErr = err })
		stop.Store(true)
	}
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ph := v.newPieceHasher()
			for !stop.Load() {
				p := int(next.Add(1) - 1)
				if p >= v.l.numPieces {
					return
				}
				if o.Only != nil && !o.Only[p] {
					continue
				}
				if err := ctx.Err(); err != nil {
					fail(err)
					return
				}
				good, err := ph.check(r, p)
				if err != nil {
					fail(fmt.Errorf("storage: recheck piece %d: %w", p, err))
					return
				}
				ok[p] = good
				if o.OnPiece != nil {
					o.OnPiece(p, good)
				}
			}
		}()
	}
	wg.Wait()
	if firstErr != nil {
		return nil, firstErr
	}
	return ok, nil
}

// recheckChunk is how much of a piece Recheck reads at a time: small
// enough that the bytes are still in cache when they are hashed, a
// multiple of the v2 block size so blocks never straddle reads.
const recheckChunk = 4 * metainfo.BlockSize

// pieceHasher hashes pieces as they are read, one chunk at a time.
type pieceHasher struct {
	v      *Verifier
	buf    []byte
	sha    hash.Hash
	leaves []metainfo.HashV2
}

func (v *Verifier) newPieceHasher() *pieceHasher {
	ph := &pieceHasher{v: v, buf: make([]byte, min(recheckChunk, v.l.pieceLen))}
	if v.v1 != nil {
		ph.sha = sha1.New()
	}
	if v.v2 != nil {
		ph.leaves = make([]metainfo.HashV2, 0, v.l.pieceLen/metainfo.BlockSize)
	}
	return ph
}

// check reads piece p from r and reports whether it matches its hashes.
// Missing bytes (a short read ending in io.EOF) fail the piece; other read
// errors are returned.
func (ph *pieceHasher) check(r io.ReaderAt, p int) (bool, error) {
	v := ph.v
	off, n := v.l.pieceRange(p)
	if ph.sha != nil {
		ph.sha.Reset()
	}
	ph.leaves = ph.leaves[:0]
	var v2data int64
	if v.v2 != nil {
		v2data = v.data[p]
	}
	for pos := int64(0); pos < n; {
		b := ph.buf[:min(int64(len(ph.buf)), n-pos)]
		m, err := r.ReadAt(b, off+pos)
		if int64(m) < int64(len(b)) {
			if err == nil || errors.Is(err, io.EOF) {
				return false, nil
			}
			return false, err
		}
		if err != nil && !errors.Is(err, io.EOF) {
			return false, err
		}
		if ph.sha != nil {
			ph.sha.Write(b)
		}
		for lo := pos; lo < min(pos+int64(len(b)), v2data); lo += metainfo.BlockSize {
			hi := min(lo+metainfo.BlockSize, v2data)
			ph.leaves = append(ph.leaves, sha256.Sum256(b[lo-pos:hi-pos]))
		}
		pos += int64(len(b))
	}
	var sum [sha1.Size]byte
	if ph.sha != nil {
		ph.sha.Sum(sum[:0])
	}
	return v.match(p, &sum, ph.leaves), nil
}
