package storage

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/bittern/bittern/metainfo"
)

// Storage opens the byte space of a torrent. Implementations must be safe
// for concurrent use.
type Storage interface {
	// Open returns the torrent's contiguous byte space: the files of info
	// in order, pad files included, as one range [0, info.TotalLength()).
	// ih identifies the torrent (the v1 info-hash, or the truncated v2
	// info-hash of a v2-only torrent): data written and closed is found
	// again by a later Open of the same torrent on the same Storage.
	Open(ctx context.Context, info *metainfo.Info, ih metainfo.Hash) (Torrent, error)
}

// Torrent is the byte space of one open torrent. ReadAt and WriteAt may be
// called concurrently from many goroutines; Close releases all resources
// and makes further calls fail with ErrClosed.
//
// Bytes of a freshly created torrent that were never written read as zeros,
// and so do the bytes of BEP 47 pad files, whatever was written to them.
// ReadAt at or past the end returns io.EOF; WriteAt past the end returns
// ErrOutOfRange and writes nothing.
type Torrent interface {
	io.ReaderAt
	io.WriterAt
	io.Closer
}

// Flusher is implemented by torrents that buffer or cache writes. Flush
// makes every completed write durable (fsync for files).
type Flusher interface {
	Flush() error
}

// Preallocator is implemented by torrents that can reserve disk space for
// their (selected) files ahead of the download.
type Preallocator interface {
	Preallocate(ctx context.Context) error
}

// Mover is implemented by torrents whose data can be moved to another
// directory while open. Reads and writes issued during a move wait for it.
type Mover interface {
	Move(ctx context.Context, dir string) error
}

// FileSelector is implemented by torrents that can skip files. wanted has
// one entry per entry of Info.Files. Files that are not wanted are not
// created; the parts of their boundary pieces that are written anyway are
// kept aside and moved into the file when it is selected again.
type FileSelector interface {
	SetWantedFiles(wanted []bool) error
}

// CompletionStore is implemented by torrents that persist which pieces
// have been verified, so a restart does not need a full recheck.
type CompletionStore interface {
	// SaveCompletion durably records the verified pieces (one entry per
	// piece). Data written before the call is flushed first, so a crash
	// never leaves a record that vouches for bytes not on disk.
	SaveCompletion(ctx context.Context, verified []bool) error
	// LoadCompletion returns the last record saved, checked against the
	// data as it is now. With no record, it returns a Resume with all
	// pieces unverified and a nil error.
	LoadCompletion(ctx context.Context) (*Resume, error)
}

// Resume is a loaded completion record.
type Resume struct {
	// Verified marks pieces that were verified when the record was saved
	// and whose data has not changed since: they can be trusted.
	Verified []bool
	// Recheck marks pieces that were verified when the record was saved
	// but touch a file whose size or modification time changed since:
	// they must be hashed again before they are trusted.
	Recheck []bool
}

// Errors returned by this package.
var (
	// ErrClosed is returned by operations on a closed Torrent.
	ErrClosed = errors.New("storage: torrent closed")
	// ErrOutOfRange is returned for a negative offset or a write past the
	// end of the byte space.
	ErrOutOfRange = errors.New("storage: offset out of range")
	// ErrBadLayout is returned by Open for an info whose file list is
	// inconsistent (negative lengths, wrong offsets, overflow).
	ErrBadLayout = errors.New("storage: inconsistent file layout")
	// ErrUnsafePath is returned by Open when a file name, the torrent name
	// or a symlink target would resolve outside the download directory.
	ErrUnsafePath = errors.New("storage: unsafe path")
	// ErrBadResume is returned when a completion record is torn, corrupt,
	// or belongs to another torrent. The record is then never trusted.
	ErrBadResume = errors.New("storage: bad completion record")
	// ErrVerify is wrapped by verification errors that concern the hashes
	// themselves (a missing or malformed v2 piece layer).
	ErrVerify = errors.New("storage: cannot verify")
)

// PathError describes an unsafe or unusable path in a torrent's file list.
type PathError struct {
	File int      // index in Info.Files, or -1 for the torrent name
	Path []string // the offending components
	Err  error    // ErrUnsafePath or a more specific cause
}

func (e *PathError) Error() string {
	if e.File < 0 {
		return fmt.Sprintf("storage: torrent name %q: %v", e.Path, e.Err)
	}
	return fmt.Sprintf("storage: file %d %q: %v", e.File, e.Path, e.Err)
}

func (e *PathError) Unwrap() error { return e.Err }
