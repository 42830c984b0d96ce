package storage

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sync"

	"github.com/bittern/bittern/metainfo"
)

// Dir is a Storage that keeps each torrent's files under a download
// directory: a single-file torrent as Root/Name, a multi-file one under
// Root/Name/. Every access goes through an os.Root, so no file name,
// symlink attribute or symlink already on disk can make it read or write
// outside Root. The zero value is not usable: Root is required.
//
// Files are sparse and created on first write unless Preallocate is set;
// zero-length files are created by Open (and removed again if a selection
// skips them while still empty).
// BEP 47 pad files are never written. Each torrent keeps two hidden files
// beside its data in Root: ".<info-hash>.parts" (bytes of deselected
// files, see FileSelector) and ".<info-hash>.resume" (see CompletionStore).
//
// A Dir must not be copied after its first Open.
type Dir struct {
	// Root is the download directory. It is created if missing.
	Root string
	// MaxOpenFiles bounds the files kept open across all the torrents
	// this Dir has open (plus those pinned by I/O in flight).
	// If zero, DefaultMaxOpenFiles.
	MaxOpenFiles int
	// Preallocate makes Open reserve the full size of every file on disk
	// (fallocate where available). If false, files are sparse.
	Preallocate bool
	// WriteBehind turns write-behind on. If false, writeback is left to
	// the kernel. If true, on Linux
	// (amd64, arm64) Dir starts the writeback of every 8 MiB chunk of a
	// file as soon as the chunk is fully written (sync_file_range), and
	// once 8 more chunks of the same file were completed it waits for
	// that writeback and drops the chunk from the page cache
	// (posix_fadvise DONTNEED). A large download then keeps at most about
	// 72 MiB of each file cached instead of gigabytes of dirty pages, and
	// the kernel recycles those pages rather than taking and writing back
	// fresh memory, which costs much more CPU in the writer. The price:
	// bytes read back later (seeding right after the download, or a piece
	// hashed long after its chunk completed) come from the disk instead
	// of memory. On other systems write-behind does nothing. Measured on
	// a 2-core VM (storage/doc.go): 4 GiB downloads 22–45% less leecher
	// CPU while the kernel's fresh page-cache pages were expensive, no
	// gain when they were not, and 1 GiB within noise; so it is opt-in.
	WriteBehind bool

	// Test seams: wbOps replaces the write-behind system calls, wbChunk
	// and wbLag (if not zero) the chunk size and lag.
	wbOps   writebackOps
	wbChunk int64
	wbLag   int

	poolOnce sync.Once
	pool     *filePool
}

// Open implements Storage.
func (d *Dir) Open(ctx context.Context, info *metainfo.Info, ih metainfo.Hash) (Torrent, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if d.Root == "" {
		return nil, errors.New("storage: Dir.Root is empty")
	}
	l, err := newLayout(info)
	if err != nil {
		return nil, err
	}
	dir, err := filepath.Abs(d.Root) // Move renames by path: pin it now
	if err != nil {
		return nil, fmt.Errorf("storage: %w", err)
	}
	if err := os.MkdirAll(dir, 0o777); err != nil {
		return nil, fmt.Errorf("storage: %w", err)
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, fmt.Errorf("storage: %w", err)
	}
	t := &dirTorrent{
		l:       l,
		ih:      ih,
		root:    root,
		dir:     dir,
		pool:    d.filePool(),
		usePart: make([]bool, len(l.files)),
		dirty:   make(map[int]bool),
		part:    newPartFile("."+ih.String()+".parts", l.pieceLen, l.numPieces),
	}
	if d.WriteBehind {
		t.wbOps = d.wbOps
		if t.wbOps == nil {
			t.wbOps = defaultWritebackOps
		}
		if t.wbOps != nil {
			t.wb = make([]*writeBehind, len(l.files))
			t.wbChunk, t.wbLag = cmp.Or(d.wbChunk, writeBehindChunk), cmp.Or(d.wbLag, writeBehindLag)
		}
	}
	for i := range l.files {
		if n := l.files[i].name; n == t.part.name || n == t.resumeName() || n == t.resumeName()+".tmp" {
			_ = root.Close()
			return nil, &PathError{File: i, Path: []string{n}, Err: fmt.Errorf("%w: clashes with the storage's own files", ErrUnsafePath)}
		}
	}
	if err := t.openInit(ctx, d.Preallocate); err != nil {
		_ = t.pool.closeOwner(t)
		_ = t.part.close(root)
		_ = root.Close()
		return nil, err
	}
	return t, nil
}

func (d *Dir) filePool() *filePool {
	d.poolOnce.Do(func() { d.pool = newFilePool(d.MaxOpenFiles) })
	return d.pool
}

