package storage

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"syscall"
)

// Zero-length files have no pieces, so no write ever creates them. Dir
// creates them when the torrent is opened, as libtorrent does, so that a
// finished download has every file the torrent names. An empty file the
// selection then skips is removed again if this Open created it and it is
// still empty; one created or filled by anyone else is left alone.

// createEmpty creates every missing zero-length file of the torrent (not
// pads or symlinks) with its directories. A read-only download directory
// is not an error: the torrent may still seed from it.
func (t *dirTorrent) createEmpty() error {
	for i, f := range t.l.files {
		if f.pad || f.symlink || f.length != 0 || t.exists(f.name) {
			continue
		}
		err := t.makeEmpty(i)
		if errors.Is(err, fs.ErrPermission) || errors.Is(err, syscall.EROFS) {
			continue
		}
		if err != nil {
			return err
		}
		if t.madeEmpty == nil {
			t.madeEmpty = make([]bool, len(t.l.files))
		}
		t.madeEmpty[i] = true
	}
	return nil
}

// makeEmpty creates zero-length file i, failing if it exists.
func (t *dirTorrent) makeEmpty(i int) error {
	f := t.l.files[i]
	if err := t.mkParent(f.name); err != nil {
		return err
	}
	perm := os.FileMode(0o666)
	if f.exec {
		perm = 0o777
	}
	h, err := t.root.OpenFile(f.name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, perm)
	if err != nil {
		return fmt.Errorf("storage: create empty file: %w", err)
	}
	return h.Close()
}

// selectEmpty applies the selection to zero-length file i: a wanted one
// missing on disk is created, an unwanted one this Open created and
// nobody has written to since is removed. The caller holds t.mu.
func (t *dirTorrent) selectEmpty(i int, wanted bool) error {
	name := t.l.files[i].name
	if wanted {
		if t.exists(name) {
			return nil
		}
		if err := t.makeEmpty(i); err != nil {
			return err
		}
		if t.madeEmpty == nil {
			t.madeEmpty = make([]bool, len(t.l.files))
		}
		t.madeEmpty[i] = true
		return nil
	}
	if t.madeEmpty == nil || !t.madeEmpty[i] {
		return nil
	}
	t.madeEmpty[i] = false
	fi, err := t.root.Lstat(name)
	if err != nil || !fi.Mode().IsRegular() || fi.Size() != 0 {
		return nil // gone, replaced or written to: not ours any more
	}
	if err := t.root.Remove(name); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("storage: remove skipped empty file: %w", err)
	}
	return nil
}
