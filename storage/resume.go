package storage

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
)

// The completion record ("resume file"), big-endian:
//
//	magic "BTRESUM1" | version u32 | info-hash [20] | piece length u64
//	total length u64 | pieces u32 | files u32
//	verified bitfield, ceil(pieces/8) bytes, high bit first (BEP 3 order)
//	per file and then once for the part file: state u8 | size i64 | mtime ns i64
//	SHA-256 of everything above
//
// Crash safety (kill -9 or power loss at any moment):
//   - SaveCompletion syncs every file written so far (and the part file)
//     before it writes the record, so the record never vouches for bytes
//     that are not on stable storage.
//   - The record is written to a temporary file, synced, renamed over the
//     old one, and the directory is synced: a crash leaves either the old
//     record or the new one, never a mix.
//   - Its length is fixed by the torrent and it ends with a SHA-256 of its
//     contents, so a torn or truncated record (a file system that reorders
//     writes, a disk that lies) is rejected as a whole, never half trusted.
//   - Each file's size and modification time at save time are recorded:
//     a file changed since (by us after the save, or by anyone else) makes
//     its verified pieces "Recheck" instead of "Verified". Writes after a
//     save only touch pieces that were not yet verified, so even a change
//     within the file system's timestamp granularity cannot make a bad
//     piece look good: only pieces verified at save time are ever trusted.
const (
	resumeMagic   = "BTRESUM1"
	resumeVersion = 1
	resumeHeader  = 8 + 4 + 20 + 8 + 8 + 4 + 4
	resumeFileRec = 1 + 8 + 8
)

// File states in a completion record.
const (
	stAbsent  = 0 // not on disk
	stFile    = 1 // on disk, size and mtime recorded
	stInPart  = 2 // bytes kept in the part file
	stVirtual = 3 // pad, symlink or empty: nothing to check
)

type fileStat struct {
	state       byte
	size, mtime int64
}

func (t *dirTorrent) resumeLen() int {
	return resumeHeader + (t.l.numPieces+7)/8 + resumeFileRec*(len(t.l.files)+1) + sha256.Size
}

// stats returns the state of every file and, last, of the part file.
func (t *dirTorrent) stats() []fileStat {
	st := make([]fileStat, len(t.l.files)+1)
	stat := func(name string) fileStat {
		fi, err := t.root.Stat(name)
		if err != nil || !fi.Mode().IsRegular() {
			return fileStat{state: stAbsent}
		}
		return fileStat{state: stFile, size: fi.Size(), mtime: fi.ModTime().UnixNano()}
	}
	for i, f := range t.l.files {
		switch {
		case f.pad || f.symlink || f.length == 0:
			st[i].state = stVirtual
		case t.usePart[i]:
			st[i].state = stInPart
		default:
			st[i] = stat(f.name)
		}
	}
	st[len(t.l.files)] = stat(t.part.name)
	return st
}

