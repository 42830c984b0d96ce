// Package storagetest checks that an implementation of storage.Storage
// behaves as the rest of bittern expects, like testing/fstest does for
// fs.FS. Run it from a test of the implementation:
//
//	func TestMyStorage(t *testing.T) {
//		storagetest.Run(t, func(t *testing.T) storage.Storage {
//			return mystorage.New(t.TempDir())
//		})
//	}
//
// newStorage is called once per subtest and must return an empty storage.
// Optional capabilities (storage.Flusher, storage.CompletionStore,
// storage.FileSelector, storage.Mover, storage.Preallocator) are tested
// when the opened torrent implements them.
package storagetest

import (
	"bytes"
	"context"
	"errors"
	"io"
	"math/rand/v2"
	"sync"
	"testing"

	"github.com/bittern/bittern/metainfo"
	"github.com/bittern/bittern/storage"
)

// FileSpec describes one file of a test torrent.
type FileSpec struct {
	Path   []string
	Length int64
	Pad    bool
}

// NewInfo builds a minimal info whose files are laid out back to back in
// the given order, for tests. It carries no piece hashes.
func NewInfo(name string, pieceLength int64, files ...FileSpec) *metainfo.Info {
	info := &metainfo.Info{Name: name, PieceLength: pieceLength, MetaVersion: 1}
	var off int64
	for _, f := range files {
		mf := metainfo.File{Path: f.Path, Length: f.Length, Offset: off, Pad: f.Pad}
		if f.Pad {
			mf.Attr = "p"
		}
		info.Files = append(info.Files, mf)
		off += f.Length
	}
	return info
}

// totalLength sums the files of info.
func totalLength(info *metainfo.Info) int64 {
	var n int64
	for _, f := range info.Files {
		n += f.Length
	}
	return n
}

// multiInfo is a multi-file torrent with empty files, pad files and
// files spanning piece boundaries.
func multiInfo() *metainfo.Info {
	return NewInfo("multi", 16<<10,
		FileSpec{Path: []string{"a.bin"}, Length: 10000},
		FileSpec{Path: []string{"empty"}, Length: 0},
		FileSpec{Path: []string{".pad", "6384"}, Length: 6384, Pad: true},
		FileSpec{Path: []string{"sub", "b.bin"}, Length: 40000},
		FileSpec{Path: []string{"sub", "c.bin"}, Length: 1},
		FileSpec{Path: []string{".pad", "8727"}, Length: 8727, Pad: true},
		FileSpec{Path: []string{"d", "e", "f.bin"}, Length: 50000},
	)
}

// reference returns random contents for info's byte space, zeros in pads.
func reference(info *metainfo.Info, seed uint64) []byte {
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	b := make([]byte, totalLength(info))
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	for _, f := range info.Files {
		if f.Pad {
			clear(b[f.Offset : f.Offset+f.Length])
		}
	}
	return b
}

func hashOf(b byte) metainfo.Hash {
	var h metainfo.Hash
	for i := range h {
		h[i] = b
	}
	return h
}

func open(t *testing.T, s storage.Storage, info *metainfo.Info, ih metainfo.Hash) storage.Torrent {
	t.Helper()
	tor, err := s.Open(context.Background(), info, ih)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	return tor
}

func closeT(t *testing.T, tor storage.Torrent) {
	t.Helper()
	if err := tor.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
}

// writeRandomly writes ref into tor in random order and random chunks.
func writeRandomly(t *testing.T, tor storage.Torrent, ref []byte, seed uint64) {
	t.Helper()
	r := rand.New(rand.NewPCG(seed, 1))
	type chunk struct{ off, n int }
	var chunks []chunk
	for off := 0; off < len(ref); {
		n := min(len(ref)-off, 1+r.IntN(20000))
		chunks = append(chunks, chunk{off, n})
		off += n
	}
	r.Shuffle(len(chunks), func(i, j int) { chunks[i], chunks[j] = chunks[j], chunks[i] })
	for _, c := range chunks {
		n, err := tor.WriteAt(ref[c.off:c.off+c.n], int64(c.off))
		if err != nil || n != c.n {
			t.Fatalf("WriteAt(%d bytes at %d) = %d, %v", c.n, c.off, n, err)
		}
	}
}

