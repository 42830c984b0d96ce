package bittern

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"
)

// DefaultReadahead is how many bytes past its position a Reader asks for
// ahead of time, unless SetReadahead says otherwise.
const DefaultReadahead = 4 << 20

// MaxReadaheadPieces caps the pieces one Reader's readahead covers; a
// larger readahead asks for this many.
const MaxReadaheadPieces = 512

// streamStep is how far apart the deadlines of consecutive pieces of a
// reader's window are: the piece under the reader is due now, the next
// one streamStep later, and so on.
const streamStep = 500 * time.Millisecond

// Errors of Reader.
var (
	// ErrReaderClosed is returned by the methods of a closed Reader, and
	// by reads blocked when it is closed.
	ErrReaderClosed = errors.New("bittern: reader closed")
	// ErrNegativeOffset is returned by Seek and ReadAt for a position
	// before the start.
	ErrNegativeOffset = errors.New("bittern: negative offset")
)

// Reader reads a torrent's data (all of it, or one file) while it
// downloads. A read blocks until the piece under the read position is
// verified, and moves the download to the reader: the pieces from its
// position through its readahead get deadlines (the picker's streaming
// mode), earliest first, ahead of every other piece. The windows of
// several readers of one torrent are combined. Data is read from the
// torrent's storage. Reading fetches what is read even in files that are
// not selected (PrioritySkip): the pieces of the window are downloaded,
// not the rest of the file, and storage.Dir keeps their bytes in its part
// file without creating the file. Such pieces do not count toward
// completion: Complete and Wait still mean every piece of the selected
// files is verified, whatever readers fetch.
//
// It is an io.ReadSeekCloser and an io.ReaderAt, so http.ServeContent can
// serve it (Seek with io.SeekEnd gives the size). Read, ReadContext and
// Seek share one position and must not be called concurrently; ReadAt,
// SetContext, SetReadahead and Close may be called at any time. A read
// blocked waiting for data ends with the error of its context (see
// SetContext and ReadContext), ErrReaderClosed when the Reader is closed,
// or ErrClosed when the torrent is closed or removed.
type Reader struct {
	t      *Torrent
	off    int64 // start of the range in the torrent's byte space
	length int64

	closed    chan struct{}
	closeOnce sync.Once

	mu        sync.Mutex
	pos       int64
	readahead int64
	ctx       context.Context
	posted    streamWindow // the window last told to the owner
}

// streamWindow is the pieces a reader wants next: count pieces from piece
// from.
type streamWindow struct{ from, count int }

// NewReader returns a Reader of the torrent's whole byte space (its files
// in order). Close it when done: until then its read position keeps
// priority over the rest of the download. Before a magnet's metadata has
// arrived (see StartMagnet) the size is unknown: the Reader is empty.
func (t *Torrent) NewReader() *Reader {
	if !t.hasInfo() {
		return t.newReader(0, 0)
	}
	return t.newReader(0, t.info.TotalLength())
}

func (t *Torrent) newReader(off, length int64) *Reader {
	return &Reader{
		t:         t,
		off:       off,
		length:    length,
		closed:    make(chan struct{}),
		readahead: DefaultReadahead,
		ctx:       context.Background(),
		posted:    streamWindow{from: -1},
	}
}

// SetContext sets the context of Read and ReadAt: when it ends, a read
// waiting for data returns its error. A nil ctx means
// context.Background, the initial value. An HTTP handler passes the
// request's context.
func (r *Reader) SetContext(ctx context.Context) {
	if ctx == nil {
		ctx = context.Background()
	}
	r.mu.Lock()
	r.ctx = ctx
	r.mu.Unlock()
}

// SetReadahead sets how many bytes past the read position are asked for
// ahead of time (DefaultReadahead initially; at most MaxReadaheadPieces
// pieces). Zero or less asks only for the piece under the position. It
// applies from the next read.
func (r *Reader) SetReadahead(n int64) {
	r.mu.Lock()
	r.readahead = max(n, 0)
	r.mu.Unlock()
}

// Read reads up to len(p) bytes at the read position and advances it. It
// blocks until the piece under the position is verified; then it returns
// what the verified pieces from there hold, without waiting for more. At
// the end of the data it returns io.EOF.
func (r *Reader) Read(p []byte) (int, error) { return r.ReadContext(r.context(), p) }

// ReadContext is Read with a context for this call instead of the one set
// by SetContext.
func (r *Reader) ReadContext(ctx context.Context, p []byte) (int, error) {
	r.mu.Lock()
	pos := r.pos
	r.mu.Unlock()
	n, err := r.readAt(ctx, p, pos, false)
	r.mu.Lock()
	r.pos = pos + int64(n)
	r.mu.Unlock()
	return n, err
}

// ReadAt reads len(p) bytes at offset off (relative to the start of the
// Reader's data), waiting for every piece they lie in, as io.ReaderAt
// requires; fewer bytes come with io.EOF at the end of the data. It does
// not move the read position, but the download follows it as it does
// Read.
func (r *Reader) ReadAt(p []byte, off int64) (int, error) {
	return r.readAt(r.context(), p, off, true)
}

