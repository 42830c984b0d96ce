package storage

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"sync"
)

// The part file keeps the bytes of deselected files that belong to pieces
// the session downloads anyway (boundary pieces shared with a wanted
// file), so deselected files are never created. Layout:
//
//	magic "BTPARTS1" | piece length u64 | pieces u32 | reserved u32
//	slot table: one u32 per piece, 0 = no slot, else slot index + 1
//	padding to a 4 KiB boundary
//	slots: one piece length each, at dataStart + slot*pieceLength
//
// A piece's data is written before its table entry, so a crash can leave
// a slot whose table entry is missing (the slot is lost, the piece is
// re-downloaded) but never a table entry pointing at garbage that a saved
// completion record vouches for: records are written only after Flush.
const (
	partMagic     = "BTPARTS1"
	partHeaderLen = 24
	partAlign     = 4096
)

type partFile struct {
	mu        sync.Mutex
	name      string // in the download directory
	pieceLen  int64
	numPieces int
	f         *os.File
	loaded    bool
	slots     []uint32 // piece -> slot+1
	free      []uint32 // free slot indices
	next      uint32   // first never-used slot
	dirty     bool
}

func newPartFile(name string, pieceLen int64, numPieces int) *partFile {
	return &partFile{name: name, pieceLen: pieceLen, numPieces: numPieces}
}

func (p *partFile) dataStart() int64 {
	n := int64(partHeaderLen) + 4*int64(p.numPieces)
	return (n + partAlign - 1) / partAlign * partAlign
}

// load reads the slot table from disk (once). A missing part file is
// empty; a malformed one is discarded: its bytes were never vouched for.
func (p *partFile) load(root *os.Root) error {
	if p.loaded {
		return nil
	}
	p.slots = make([]uint32, p.numPieces)
	p.free, p.next = nil, 0
	f, err := root.OpenFile(p.name, os.O_RDWR, 0)
	if errors.Is(err, fs.ErrNotExist) {
		p.loaded = true
		return nil
	}
	if err != nil {
		return fmt.Errorf("storage: part file: %w", err)
	}
	p.f = f
	if !p.readTable() {
		// Not ours or torn: start over.
		if err := f.Truncate(0); err != nil {
			return fmt.Errorf("storage: part file: %w", err)
		}
		clear(p.slots)
		if err := p.writeHeader(); err != nil {
			return err
		}
	}
	p.loaded = true
	return nil
}

func (p *partFile) readTable() bool {
	buf := make([]byte, partHeaderLen+4*p.numPieces)
	if _, err := p.f.ReadAt(buf, 0); err != nil {
		return false
	}
	if string(buf[:8]) != partMagic || int64(binary.BigEndian.Uint64(buf[8:])) != p.pieceLen ||
		int(binary.BigEndian.Uint32(buf[16:])) != p.numPieces {
		return false
	}
	used := make(map[uint32]bool)
	for i := range p.slots {
		s := binary.BigEndian.Uint32(buf[partHeaderLen+4*i:])
		if s == 0 {
			continue
		}
		if s > uint32(p.numPieces) || used[s-1] {
			return false
		}
		used[s-1] = true
		p.slots[i] = s
		p.next = max(p.next, s)
	}
	for s := uint32(0); s < p.next; s++ {
		if !used[s] {
			p.free = append(p.free, s)
		}
	}
	return true
}

func (p *partFile) writeHeader() error {
	buf := make([]byte, partHeaderLen+4*p.numPieces)
	copy(buf, partMagic)
	binary.BigEndian.PutUint64(buf[8:], uint64(p.pieceLen))
	binary.BigEndian.PutUint32(buf[16:], uint32(p.numPieces))
	for i, s := range p.slots {
		binary.BigEndian.PutUint32(buf[partHeaderLen+4*i:], s)
	}
	if _, err := p.f.WriteAt(buf, 0); err != nil {
		return fmt.Errorf("storage: part file: %w", err)
	}
	return nil
}

