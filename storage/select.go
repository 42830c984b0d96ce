package storage

import (
	"fmt"
	"io"
)

// SetWantedFiles implements FileSelector. A file that becomes unwanted and
// does not exist on disk is not created: writes to it (the boundary
// pieces it shares with wanted files) go to the part file. A file that
// already exists keeps its data in place, as in libtorrent. A file that
// becomes wanted again gets its bytes back from the part file.
func (t *dirTorrent) SetWantedFiles(wanted []bool) error {
	if len(wanted) != len(t.l.files) {
		return fmt.Errorf("storage: SetWantedFiles: %d entries for %d files", len(wanted), len(t.l.files))
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return ErrClosed
	}
	for i, f := range t.l.files {
		if f.pad || f.symlink {
			continue
		}
		if f.length == 0 {
			if err := t.selectEmpty(i, wanted[i]); err != nil {
				return err
			}
			continue
		}
		switch {
		case !wanted[i] && !t.usePart[i]:
			if !t.exists(f.name) {
				t.pool.drop(poolKey{t, i})
				t.usePart[i] = true
			}
		case wanted[i] && t.usePart[i]:
			if err := t.unpart(i); err != nil {
				return err
			}
		}
	}
	return nil
}

// unpart moves file i's bytes out of the part file into the file itself
// and frees the slots no other part-file file needs.
func (t *dirTorrent) unpart(i int) error {
	f := &t.l.files[i]
	first, last, _ := t.l.filePieces(i)
	buf := make([]byte, 0, min(t.l.pieceLen, f.length))
	for p := first; p <= last; p++ {
		ok, err := t.part.has(t.root, p)
		if err != nil {
			return err
		}
		if !ok {
			continue
		}
		poff, plen := t.l.pieceRange(p)
		lo, hi := max(poff, f.off), min(poff+plen, f.off+f.length)
		b := buf[:hi-lo]
		if err := t.part.readAt(t.root, b, p, lo-poff); err != nil {
			return err
		}
		e, err := t.handle(i, true)
		if err != nil {
			return err
		}
		_, err = e.f.WriteAt(b, lo-f.off)
		t.pool.put(e)
		if err != nil {
			return fmt.Errorf("storage: %w", err)
		}
		t.markDirty(i)
	}
	// Make sure the file exists even if none of its bytes were kept, so
	// a later session does not take it for a part-file one.
	e, err := t.handle(i, true)
	if err != nil {
		return err
	}
	t.pool.put(e)
	t.usePart[i] = false
	// The data must be durable in the file before the slots are reused.
	if err := t.flushLocked(); err != nil {
		return err
	}
	for p := first; p <= last; p++ {
		if !t.pieceInPart(p) {
			if err := t.part.release(t.root, p); err != nil {
				return err
			}
		}
	}
	return nil
}

// pieceInPart reports whether any file still using the part file overlaps
// piece p.
func (t *dirTorrent) pieceInPart(p int) bool {
	off, n := t.l.pieceRange(p)
	inPart := false
	_ = t.l.spans(off, int(n), func(s span) error {
		if t.usePart[s.file] {
			inPart = true
			return io.EOF
		}
		return nil
	})
	return inPart
}
