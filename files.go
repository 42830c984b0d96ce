package bittern

import (
	"errors"
	"fmt"
	"path"
	"sync"

	"github.com/bittern/bittern/metainfo"
	"github.com/bittern/bittern/piecepicker"
	"github.com/bittern/bittern/storage"
)

// Priority is a file's download priority: PrioritySkip means "do not
// download", PriorityLow to PriorityHigh rank the files that are, higher
// first. It is piecepicker's priority, so values 0 to 7 are valid.
type Priority = piecepicker.Priority

// File priorities.
const (
	// PrioritySkip files are not downloaded, and not created on disk by
	// storages that can skip files (storage.FileSelector): the bytes of
	// pieces they share with wanted files go to a part file.
	PrioritySkip = piecepicker.Skip
	// PriorityLow files are downloaded after all others.
	PriorityLow = piecepicker.Low
	// PriorityNormal is every file's priority unless set otherwise.
	PriorityNormal = piecepicker.Normal
	// PriorityHigh files are downloaded before all others.
	PriorityHigh = piecepicker.High
)

// ErrBadPriority is returned for a file priority above PriorityHigh.
var ErrBadPriority = errors.New("bittern: priority out of range")

// File is one file of a torrent, as listed by Torrent.Files. Its methods
// are safe for concurrent use.
type File struct {
	t      *Torrent
	index  int
	path   string
	offset int64
	length int64
	pad    bool
}

// Index returns the file's position in the torrent's file list
// (metainfo.Info.Files, pad files included): the index BEP 53 magnet links
// ("so=") and TorrentOptions.FilePriorities use.
func (f *File) Index() int { return f.index }

// Path returns the file's path within the torrent, slash-separated: the
// torrent's name for a single-file torrent, else the name followed by the
// file's path components.
func (f *File) Path() string { return f.path }

// Offset returns where the file starts in the torrent's byte space.
func (f *File) Offset() int64 { return f.offset }

// Length returns the file's size in bytes.
func (f *File) Length() int64 { return f.length }

// Pad reports a BEP 47 pad file: it is never written to disk and reads as
// zeros. Its priority follows the file before it.
func (f *File) Pad() bool { return f.pad }

// BytesCompleted returns how many bytes of the file lie in verified pieces.
// It does not block.
func (f *File) BytesCompleted() int64 {
	if f.length == 0 {
		return 0
	}
	pl := f.t.info.PieceLength
	end := f.offset + f.length
	var n int64
	for i := int(f.offset / pl); int64(i)*pl < end; i++ {
		if f.t.verified.has(i) {
			lo, hi := max(int64(i)*pl, f.offset), min(int64(i+1)*pl, end)
			n += hi - lo
		}
	}
	return n
}

// Priority returns the file's priority.
func (f *File) Priority() Priority {
	f.t.sel.mu.Lock()
	defer f.t.sel.mu.Unlock()
	return f.t.sel.prios[f.index]
}

// SetPriority sets the file's priority; see Torrent.SetFilePriorities.
func (f *File) SetPriority(p Priority) error {
	return f.t.updatePriorities(func(prios []Priority) error {
		if p > piecepicker.MaxPrio {
			return fmt.Errorf("%w: priority %d", ErrBadPriority, p)
		}
		prios[f.index] = p
		return nil
	})
}

// NewReader returns a Reader of the file's bytes; see Torrent.NewReader.
func (f *File) NewReader() *Reader { return f.t.newReader(f.offset, f.length) }

// Files returns the torrent's files, in the order of its file list
// (metainfo.Info.Files, pad files included); nil until a magnet's
// metadata has arrived (see StartMagnet).
func (t *Torrent) Files() []*File {
	if !t.hasInfo() {
		return nil
	}
	return append([]*File(nil), t.files...)
}

// SetFilePriorities sets the priority of every file at once: prios[i] is
// that of Files()[i]; files past the end of prios get PriorityNormal and
// entries past the last file are ignored. It returns ErrBadPriority for a
// priority above PriorityHigh.
//
// Pieces take the highest priority of the files they overlap, so a piece
// shared by a wanted and a skipped file is downloaded. Skipped files are
// not created by storages that can skip files (storage.FileSelector, as
// storage.Dir does); selecting a skipped file again moves the bytes kept
// for it into place, so this call may do disk I/O. Completion (Wait,
// Complete, Stats().Complete) means every piece of the selected files is
// verified; selecting more files afterwards reopens it. Pieces already
// verified stay and are seeded. Before a magnet's metadata has arrived
// (see StartMagnet) it returns ErrNoInfo: use TorrentOptions.FilePriorities.
func (t *Torrent) SetFilePriorities(prios []Priority) error {
	return t.updatePriorities(func(cur []Priority) error {
		for i := range cur {
			p := PriorityNormal
			if i < len(prios) {
				p = prios[i]
			}
			if p > piecepicker.MaxPrio {
				return fmt.Errorf("%w: file %d: priority %d", ErrBadPriority, i, p)
			}
			cur[i] = p
		}
		return nil
	})
}

// selection is a torrent's file priorities. Its mutex orders the changes
// made by concurrent callers: the storage and the owner see them in the
// order they were made.
type selection struct {
	mu    sync.Mutex
	prios []Priority // per file
}