// handle returns an open handle of file i from the pool; release it with
// t.pool.put.
func (t *dirTorrent) handle(i int, write bool) (*poolEntry, error) {
	return t.pool.get(poolKey{t, i}, write, t.openFile(i))
}

// openInit restores files still kept in the part file, creates symlinks
// and empty files, and optionally preallocates.
func (t *dirTorrent) openInit(ctx context.Context, prealloc bool) error {
	// A file missing on disk whose pieces have bytes in the part file was
	// deselected in an earlier session: keep reading it from there until
	// the selection is set again.
	for i, f := range t.l.files {
		if f.pad || f.symlink || f.length == 0 {
			continue
		}
		if t.exists(f.name) {
			continue
		}
		first, last, _ := t.l.filePieces(i)
		for p := first; p <= last; p++ {
			ok, err := t.part.has(t.root, p)
			if err != nil {
				return err
			}
			if ok {
				t.usePart[i] = true
				break
			}
		}
	}
	for _, f := range t.l.files {
		if !f.symlink {
			continue
		}
		if err := t.mkParent(f.name); err != nil {
			return err
		}
		if err := t.root.Symlink(f.target, f.name); err != nil && !errors.Is(err, fs.ErrExist) {
			return fmt.Errorf("storage: symlink %s: %w", f.name, err)
		}
	}
	if err := t.createEmpty(); err != nil {
		return err
	}
	if prealloc {
		return t.Preallocate(ctx)
	}
	return nil
}

type dirTorrent struct {
	l  *layout
	ih metainfo.Hash

	// mu is held shared by I/O and exclusively by Close, Move and
	// SetWantedFiles, which change the root, the pool or the mapping.
	mu      sync.RWMutex
	root    *os.Root
	dir     string
	closed  bool
	usePart []bool // file's bytes live in the part file
	// madeEmpty marks the zero-length files this Open created (nil if
	// none), so that a selection skipping them can take them back.
	madeEmpty []bool

	pool *filePool
	part *partFile

	dirtyMu sync.Mutex
	dirty   map[int]bool // files written since the last Flush

	// Write-behind (see Dir.WriteBehind): wbOps is nil when off;
	// wb holds the bookkeeping of each file written so far.
	wbOps   writebackOps
	wbChunk int64
	wbLag   int
	wbMu    sync.Mutex
	wb      []*writeBehind

	saveMu    sync.Mutex // serializes SaveCompletion
	syncedAll bool       // every existing file synced once (under saveMu)
}

var (
	_ Torrent         = (*dirTorrent)(nil)
	_ Flusher         = (*dirTorrent)(nil)
	_ Preallocator    = (*dirTorrent)(nil)
	_ Mover           = (*dirTorrent)(nil)
	_ FileSelector    = (*dirTorrent)(nil)
	_ CompletionStore = (*dirTorrent)(nil)
)

func (t *dirTorrent) resumeName() string { return "." + t.ih.String() + ".resume" }

func (t *dirTorrent) exists(name string) bool {
	_, err := t.root.Lstat(name)
	return err == nil
}

func (t *dirTorrent) mkParent(name string) error {
	if d := path.Dir(name); d != "." {
		if err := t.root.MkdirAll(d, 0o777); err != nil {
			return fmt.Errorf("storage: %w", err)
		}
	}
	return nil
}

// openFile opens file i for the pool. For reading only, a missing file
// is reported as errNotExist and a read-only file is opened read-only.
func (t *dirTorrent) openFile(i int) func(write bool) (*os.File, bool, error) {
	return func(write bool) (*os.File, bool, error) {
		name := t.l.files[i].name
		if write {
			if err := t.mkParent(name); err != nil {
				return nil, false, err
			}
			perm := os.FileMode(0o666)
			if t.l.files[i].exec {
				perm = 0o777 // BEP 47 'x', subject to the umask like any file
			}
			f, err := t.root.OpenFile(name, os.O_RDWR|os.O_CREATE, perm)
			if err != nil {
				return nil, false, fmt.Errorf("storage: %w", err)
			}
			return f, true, nil
		}
		f, err := t.root.OpenFile(name, os.O_RDWR, 0)
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			// Read-only file or file system (EACCES, EROFS): seed from it.
			if rf, rerr := t.root.OpenFile(name, os.O_RDONLY, 0); rerr == nil {
				return rf, false, nil
			}
		}
		if errors.Is(err, fs.ErrNotExist) {
			return nil, false, errNotExist
		}
		if err != nil {
			return nil, false, fmt.Errorf("storage: %w", err)
		}
		return f, true, nil
	}
}

