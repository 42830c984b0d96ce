package storage

import (
	"context"
	"io"
	"sync"

	"github.com/bittern/bittern/metainfo"
)

// memChunk is the allocation unit of the Memory backend: untouched chunks
// cost nothing, so a large torrent can be opened in memory.
const memChunk = 64 << 10

// Memory is a Storage that keeps torrents in memory, for tests and
// examples. Data and completion records survive Close and are found again
// by a later Open with the same info-hash, until Delete. The zero value is
// ready to use and safe for concurrent use.
type Memory struct {
	mu       sync.Mutex
	torrents map[metainfo.Hash]*memData
}

type memData struct {
	mu         sync.RWMutex
	total      int64
	chunks     map[int64][]byte
	completion []bool
}

// Open implements Storage.
func (m *Memory) Open(ctx context.Context, info *metainfo.Info, ih metainfo.Hash) (Torrent, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	l, err := newLayout(info)
	if err != nil {
		return nil, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.torrents == nil {
		m.torrents = make(map[metainfo.Hash]*memData)
	}
	d := m.torrents[ih]
	if d == nil || d.total != l.total {
		d = &memData{total: l.total, chunks: make(map[int64][]byte)}
		m.torrents[ih] = d
	}
	return &memTorrent{l: l, d: d}, nil
}

// Delete forgets the data of the torrent ih.
func (m *Memory) Delete(ih metainfo.Hash) {
	m.mu.Lock()
	delete(m.torrents, ih)
	m.mu.Unlock()
}

type memTorrent struct {
	l      *layout
	d      *memData
	mu     sync.RWMutex // guards closed
	closed bool
}

var (
	_ Torrent         = (*memTorrent)(nil)
	_ CompletionStore = (*memTorrent)(nil)
	_ Flusher         = (*memTorrent)(nil)
)

func (t *memTorrent) ReadAt(p []byte, off int64) (int, error) {
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
	var err error
	if int64(n) > t.l.total-off {
		n, err = int(t.l.total-off), io.EOF
	}
	t.d.mu.RLock()
	defer t.d.mu.RUnlock()
	_ = t.l.spans(off, n, func(s span) error {
		if t.l.files[s.file].pad {
			clear(p[s.lo:s.hi])
			return nil
		}
		t.d.read(p[s.lo:s.hi], off+int64(s.lo))
		return nil
	})
	return n, err
}

func (d *memData) read(p []byte, off int64) {
	for len(p) > 0 {
		c, co := off/memChunk, off%memChunk
		m := min(int64(len(p)), memChunk-co)
		if b := d.chunks[c]; b != nil {
			copy(p[:m], b[co:])
		} else {
			clear(p[:m])
		}
		p, off = p[m:], off+m
	}
}

func (d *memData) write(p []byte, off int64) {
	for len(p) > 0 {
		c, co := off/memChunk, off%memChunk
		m := min(int64(len(p)), memChunk-co)
		b := d.chunks[c]
		if b == nil {
			b = make([]byte, memChunk)
			d.chunks[c] = b
		}
		copy(b[co:], p[:m])
		p, off = p[m:], off+m
	}
}

func (t *memTorrent) WriteAt(p []byte, off int64) (int, error) {
	t.mu.RLock()
	defer t.mu.RUnlock()
	if t.closed {
		return 0, ErrClosed
	}
	if off < 0 || int64(len(p)) > t.l.total-off {
		return 0, ErrOutOfRange
	}
	t.d.mu.Lock()
	defer t.d.mu.Unlock()
	_ = t.l.spans(off, len(p), func(s span) error {
		if !t.l.files[s.file].pad {
			t.d.write(p[s.lo:s.hi], off+int64(s.lo))
		}
		return nil
	})
	return len(p), nil
}

// Flush implements Flusher; memory needs no flushing.
func (t *memTorrent) Flush() error {
	t.mu.RLock()
	defer t.mu.RUnlock()
	if t.closed {
		return ErrClosed
	}
	return nil
}

// SaveCompletion implements CompletionStore.
func (t *memTorrent) SaveCompletion(ctx context.Context, verified []bool) error {
	t.mu.RLock()
	defer t.mu.RUnlock()
	if t.closed {
		return ErrClosed
	}
	if len(verified) != t.l.numPieces {
		return ErrOutOfRange
	}
	t.d.mu.Lock()
	t.d.completion = append([]bool(nil), verified...)
	t.d.mu.Unlock()
	return nil
}

// LoadCompletion implements CompletionStore.
func (t *memTorrent) LoadCompletion(ctx context.Context) (*Resume, error) {
	t.mu.RLock()
	defer t.mu.RUnlock()
	if t.closed {
		return nil, ErrClosed
	}
	r := &Resume{Verified: make([]bool, t.l.numPieces), Recheck: make([]bool, t.l.numPieces)}
	t.d.mu.RLock()
	copy(r.Verified, t.d.completion)
	t.d.mu.RUnlock()
	return r, nil
}

func (t *memTorrent) Close() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return ErrClosed
	}
	t.closed = true
	return nil
}