// initFiles builds the file list and the readers' view of verified pieces
// and applies the priorities of TorrentOptions. It runs before the owner
// starts, so it may touch the picker.
func (t *Torrent) initFiles(prios []Priority) error {
	t.verified = newPieceSignal(t.info.NumPieces())
	for i := range t.info.NumPieces() {
		if t.picker.HasPiece(i) {
			t.verified.set(i)
		}
	}
	t.files = make([]*File, len(t.info.Files))
	t.sel.prios = make([]Priority, len(t.info.Files))
	for i, mf := range t.info.Files {
		p := t.info.Name
		if !t.info.SingleFile {
			p = path.Join(append([]string{t.info.Name}, mf.Path...)...)
		}
		t.files[i] = &File{t: t, index: i, path: p, offset: mf.Offset, length: mf.Length, pad: mf.Pad}
		t.sel.prios[i] = PriorityNormal
	}
	defer t.noteLeft()
	if prios == nil {
		return nil
	}
	for i := range t.sel.prios {
		if i < len(prios) {
			if prios[i] > piecepicker.MaxPrio {
				return fmt.Errorf("%w: file %d: priority %d", ErrBadPriority, i, prios[i])
			}
			t.sel.prios[i] = prios[i]
		}
	}
	piecePrios, err := t.applySelection()
	if err != nil {
		return err
	}
	if err := t.picker.SetPriorities(piecePrios); err != nil {
		return fmt.Errorf("bittern: %w", err)
	}
	if t.picker.Done() {
		t.markComplete()
	}
	return nil
}

// updatePriorities changes the file priorities with edit, tells the
// storage which files are wanted and the owner the new piece priorities.
func (t *Torrent) updatePriorities(edit func(prios []Priority) error) error {
	if !t.hasInfo() {
		return ErrNoInfo
	}
	t.sel.mu.Lock()
	defer t.sel.mu.Unlock()
	next := append([]Priority(nil), t.sel.prios...)
	if err := edit(next); err != nil {
		return err
	}
	old := t.sel.prios
	t.sel.prios = next
	piecePrios, err := t.applySelection()
	if err != nil {
		t.sel.prios = old
		return err
	}
	incomplete := false
	for i, p := range piecePrios {
		if p > PrioritySkip && !t.verified.has(i) {
			incomplete = true
			break
		}
	}
	t.done.beginChange(incomplete)
	t.inbox.post(func() { t.setPiecePriorities(piecePrios) })
	return nil
}

// applySelection tells the storage which files are wanted and returns the
// piece priorities the file priorities give. The caller holds sel.mu.
func (t *Torrent) applySelection() ([]Priority, error) {
	files := make([]piecepicker.File, len(t.files))
	wanted := make([]bool, len(t.files))
	prev := PrioritySkip
	for i, f := range t.files {
		p := t.sel.prios[i]
		if f.pad {
			p = prev
		}
		if f.length > 0 { // a pad follows the last file with data (v2: an empty file may come between)
			prev = p
		}
		files[i] = piecepicker.File{Offset: f.offset, Length: f.length, Priority: p}
		wanted[i] = p > PrioritySkip
	}
	if fs, ok := t.st.(storage.FileSelector); ok {
		if err := fs.SetWantedFiles(wanted); err != nil {
			return nil, fmt.Errorf("bittern: select files: %w", err)
		}
	}
	prios, err := piecepicker.PiecePriorities(files, t.info.PieceLength, t.info.TotalLength())
	if err != nil {
		return nil, fmt.Errorf("bittern: %w", err)
	}
	return prios, nil
}

// setPiecePriorities runs on the owner: it applies new piece priorities,
// updates interest in every peer, and completion.
func (t *Torrent) setPiecePriorities(prios []Priority) {
	err := t.picker.SetPriorities(prios)
	t.noteLeft()
	t.done.endChange(t.picker.Done())
	if err != nil {
		t.log.Warn("set priorities", "err", err)
		return
	}
	for c := range t.conns {
		t.updateInterest(c)
	}
	if t.picker.Done() {
		t.onComplete()
		return
	}
	t.syncUploadOnly() // more files selected: no longer upload-only
	t.requestAll()
}

// magnetPriorities returns the file priorities a BEP 53 magnet link's
// "so=" selects for info: PriorityNormal for selected files, PrioritySkip
// for the others; nil if the link selects nothing. Indexes past the last
// file are ignored. Cost: O(ranges + files), whatever the ranges span.
func magnetPriorities(m *metainfo.Magnet, info *metainfo.Info) []Priority {
	if len(m.SelectOnly) == 0 || info == nil {
		return nil
	}
	n := len(info.Files)
	// Mark range starts and ends, then sweep.
	delta := make([]int, n+1)
	for _, r := range m.SelectOnly {
		lo, hi := max(r.First, 0), min(r.Last, n-1)
		if lo > hi {
			continue
		}
		delta[lo]++
		delta[hi+1]--
	}
	prios := make([]Priority, n)
	open := 0
	for i := range prios {
		open += delta[i]
		if open > 0 {
			prios[i] = PriorityNormal
		}
	}
	return prios
}