// readAll reads the whole byte space and compares it with want.
func checkAll(t *testing.T, tor storage.Torrent, want []byte) {
	t.Helper()
	got := make([]byte, len(want))
	n, err := tor.ReadAt(got, 0)
	if n != len(want) || (err != nil && err != io.EOF) {
		t.Fatalf("ReadAt(all) = %d, %v", n, err)
	}
	if !bytes.Equal(got, want) {
		i := 0
		for i < len(got) && got[i] == want[i] {
			i++
		}
		t.Fatalf("content differs first at byte %d", i)
	}
	// And in odd-sized pieces.
	for off := 0; off < len(want); off += 7777 {
		end := min(len(want), off+7777)
		b := make([]byte, end-off)
		if n, err := tor.ReadAt(b, int64(off)); n != len(b) || (err != nil && err != io.EOF) {
			t.Fatalf("ReadAt(%d at %d) = %d, %v", len(b), off, n, err)
		}
		if !bytes.Equal(b, want[off:end]) {
			t.Fatalf("ReadAt(%d at %d): wrong content", len(b), off)
		}
	}
}

// Run runs the conformance tests against storages made by newStorage.
func Run(t *testing.T, newStorage func(t *testing.T) storage.Storage) {
	t.Run("RoundTrip", func(t *testing.T) { testRoundTrip(t, newStorage(t)) })
	t.Run("SingleFile", func(t *testing.T) { testSingleFile(t, newStorage(t)) })
	t.Run("UnwrittenReadsZero", func(t *testing.T) { testUnwritten(t, newStorage(t)) })
	t.Run("PadReadsZero", func(t *testing.T) { testPad(t, newStorage(t)) })
	t.Run("Bounds", func(t *testing.T) { testBounds(t, newStorage(t)) })
	t.Run("Concurrent", func(t *testing.T) { testConcurrent(t, newStorage(t)) })
	t.Run("Closed", func(t *testing.T) { testClosed(t, newStorage(t)) })
	t.Run("Reopen", func(t *testing.T) { testReopen(t, newStorage(t)) })
	t.Run("TwoTorrents", func(t *testing.T) { testTwo(t, newStorage(t)) })
	t.Run("Flusher", func(t *testing.T) { testFlusher(t, newStorage(t)) })
	t.Run("CompletionStore", func(t *testing.T) { testCompletion(t, newStorage(t)) })
	t.Run("FileSelector", func(t *testing.T) { testSelector(t, newStorage(t)) })
	t.Run("Mover", func(t *testing.T) { testMover(t, newStorage(t)) })
	t.Run("Preallocator", func(t *testing.T) { testPrealloc(t, newStorage(t)) })
}

func testRoundTrip(t *testing.T, s storage.Storage) {
	info := multiInfo()
	ref := reference(info, 1)
	tor := open(t, s, info, hashOf(1))
	defer closeT(t, tor)
	writeRandomly(t, tor, ref, 2)
	checkAll(t, tor, ref)
}

func testSingleFile(t *testing.T, s storage.Storage) {
	info := NewInfo("single.bin", 32<<10, FileSpec{Path: []string{"single.bin"}, Length: 100000})
	info.SingleFile = true
	ref := reference(info, 3)
	tor := open(t, s, info, hashOf(2))
	defer closeT(t, tor)
	writeRandomly(t, tor, ref, 4)
	checkAll(t, tor, ref)
}

func testUnwritten(t *testing.T, s storage.Storage) {
	info := multiInfo()
	tor := open(t, s, info, hashOf(3))
	defer closeT(t, tor)
	ref := reference(info, 5)
	// Write only the first half; the rest must read as zeros.
	half := len(ref) / 2
	if _, err := tor.WriteAt(ref[:half], 0); err != nil {
		t.Fatal(err)
	}
	want := append([]byte(nil), ref...)
	clear(want[half:])
	checkAll(t, tor, want)
}

func testPad(t *testing.T, s storage.Storage) {
	info := multiInfo()
	tor := open(t, s, info, hashOf(4))
	defer closeT(t, tor)
	junk := bytes.Repeat([]byte{0xAB}, int(totalLength(info)))
	if _, err := tor.WriteAt(junk, 0); err != nil {
		t.Fatal(err)
	}
	want := append([]byte(nil), junk...)
	for _, f := range info.Files {
		if f.Pad {
			clear(want[f.Offset : f.Offset+f.Length])
		}
	}
	checkAll(t, tor, want)
}