// SaveCompletion implements CompletionStore. verified must only mark
// pieces whose writes returned before the call.
func (t *dirTorrent) SaveCompletion(ctx context.Context, verified []bool) error {
	if len(verified) != t.l.numPieces {
		return fmt.Errorf("storage: SaveCompletion: %d entries for %d pieces", len(verified), t.l.numPieces)
	}
	t.saveMu.Lock()
	defer t.saveMu.Unlock()
	t.mu.RLock()
	defer t.mu.RUnlock()
	if t.closed {
		return ErrClosed
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := t.flushLocked(); err != nil {
		return err
	}
	if !t.syncedAll {
		// Files written by an earlier process may still sit in the page
		// cache (a kill -9 does not lose it, a power cut does): sync
		// them once before vouching for their pieces.
		if err := t.syncExisting(); err != nil {
			return err
		}
		t.syncedAll = true
	}
	rec := t.encodeResume(verified, t.stats())
	tmp := t.resumeName() + ".tmp"
	if err := writeSynced(t.root, tmp, rec); err != nil {
		_ = t.root.Remove(tmp)
		return fmt.Errorf("storage: save completion: %w", err)
	}
	if err := t.root.Rename(tmp, t.resumeName()); err != nil {
		_ = t.root.Remove(tmp)
		return fmt.Errorf("storage: save completion: %w", err)
	}
	if err := syncDir(t.root); err != nil {
		return fmt.Errorf("storage: save completion: %w", err)
	}
	return nil
}

func (t *dirTorrent) encodeResume(verified []bool, st []fileStat) []byte {
	b := make([]byte, 0, t.resumeLen())
	b = append(b, resumeMagic...)
	b = binary.BigEndian.AppendUint32(b, resumeVersion)
	b = append(b, t.ih[:]...)
	b = binary.BigEndian.AppendUint64(b, uint64(t.l.pieceLen))
	b = binary.BigEndian.AppendUint64(b, uint64(t.l.total))
	b = binary.BigEndian.AppendUint32(b, uint32(t.l.numPieces))
	b = binary.BigEndian.AppendUint32(b, uint32(len(t.l.files)))
	bf := make([]byte, (t.l.numPieces+7)/8)
	for i, v := range verified {
		if v {
			bf[i/8] |= 0x80 >> (i % 8)
		}
	}
	b = append(b, bf...)
	for _, s := range st {
		b = append(b, s.state)
		b = binary.BigEndian.AppendUint64(b, uint64(s.size))
		b = binary.BigEndian.AppendUint64(b, uint64(s.mtime))
	}
	sum := sha256.Sum256(b)
	return append(b, sum[:]...)
}

// decodeResume checks rec against this torrent and returns the saved
// bitfield and file states.
func (t *dirTorrent) decodeResume(rec []byte) ([]bool, []fileStat, error) {
	bad := func(why string) ([]bool, []fileStat, error) {
		return nil, nil, fmt.Errorf("%w: %s", ErrBadResume, why)
	}
	if len(rec) != t.resumeLen() {
		return bad(fmt.Sprintf("length %d, want %d", len(rec), t.resumeLen()))
	}
	body, sum := rec[:len(rec)-sha256.Size], rec[len(rec)-sha256.Size:]
	if want := sha256.Sum256(body); !bytes.Equal(sum, want[:]) {
		return bad("checksum mismatch (torn or corrupt)")
	}
	be := binary.BigEndian
	switch {
	case string(body[:8]) != resumeMagic:
		return bad("not a completion record")
	case be.Uint32(body[8:]) != resumeVersion:
		return bad(fmt.Sprintf("version %d", be.Uint32(body[8:])))
	case !bytes.Equal(body[12:32], t.ih[:]):
		return bad("record of another torrent")
	case int64(be.Uint64(body[32:])) != t.l.pieceLen, int64(be.Uint64(body[40:])) != t.l.total,
		int(be.Uint32(body[48:])) != t.l.numPieces, int(be.Uint32(body[52:])) != len(t.l.files):
		return bad("record of another layout")
	}
	bf := body[resumeHeader : resumeHeader+(t.l.numPieces+7)/8]
	verified := make([]bool, t.l.numPieces)
	for i := range verified {
		verified[i] = bf[i/8]&(0x80>>(i%8)) != 0
	}
	if n := t.l.numPieces; n%8 != 0 && bf[len(bf)-1]&(0xff>>(n%8)) != 0 {
		return bad("spare bits set")
	}
	recs := body[resumeHeader+len(bf):]
	st := make([]fileStat, len(t.l.files)+1)
	for i := range st {
		r := recs[i*resumeFileRec:]
		st[i] = fileStat{state: r[0], size: int64(be.Uint64(r[1:])), mtime: int64(be.Uint64(r[9:]))}
		if st[i].state > stVirtual {
			return bad(fmt.Sprintf("file %d: state %d", i, st[i].state))
		}
	}
	return verified, st, nil
}

// LoadCompletion implements CompletionStore. A missing record yields no
// verified piece; a torn, corrupt or foreign one yields ErrBadResume and
// must be answered with a full recheck.
func (t *dirTorrent) LoadCompletion(ctx context.Context) (*Resume, error) {
	t.mu.RLock()
	defer t.mu.RUnlock()
	if t.closed {
		return nil, ErrClosed
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	r := &Resume{Verified: make([]bool, t.l.numPieces), Recheck: make([]bool, t.l.numPieces)}
	rec, err := readLimited(t.root, t.resumeName(), t.resumeLen())
	if errors.Is(err, fs.ErrNotExist) {
		return r, nil
	}
	if err != nil {
		return nil, fmt.Errorf("storage: load completion: %w", err)
	}
	saved, was, err := t.decodeResume(rec)
	if err != nil {
		return nil, err
	}
	now := t.stats()
	partChanged := now[len(t.l.files)] != was[len(t.l.files)]
	changed := make([]bool, len(t.l.files))
	for i := range t.l.files {
		changed[i] = now[i] != was[i] || (now[i].state == stInPart && partChanged)
	}
	for p, ok := range saved {
		if !ok {
			continue
		}
		off, n := t.l.pieceRange(p)
		stale := false
		_ = t.l.spans(off, int(n), func(s span) error {
			if changed[s.file] {
				stale = true
				return io.EOF
			}
			return nil
		})
		if stale {
			r.Recheck[p] = true
		} else {
			r.Verified[p] = true
		}
	}
	return r, nil
}

// writeSynced writes data to name in root and syncs it.
func writeSynced(root *os.Root, name string, data []byte) error {
	f, err := root.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o666)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		_ = f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		_ = f.Close()
		return err
	}
	return f.Close()
}

// syncDir syncs the directory entries of root, making a rename durable.
func syncDir(root *os.Root) error {
	d, err := root.Open(".")
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}

// readLimited reads name from root, failing if it is longer than limit:
// a record of the wrong size is never read whole.
func readLimited(root *os.Root, name string, limit int) ([]byte, error) {
	f, err := root.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, int64(limit)+1))
	if err != nil {
		return nil, err
	}
	return b, nil
}

// syncExisting syncs every file of the torrent that exists on disk.
func (t *dirTorrent) syncExisting() error {
	var errs []error
	for i, f := range t.l.files {
		if f.pad || f.symlink || f.length == 0 || t.usePart[i] {
			continue
		}
		e, err := t.handle(i, false)
		if err == errNotExist {
			continue
		}
		if err == nil {
			err = e.f.Sync()
			t.pool.put(e)
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("storage: sync %s: %w", f.name, err))
		}
	}
	if err := t.part.syncFile(t.root); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}