func (p *partFile) create(root *os.Root) error {
	if p.f != nil {
		return nil
	}
	f, err := root.OpenFile(p.name, os.O_RDWR|os.O_CREATE, 0o666)
	if err != nil {
		return fmt.Errorf("storage: part file: %w", err)
	}
	p.f = f
	return p.writeHeader()
}

func (p *partFile) setSlot(piece int, s uint32) error {
	p.slots[piece] = s
	var b [4]byte
	binary.BigEndian.PutUint32(b[:], s)
	if _, err := p.f.WriteAt(b[:], partHeaderLen+4*int64(piece)); err != nil {
		return fmt.Errorf("storage: part file: %w", err)
	}
	return nil
}

// has reports whether piece has a slot.
func (p *partFile) has(root *os.Root, piece int) (bool, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if err := p.load(root); err != nil {
		return false, err
	}
	return p.slots[piece] != 0, nil
}

// readAt fills b with the bytes at off inside piece; bytes never written
// read as zeros.
func (p *partFile) readAt(root *os.Root, b []byte, piece int, off int64) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if err := p.load(root); err != nil {
		return err
	}
	s := p.slots[piece]
	if s == 0 {
		clear(b)
		return nil
	}
	n, err := p.f.ReadAt(b, p.dataStart()+int64(s-1)*p.pieceLen+off)
	if err == io.EOF {
		clear(b[n:])
		err = nil
	}
	if err != nil {
		return fmt.Errorf("storage: part file: %w", err)
	}
	return nil
}

// writeAt stores b at off inside piece, allocating a slot if needed.
func (p *partFile) writeAt(root *os.Root, b []byte, piece int, off int64) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if err := p.load(root); err != nil {
		return err
	}
	if err := p.create(root); err != nil {
		return err
	}
	s := p.slots[piece]
	fresh := s == 0
	if fresh {
		if n := len(p.free); n > 0 {
			s = p.free[n-1] + 1
			p.free = p.free[:n-1]
		} else {
			p.next++
			s = p.next
		}
	}
	p.dirty = true
	if _, err := p.f.WriteAt(b, p.dataStart()+int64(s-1)*p.pieceLen+off); err != nil {
		return fmt.Errorf("storage: part file: %w", err)
	}
	if fresh {
		return p.setSlot(piece, s)
	}
	return nil
}

// release frees piece's slot.
func (p *partFile) release(root *os.Root, piece int) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if err := p.load(root); err != nil {
		return err
	}
	s := p.slots[piece]
	if s == 0 {
		return nil
	}
	if err := p.setSlot(piece, 0); err != nil {
		return err
	}
	p.free = append(p.free, s-1)
	p.dirty = true
	return nil
}

// empty reports whether no piece has a slot.
func (p *partFile) empty() bool {
	for _, s := range p.slots {
		if s != 0 {
			return false
		}
	}
	return true
}

// sync flushes the part file if it was written.
func (p *partFile) sync() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.f == nil || !p.dirty {
		return nil
	}
	if err := p.f.Sync(); err != nil {
		return fmt.Errorf("storage: part file: %w", err)
	}
	p.dirty = false
	return nil
}

// syncFile syncs the part file if it exists, written by us or not.
func (p *partFile) syncFile(root *os.Root) error {
	p.mu.Lock()
	if err := p.load(root); err != nil {
		p.mu.Unlock()
		return err
	}
	p.dirty = p.f != nil
	p.mu.Unlock()
	return p.sync()
}

// close closes the part file, removing it when no slot is in use. The
// table is reloaded on next use (after a Move, from the new directory).
func (p *partFile) close(root *os.Root) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.f == nil {
		p.loaded = false
		return nil
	}
	var errs []error
	if p.dirty {
		errs = append(errs, p.f.Sync())
	}
	errs = append(errs, p.f.Close())
	if p.loaded && p.empty() {
		if err := root.Remove(p.name); err != nil && !errors.Is(err, fs.ErrNotExist) {
			errs = append(errs, err)
		}
	}
	p.f, p.loaded, p.dirty = nil, false, false
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("storage: part file: %w", err)
	}
	return nil
}