// ReadAt implements io.ReaderAt. Bytes of files missing or shorter on disk
// read as zeros, like the holes of a sparse file.
func (t *dirTorrent) ReadAt(p []byte, off int64) (int, error) {
	t.mu.RLock()
	defer t.mu.RUnlock()
	if t.closed {
		return 0, ErrClosed
	}
	if off < 0 {
		return 0, ErrOutOfRange
	}
	if off >= t.l.total {
		if len(p) == 0 {
			return 0, nil
		}
		return 0, io.EOF
	}
	n := len(p)
	var eof error
	if int64(n) > t.l.total-off {
		n, eof = int(t.l.total-off), io.EOF
	}
	err := t.l.spans(off, n, func(s span) error {
		b := p[s.lo:s.hi]
		f := &t.l.files[s.file]
		switch {
		case f.pad:
			clear(b)
			return nil
		case t.usePart[s.file]:
			return t.partIO(b, off+int64(s.lo), false)
		}
		e, err := t.handle(s.file, false)
		if err == errNotExist {
			clear(b)
			return nil
		}
		if err != nil {
			return err
		}
		defer t.pool.put(e)
		m, err := e.f.ReadAt(b, s.fileOff)
		if err == io.EOF {
			clear(b[m:])
			err = nil
		}
		if err != nil {
			return fmt.Errorf("storage: %w", err)
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	return n, eof
}

// WriteAt implements io.WriterAt. Bytes that fall into pad files are
// dropped.
func (t *dirTorrent) WriteAt(p []byte, off int64) (int, error) {
	t.mu.RLock()
	defer t.mu.RUnlock()
	if t.closed {
		return 0, ErrClosed
	}
	if off < 0 || int64(len(p)) > t.l.total-off {
		return 0, ErrOutOfRange
	}
	err := t.l.spans(off, len(p), func(s span) error {
		b := p[s.lo:s.hi]
		f := &t.l.files[s.file]
		switch {
		case f.pad:
			return nil
		case t.usePart[s.file]:
			return t.partIO(b, off+int64(s.lo), true)
		}
		e, err := t.handle(s.file, true)
		if err != nil {
			return err
		}
		defer t.pool.put(e)
		if _, err := e.f.WriteAt(b, s.fileOff); err != nil {
			return fmt.Errorf("storage: %w", err)
		}
		// Marked after the write, so a Flush that starts meanwhile
		// leaves it marked for the next one.
		t.markDirty(s.file)
		t.afterWrite(s.file, e.f, s.fileOff, int64(len(b)))
		return nil
	})
	if err != nil {
		return 0, err
	}
	return len(p), nil
}

func (t *dirTorrent) markDirty(i int) {
	t.dirtyMu.Lock()
	t.dirty[i] = true
	t.dirtyMu.Unlock()
}

// partIO reads or writes b at torrent offset off in the part file,
// splitting at piece boundaries.
func (t *dirTorrent) partIO(b []byte, off int64, write bool) error {
	for len(b) > 0 {
		piece := int(off / t.l.pieceLen)
		po := off - int64(piece)*t.l.pieceLen
		m := min(int64(len(b)), t.l.pieceLen-po)
		var err error
		if write {
			err = t.part.writeAt(t.root, b[:m], piece, po)
		} else {
			err = t.part.readAt(t.root, b[:m], piece, po)
		}
		if err != nil {
			return err
		}
		b, off = b[m:], off+m
	}
	return nil
}

// Flush implements Flusher: every file written since the last Flush, and
// the part file, is synced to stable storage.
func (t *dirTorrent) Flush() error {
	t.mu.RLock()
	defer t.mu.RUnlock()
	if t.closed {
		return ErrClosed
	}
	return t.flushLocked()
}

func (t *dirTorrent) flushLocked() error {
	t.dirtyMu.Lock()
	files := make([]int, 0, len(t.dirty))
	for i := range t.dirty {
		files = append(files, i)
	}
	clear(t.dirty)
	t.dirtyMu.Unlock()
	var errs []error
	for _, i := range files {
		e, err := t.handle(i, false)
		if err == errNotExist {
			continue // removed behind our back: nothing left to sync
		}
		if err == nil {
			err = e.f.Sync()
			t.pool.put(e)
		}
		if err != nil {
			t.markDirty(i)
			errs = append(errs, fmt.Errorf("storage: sync %s: %w", t.l.files[i].name, err))
		}
	}
	if err := t.part.sync(); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// Close implements io.Closer: it syncs and closes every file.
func (t *dirTorrent) Close() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return ErrClosed
	}
	t.closed = true
	errs := []error{t.flushLocked(), t.pool.closeOwner(t), t.part.close(t.root), t.root.Close()}
	return errors.Join(errs...)
}