func testBounds(t *testing.T, s storage.Storage) {
	info := multiInfo()
	total := totalLength(info)
	tor := open(t, s, info, hashOf(5))
	defer closeT(t, tor)
	b := make([]byte, 10)
	if n, err := tor.ReadAt(b, total); n != 0 || err != io.EOF {
		t.Errorf("ReadAt(at end) = %d, %v; want 0, io.EOF", n, err)
	}
	if n, err := tor.ReadAt(b, total+100); n != 0 || err == nil {
		t.Errorf("ReadAt(past end) = %d, %v; want 0, an error", n, err)
	}
	if n, err := tor.ReadAt(b, total-4); n != 4 || err != io.EOF {
		t.Errorf("ReadAt(straddling end) = %d, %v; want 4, io.EOF", n, err)
	}
	if _, err := tor.ReadAt(b, -1); err == nil {
		t.Error("ReadAt(-1) succeeded")
	}
	if _, err := tor.WriteAt(b, -1); err == nil {
		t.Error("WriteAt(-1) succeeded")
	}
	ones := bytes.Repeat([]byte{1}, 10)
	if n, err := tor.WriteAt(ones, total-4); err == nil || n == len(ones) {
		t.Errorf("WriteAt(straddling end) = %d, %v; want an error", n, err)
	}
	if n, err := tor.ReadAt(b, total-4); n != 4 || err != io.EOF || !bytes.Equal(b[:4], make([]byte, 4)) {
		t.Errorf("a rejected write past the end changed data: %d, %v, % x", n, err, b[:4])
	}
	if n, err := tor.WriteAt(nil, total); n != 0 || err != nil {
		t.Errorf("WriteAt(empty at end) = %d, %v", n, err)
	}
	if n, err := tor.ReadAt(nil, 0); n != 0 || err != nil {
		t.Errorf("ReadAt(empty) = %d, %v", n, err)
	}
}

