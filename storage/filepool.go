package storage

import (
	"container/list"
	"errors"
	"io/fs"
	"os"
	"sync"
)

// DefaultMaxOpenFiles is the size of Dir's pool of open files when
// Dir.MaxOpenFiles is zero.
const DefaultMaxOpenFiles = 32

// filePool keeps at most max files open across all the torrents of a
// Dir, evicting the least recently used one that no I/O is using. Handles
// are reference counted so an evicted file is closed only when its last
// user is done.
type filePool struct {
	mu    sync.Mutex
	max   int
	lru   *list.List // of *poolEntry, front = most recent
	byKey map[poolKey]*list.Element
}

// poolKey names one file of one open torrent.
type poolKey struct {
	owner *dirTorrent
	file  int
}

type poolEntry struct {
	key      poolKey
	f        *os.File
	writable bool
	refs     int
	evicted  bool
	closeErr error
}

func newFilePool(max int) *filePool {
	if max <= 0 {
		max = DefaultMaxOpenFiles
	}
	return &filePool{max: max, lru: list.New(), byKey: make(map[poolKey]*list.Element)}
}

// errNotExist is returned by get for a file that does not exist when it
// was asked for reading only.
var errNotExist = fs.ErrNotExist

// get returns an open handle for file key, opening it with open when it is
// not in the pool (or only open read-only while write is wanted). The
// caller must call put with the entry when done.
func (p *filePool) get(key poolKey, write bool, open func(write bool) (*os.File, bool, error)) (*poolEntry, error) {
	p.mu.Lock()
	if el, ok := p.byKey[key]; ok {
		e := el.Value.(*poolEntry)
		if e.writable || !write {
			e.refs++
			p.lru.MoveToFront(el)
			p.mu.Unlock()
			return e, nil
		}
		// Reopen for writing: drop the read-only handle.
		p.removeLocked(el)
	}
	p.mu.Unlock()

	f, writable, err := open(write)
	if err != nil {
		return nil, err
	}
	e := &poolEntry{key: key, f: f, writable: writable, refs: 1}
	p.mu.Lock()
	if el, ok := p.byKey[key]; ok {
		// Another goroutine opened it meanwhile; keep the better handle.
		old := el.Value.(*poolEntry)
		if old.writable || !writable {
			old.refs++
			p.lru.MoveToFront(el)
			p.mu.Unlock()
			_ = f.Close()
			return old, nil
		}
		p.removeLocked(el)
	}
	p.byKey[key] = p.lru.PushFront(e)
	p.evictLocked()
	p.mu.Unlock()
	return e, nil
}

// put releases a handle obtained from get.
func (p *filePool) put(e *poolEntry) {
	p.mu.Lock()
	e.refs--
	if e.refs == 0 && e.evicted {
		e.closeErr = e.f.Close()
	}
	p.mu.Unlock()
}

func (p *filePool) removeLocked(el *list.Element) {
	e := el.Value.(*poolEntry)
	p.lru.Remove(el)
	delete(p.byKey, e.key)
	e.evicted = true
	if e.refs == 0 {
		e.closeErr = e.f.Close()
	}
}

func (p *filePool) evictLocked() {
	for el := p.lru.Back(); el != nil && p.lru.Len() > p.max; {
		prev := el.Prev()
		if el.Value.(*poolEntry).refs == 0 {
			p.removeLocked(el)
		}
		el = prev
	}
}

// closeOwner closes every handle of owner. It must be called with none of
// owner's I/O in flight.
func (p *filePool) closeOwner(owner *dirTorrent) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	var errs []error
	for el := p.lru.Front(); el != nil; {
		next := el.Next()
		e := el.Value.(*poolEntry)
		if e.key.owner != owner {
			el = next
			continue
		}
		p.removeLocked(el)
		if e.closeErr != nil && !errors.Is(e.closeErr, os.ErrClosed) {
			errs = append(errs, e.closeErr)
		}
		el = next
	}
	return errors.Join(errs...)
}

// drop closes and forgets the handle of key, if any.
func (p *filePool) drop(key poolKey) {
	p.mu.Lock()
	if el, ok := p.byKey[key]; ok {
		p.removeLocked(el)
	}
	p.mu.Unlock()
}

// len returns the number of pooled handles.
func (p *filePool) len() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.lru.Len()
}