// Seek sets the read position for the next Read, as io.Seeker does:
// relative to the start (io.SeekStart), the current position
// (io.SeekCurrent) or the end (io.SeekEnd) of the data. A position past
// the end is allowed (Read returns io.EOF); before the start it is
// ErrNegativeOffset. Seeking does not block and does not move the
// download: the next read does.
func (r *Reader) Seek(offset int64, whence int) (int64, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	var base int64
	switch whence {
	case io.SeekStart:
	case io.SeekCurrent:
		base = r.pos
	case io.SeekEnd:
		base = r.length
	default:
		return r.pos, fmt.Errorf("bittern: seek: invalid whence %d", whence)
	}
	if offset > 0 && base+offset < base {
		return r.pos, fmt.Errorf("bittern: seek: position overflows")
	}
	if base+offset < 0 {
		return r.pos, ErrNegativeOffset
	}
	r.pos = base + offset
	return r.pos, nil
}

// Size returns the length of the Reader's data.
func (r *Reader) Size() int64 { return r.length }

// Close ends the Reader: reads blocked in it return ErrReaderClosed, and
// its window no longer steers the download. It always returns nil.
func (r *Reader) Close() error {
	r.closeOnce.Do(func() {
		close(r.closed)
		r.t.inbox.post(func() { r.t.streamGone(r) })
	})
	return nil
}

func (r *Reader) context() context.Context {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.ctx
}

// readAt reads p at pos. With full it fills p (or reaches the end);
// otherwise it returns after the first piece unless the next ones are
// already verified.
func (r *Reader) readAt(ctx context.Context, p []byte, pos int64, full bool) (int, error) {
	select {
	case <-r.closed:
		return 0, ErrReaderClosed
	default:
	}
	if pos < 0 {
		return 0, ErrNegativeOffset
	}
	if len(p) == 0 {
		return 0, nil
	}
	pl := r.t.info.PieceLength
	n := 0
	for n < len(p) {
		if pos >= r.length {
			return n, io.EOF
		}
		abs := r.off + pos
		piece := int(abs / pl)
		if !full && n > 0 && !r.t.verified.has(piece) {
			break
		}
		r.follow(piece, abs)
		if err := r.wait(ctx, piece); err != nil {
			return n, err
		}
		m := int(min(int64(len(p)-n), int64(piece+1)*pl-abs, r.length-pos))
		k, err := r.t.st.ReadAt(p[n:n+m], abs)
		n += k
		pos += int64(k)
		if err != nil && (k < m || err != io.EOF) {
			if r.t.ctx.Err() != nil {
				return n, ErrClosed
			}
			return n, fmt.Errorf("bittern: read: %w", err)
		}
	}
	return n, nil
}

// follow tells the owner the reader's window when it moved.
func (r *Reader) follow(piece int, abs int64) {
	pl := r.t.info.PieceLength
	r.mu.Lock()
	end := min(abs+r.readahead, r.off+r.length)
	last := int(max(end-1, abs) / pl)
	w := streamWindow{from: piece, count: min(last-piece+1, MaxReadaheadPieces)}
	moved := w != r.posted
	r.posted = w
	r.mu.Unlock()
	if moved {
		r.t.inbox.post(func() { r.t.streamMoved(r, w) })
	}
}

// wait blocks until piece is verified or the read must end.
func (r *Reader) wait(ctx context.Context, piece int) error {
	for {
		if r.t.verified.has(piece) {
			return nil
		}
		changed := r.t.verified.changed()
		if r.t.verified.has(piece) {
			return nil
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return ctx.Err()
		case <-r.closed:
			return ErrReaderClosed
		case <-r.t.ctx.Done():
			return ErrClosed
		}
	}
}

// streamMoved runs on the owner when a reader's window moved.
func (t *Torrent) streamMoved(r *Reader, w streamWindow) {
	select {
	case <-r.closed:
		return // its streamGone is queued after this
	default:
	}
	if t.streams == nil {
		t.streams = make(map[*Reader]streamWindow)
	}
	t.streams[r] = w
	t.updateDeadlines()
}

// streamGone runs on the owner when a reader is closed.
func (t *Torrent) streamGone(r *Reader) {
	if _, ok := t.streams[r]; !ok {
		return
	}
	delete(t.streams, r)
	t.updateDeadlines()
}

// updateDeadlines gives the pieces of every reader's window a deadline:
// piece k of a window is due k*streamStep from now, and a piece in several
// windows takes the earliest. Then the peers' pipelines are topped up
// with them.
func (t *Torrent) updateDeadlines() {
	wanted := t.wantsData()
	t.picker.ClearDeadlines()
	now := time.Now()
	n := t.picker.NumPieces()
	due := make(map[int]time.Time)
	for _, w := range t.streams {
		for k := range w.count {
			i := w.from + k
			if i >= n {
				break
			}
			if t.picker.HasPiece(i) {
				continue
			}
			at := now.Add(time.Duration(k) * streamStep)
			if old, ok := due[i]; !ok || at.Before(old) {
				due[i] = at
			}
		}
	}
	for i, at := range due {
		if err := t.picker.SetDeadline(i, at); err != nil {
			t.log.Warn("deadline", "piece", i, "err", err)
		}
	}
	t.demandChanged(wanted)
	t.requestAll()
}