func testConcurrent(t *testing.T, s storage.Storage) {
	info := multiInfo()
	ref := reference(info, 6)
	tor := open(t, s, info, hashOf(6))
	defer closeT(t, tor)
	const block = 4096
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for w := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for off := w * block; off < len(ref); off += 8 * block {
				end := min(len(ref), off+block)
				if _, err := tor.WriteAt(ref[off:end], int64(off)); err != nil {
					errs <- err
					return
				}
				got := make([]byte, end-off)
				if _, err := tor.ReadAt(got, int64(off)); err != nil && err != io.EOF {
					errs <- err
					return
				}
				if !bytes.Equal(got, ref[off:end]) {
					errs <- errors.New("read back wrong data")
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	checkAll(t, tor, ref)
}

func testClosed(t *testing.T, s storage.Storage) {
	tor := open(t, s, multiInfo(), hashOf(7))
	closeT(t, tor)
	b := make([]byte, 10)
	if _, err := tor.ReadAt(b, 0); !errors.Is(err, storage.ErrClosed) {
		t.Errorf("ReadAt after Close: %v, want storage.ErrClosed", err)
	}
	if _, err := tor.WriteAt(b, 0); !errors.Is(err, storage.ErrClosed) {
		t.Errorf("WriteAt after Close: %v, want storage.ErrClosed", err)
	}
	if err := tor.Close(); err == nil {
		t.Error("second Close succeeded")
	}
}

func testReopen(t *testing.T, s storage.Storage) {
	info := multiInfo()
	ref := reference(info, 8)
	tor := open(t, s, info, hashOf(8))
	writeRandomly(t, tor, ref, 9)
	closeT(t, tor)
	tor = open(t, s, info, hashOf(8))
	defer closeT(t, tor)
	checkAll(t, tor, ref)
}

func testTwo(t *testing.T, s storage.Storage) {
	a := NewInfo("one", 16<<10, FileSpec{Path: []string{"x"}, Length: 30000})
	b := NewInfo("two", 16<<10, FileSpec{Path: []string{"x"}, Length: 30000})
	ra, rb := reference(a, 10), reference(b, 11)
	ta, tb := open(t, s, a, hashOf(9)), open(t, s, b, hashOf(10))
	defer closeT(t, ta)
	defer closeT(t, tb)
	writeRandomly(t, ta, ra, 12)
	writeRandomly(t, tb, rb, 13)
	checkAll(t, ta, ra)
	checkAll(t, tb, rb)
}

func testFlusher(t *testing.T, s storage.Storage) {
	tor := open(t, s, multiInfo(), hashOf(11))
	defer closeT(t, tor)
	f, ok := tor.(storage.Flusher)
	if !ok {
		t.Skip("not a storage.Flusher")
	}
	ref := reference(multiInfo(), 14)
	writeRandomly(t, tor, ref, 15)
	if err := f.Flush(); err != nil {
		t.Fatalf("Flush: %v", err)
	}
	checkAll(t, tor, ref)
}

func testCompletion(t *testing.T, s storage.Storage) {
	info := multiInfo()
	tor := open(t, s, info, hashOf(12))
	cs, ok := tor.(storage.CompletionStore)
	if !ok {
		closeT(t, tor)
		t.Skip("not a storage.CompletionStore")
	}
	ctx := context.Background()
	pl := info.PieceLength
	np := int((totalLength(info) + pl - 1) / pl)
	r, err := cs.LoadCompletion(ctx)
	if err != nil {
		t.Fatalf("LoadCompletion with no record: %v", err)
	}
	if len(r.Verified) != np || len(r.Recheck) != np {
		t.Fatalf("LoadCompletion: %d/%d entries, want %d", len(r.Verified), len(r.Recheck), np)
	}
	for p := range np {
		if r.Verified[p] || r.Recheck[p] {
			t.Fatalf("LoadCompletion with no record: piece %d marked", p)
		}
	}
	ref := reference(info, 16)
	writeRandomly(t, tor, ref, 17)
	saved := make([]bool, np)
	for p := range saved {
		saved[p] = p%2 == 0
	}
	if err := cs.SaveCompletion(ctx, saved); err != nil {
		t.Fatalf("SaveCompletion: %v", err)
	}
	if err := cs.SaveCompletion(ctx, saved[:np-1]); err == nil {
		t.Error("SaveCompletion accepted a bitfield of the wrong length")
	}
	closeT(t, tor)
	tor = open(t, s, info, hashOf(12))
	defer closeT(t, tor)
	r, err = tor.(storage.CompletionStore).LoadCompletion(ctx)
	if err != nil {
		t.Fatalf("LoadCompletion: %v", err)
	}
	for p := range np {
		if r.Verified[p] != saved[p] || r.Recheck[p] {
			t.Fatalf("piece %d: verified %v recheck %v, saved %v", p, r.Verified[p], r.Recheck[p], saved[p])
		}
	}
}

func testSelector(t *testing.T, s storage.Storage) {
	info := multiInfo()
	tor := open(t, s, info, hashOf(13))
	defer closeT(t, tor)
	fs, ok := tor.(storage.FileSelector)
	if !ok {
		t.Skip("not a storage.FileSelector")
	}
	if err := fs.SetWantedFiles(make([]bool, len(info.Files)-1)); err == nil {
		t.Error("SetWantedFiles accepted the wrong number of entries")
	}
	wanted := make([]bool, len(info.Files))
	for i := range wanted {
		wanted[i] = i != 3 && i != 4 // deselect sub/b.bin and sub/c.bin
	}
	if err := fs.SetWantedFiles(wanted); err != nil {
		t.Fatalf("SetWantedFiles: %v", err)
	}
	ref := reference(info, 18)
	writeRandomly(t, tor, ref, 19)
	checkAll(t, tor, ref) // every byte written, deselected or not, reads back
	for i := range wanted {
		wanted[i] = true
	}
	if err := fs.SetWantedFiles(wanted); err != nil {
		t.Fatalf("SetWantedFiles(all): %v", err)
	}
	checkAll(t, tor, ref)
}

func testMover(t *testing.T, s storage.Storage) {
	info := multiInfo()
	tor := open(t, s, info, hashOf(14))
	defer closeT(t, tor)
	m, ok := tor.(storage.Mover)
	if !ok {
		t.Skip("not a storage.Mover")
	}
	ref := reference(info, 20)
	writeRandomly(t, tor, ref, 21)
	if err := m.Move(context.Background(), t.TempDir()); err != nil {
		t.Fatalf("Move: %v", err)
	}
	checkAll(t, tor, ref)
	ref2 := reference(info, 22)
	writeRandomly(t, tor, ref2, 23)
	checkAll(t, tor, ref2)
}

func testPrealloc(t *testing.T, s storage.Storage) {
	info := multiInfo()
	tor := open(t, s, info, hashOf(15))
	defer closeT(t, tor)
	p, ok := tor.(storage.Preallocator)
	if !ok {
		t.Skip("not a storage.Preallocator")
	}
	ref := reference(info, 24)
	half := len(ref) / 2
	if _, err := tor.WriteAt(ref[:half], 0); err != nil {
		t.Fatal(err)
	}
	if err := p.Preallocate(context.Background()); err != nil {
		t.Fatalf("Preallocate: %v", err)
	}
	want := append([]byte(nil), ref...)
	clear(want[half:])
	checkAll(t, tor, want)
}
