package storage

import (
	"context"
	"fmt"
	"os"
)

// Preallocate implements Preallocator: every wanted, non-pad file is
// created and given its full size, with its blocks reserved on file
// systems that support it (fallocate on Linux), so the download cannot
// fail later for lack of space. Existing data is kept.
func (t *dirTorrent) Preallocate(ctx context.Context) error {
	t.mu.RLock()
	defer t.mu.RUnlock()
	if t.closed {
		return ErrClosed
	}
	for i, f := range t.l.files {
		if err := ctx.Err(); err != nil {
			return err
		}
		if f.pad || f.symlink || f.length == 0 || t.usePart[i] {
			continue
		}
		e, err := t.handle(i, true)
		if err != nil {
			return err
		}
		err = allocate(e.f, f.length)
		t.pool.put(e)
		if err != nil {
			return fmt.Errorf("storage: preallocate %s: %w", f.name, err)
		}
		t.markDirty(i)
	}
	return nil
}

// truncateUp extends f to size bytes if it is shorter.
func truncateUp(f interface {
	Stat() (os.FileInfo, error)
	Truncate(int64) error
}, size int64) error {
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	if fi.Size() < size {
		return f.Truncate(size)
	}
	return nil
}
