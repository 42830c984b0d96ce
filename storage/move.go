package storage

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
)

// Move implements Mover: the torrent's files (and its part and resume
// files) are moved into dir, which is created if missing, and later I/O
// goes there. Reads and writes wait while the move runs. A rename is used
// where possible, a copy followed by removal across file systems. Move
// refuses to overwrite anything that already exists in dir; on failure it
// moves back what it had moved and keeps using the old directory.
func (t *dirTorrent) Move(ctx context.Context, dir string) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return ErrClosed
	}
	oldAbs, err1 := filepath.Abs(t.dir)
	newAbs, err2 := filepath.Abs(dir)
	if err := errors.Join(err1, err2); err != nil {
		return fmt.Errorf("storage: move: %w", err)
	}
	if oldAbs == newAbs {
		return nil
	}
	if err := os.MkdirAll(newAbs, 0o777); err != nil {
		return fmt.Errorf("storage: move: %w", err)
	}
	newRoot, err := os.OpenRoot(newAbs)
	if err != nil {
		return fmt.Errorf("storage: move: %w", err)
	}
	// Flush and close everything: handles point at the old location.
	if err := errors.Join(t.flushLocked(), t.pool.closeOwner(t), t.part.close(t.root)); err != nil {
		_ = newRoot.Close()
		return fmt.Errorf("storage: move: %w", err)
	}
	var tops []string
	seen := map[string]bool{}
	add := func(name string) {
		top, _, _ := strings.Cut(name, "/")
		if !seen[top] {
			seen[top] = true
			if _, err := t.root.Lstat(top); err == nil {
				tops = append(tops, top)
			}
		}
	}
	for _, f := range t.l.files {
		if !f.pad {
			add(f.name)
		}
	}
	add(t.part.name)
	add(t.resumeName())
	for _, top := range tops {
		if _, err := newRoot.Lstat(top); err == nil {
			_ = newRoot.Close()
			return fmt.Errorf("storage: move: %s: %w", filepath.Join(newAbs, top), fs.ErrExist)
		}
	}
	var moved []string
	for _, top := range tops {
		err := ctx.Err()
		if err == nil {
			err = moveEntry(t.root, newRoot, oldAbs, newAbs, top)
		}
		if err != nil {
			for _, m := range moved { // best effort roll back
				_ = moveEntry(newRoot, t.root, newAbs, oldAbs, m)
			}
			_ = newRoot.Close()
			return fmt.Errorf("storage: move %s: %w", top, err)
		}
		moved = append(moved, top)
	}
	_ = t.root.Close()
	t.root, t.dir = newRoot, newAbs
	return nil
}

// moveEntry moves the entry top from one root to the other, renaming when
// both are on the same file system and copying otherwise.
func moveEntry(from, to *os.Root, fromDir, toDir, top string) error {
	err := os.Rename(filepath.Join(fromDir, top), filepath.Join(toDir, top))
	if !errors.Is(err, syscall.EXDEV) {
		return err
	}
	if err := copyTree(from, to, top); err != nil {
		_ = to.RemoveAll(top)
		return err
	}
	return from.RemoveAll(top)
}

// copyTree copies the file, directory or symlink name from one root into
// the other. Both roots confine every access, symlinks included.
func copyTree(from, to *os.Root, name string) error {
	return fs.WalkDir(from.FS(), name, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		switch {
		case d.IsDir():
			return to.MkdirAll(p, 0o777)
		case d.Type()&fs.ModeSymlink != 0:
			target, err := from.Readlink(p)
			if err != nil {
				return err
			}
			return to.Symlink(target, p)
		case d.Type().IsRegular():
			return copyFile(from, to, p)
		}
		return nil // sockets, devices: not ours
	})
}

func copyFile(from, to *os.Root, name string) error {
	src, err := from.Open(name)
	if err != nil {
		return err
	}
	defer src.Close()
	fi, err := src.Stat()
	if err != nil {
		return err
	}
	dst, err := to.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, fi.Mode().Perm())
	if err != nil {
		return err
	}
	if _, err := io.Copy(dst, src); err != nil {
		_ = dst.Close()
		return err
	}
	if err := dst.Sync(); err != nil {
		_ = dst.Close()
		return err
	}
	if err := dst.Close(); err != nil {
		return err
	}
	return to.Chtimes(name, fi.ModTime(), fi.ModTime())
}
