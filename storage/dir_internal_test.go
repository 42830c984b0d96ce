package storage

import (
	"bytes"
	"context"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"

	"github.com/bittern/bittern/metainfo"
)

func testInfo(pieceLen int64, lengths ...int64) *metainfo.Info {
	info := &metainfo.Info{Name: "t", PieceLength: pieceLen, MetaVersion: 1}
	var off int64
	for i, n := range lengths {
		info.Files = append(info.Files, metainfo.File{Path: []string{string(rune('a' + i))}, Length: n, Offset: off})
		off += n
	}
	return info
}

func openT(t *testing.T, d *Dir, info *metainfo.Info) *dirTorrent {
	t.Helper()
	tor, err := d.Open(context.Background(), info, metainfo.Hash{7})
	if err != nil {
		t.Fatal(err)
	}
	return tor.(*dirTorrent)
}

func TestFilePoolBound(t *testing.T) {
	lengths := make([]int64, 20)
	for i := range lengths {
		lengths[i] = 1000
	}
	info := testInfo(16<<10, lengths...)
	tor := openT(t, &Dir{Root: t.TempDir(), MaxOpenFiles: 3}, info)
	defer tor.Close()
	data := bytes.Repeat([]byte{5}, 20000)
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 100 {
				off := int64((i*4+w)%20) * 1000 // every file, over and over
				if _, err := tor.WriteAt(data[:1000], off); err != nil {
					t.Error(err)
					return
				}
				if n := tor.pool.len(); n > 3+4 { // bound, plus handles pinned by in-flight I/O
					t.Errorf("pool holds %d files", n)
				}
			}
		}()
	}
	wg.Wait()
	if n := tor.pool.len(); n > 3 {
		t.Errorf("idle pool holds %d files, want at most 3", n)
	}
	got := make([]byte, 20000)
	if _, err := tor.ReadAt(got, 0); err != nil && err != io.EOF {
		t.Fatal(err)
	}
	if !bytes.Equal(got, data) {
		t.Error("data lost through pool evictions")
	}
}

func TestPartFile(t *testing.T) {
	root := t.TempDir()
	// Pieces of 16 KiB; b (file 1) shares piece 0 with a and piece 2 with c.
	info := testInfo(16<<10, 10000, 30000, 20000)
	tor := openT(t, &Dir{Root: root}, info)
	if err := tor.SetWantedFiles([]bool{true, false, true}); err != nil {
		t.Fatal(err)
	}
	ref := make([]byte, 60000)
	for i := range ref {
		ref[i] = byte(i * 7)
	}
	if _, err := tor.WriteAt(ref, 0); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "t", "b")); !os.IsNotExist(err) {
		t.Fatalf("deselected file was created: %v", err)
	}
	part := filepath.Join(root, "."+metainfo.Hash{7}.String()+".parts")
	if _, err := os.Stat(part); err != nil {
		t.Fatalf("no part file: %v", err)
	}
	// Close and reopen: the bytes are still read from the part file.
	if err := tor.Close(); err != nil {
		t.Fatal(err)
	}
	tor = openT(t, &Dir{Root: root}, info)
	got := make([]byte, len(ref))
	if _, err := tor.ReadAt(got, 0); err != nil && err != io.EOF {
		t.Fatal(err)
	}
	if !bytes.Equal(got, ref) {
		t.Fatal("part file bytes lost across reopen")
	}
	// Select b again: its bytes move into the file, the part file goes.
	if err := tor.SetWantedFiles([]bool{true, true, true}); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(root, "t", "b"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(b, ref[10000:40000]) {
		t.Fatal("b's bytes not restored from the part file")
	}
	if err := tor.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(part); !os.IsNotExist(err) {
		t.Errorf("empty part file not removed: %v", err)
	}
}

// TestPartFileCorrupt: a damaged part file is discarded (its bytes read as
// zeros and fail their hash), never trusted or crashed on.
func TestPartFileCorrupt(t *testing.T) {
	root := t.TempDir()
	info := testInfo(16<<10, 10000, 30000, 20000)
	part := filepath.Join(root, "."+metainfo.Hash{7}.String()+".parts")
	for _, junk := range [][]byte{nil, []byte("BTPARTS1"), bytes.Repeat([]byte{0xff}, 5000)} {
		if err := os.WriteFile(part, junk, 0o644); err != nil {
			t.Fatal(err)
		}
		tor := openT(t, &Dir{Root: root}, info)
		if err := tor.SetWantedFiles([]bool{true, false, true}); err != nil {
			t.Fatal(err)
		}
		got := make([]byte, 60000)
		if _, err := tor.ReadAt(got, 0); err != nil && err != io.EOF {
			t.Fatal(err)
		}
		if !bytes.Equal(got, make([]byte, 60000)) {
			t.Error("corrupt part file yielded data")
		}
		if _, err := tor.WriteAt([]byte{1, 2, 3}, 20000); err != nil {
			t.Fatal(err)
		}
		if err := tor.Close(); err != nil {
			t.Fatal(err)
		}
	}
}

func TestPreallocate(t *testing.T) {
	root := t.TempDir()
	info := testInfo(16<<10, 10000, 0, 30000)
	info.Files = append(info.Files, metainfo.File{Path: []string{".pad", "1"}, Length: 9152, Offset: 40000, Pad: true, Attr: "p"})
	tor := openT(t, &Dir{Root: root, Preallocate: true}, info)
	defer tor.Close()
	for _, f := range []struct {
		name string
		size int64
	}{{"a", 10000}, {"b", 0}, {"c", 30000}} {
		fi, err := os.Stat(filepath.Join(root, "t", f.name))
		if f.size == 0 {
			// Empty files take no space and are not created eagerly.
			continue
		}
		if err != nil || fi.Size() != f.size {
			t.Errorf("%s: %v, size %d; want %d", f.name, err, fi.Size(), f.size)
		}
	}
	if _, err := os.Stat(filepath.Join(root, "t", ".pad")); !os.IsNotExist(err) {
		t.Errorf("pad file created: %v", err)
	}
}

// TestMoveWhileInUse moves the data while other goroutines read and
// write; every operation must succeed and see consistent bytes.
func TestMoveWhileInUse(t *testing.T) {
	src, dst := t.TempDir(), filepath.Join(t.TempDir(), "new", "dir")
	info := testInfo(16<<10, 10000, 30000, 20000)
	tor := openT(t, &Dir{Root: src}, info)
	defer tor.Close()
	if err := tor.SetWantedFiles([]bool{true, false, true}); err != nil {
		t.Fatal(err)
	}
	ref := make([]byte, 60000)
	for i := range ref {
		ref[i] = byte(i * 13)
	}
	if _, err := tor.WriteAt(ref, 0); err != nil {
		t.Fatal(err)
	}
	if err := tor.SaveCompletion(context.Background(), []bool{true, false, true, false}); err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			buf := make([]byte, 5000)
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				off := int64((w*7919 + i*4999) % 55000)
				if w%2 == 0 {
					if _, err := tor.WriteAt(ref[off:off+5000], off); err != nil {
						t.Error(err)
						return
					}
					continue
				}
				if _, err := tor.ReadAt(buf, off); err != nil {
					t.Error(err)
					return
				}
				if !bytes.Equal(buf, ref[off:off+5000]) {
					t.Error("read wrong bytes during move")
					return
				}
			}
		}()
	}
	if err := tor.Move(context.Background(), dst); err != nil {
		t.Error(err)
	}
	close(stop)
	wg.Wait()
	got := make([]byte, len(ref))
	if _, err := tor.ReadAt(got, 0); err != nil && err != io.EOF {
		t.Fatal(err)
	}
	if !bytes.Equal(got, ref) {
		t.Fatal("data differs after move")
	}
	left := 0
	_ = filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			left++
		}
		return nil
	})
	if left != 0 {
		t.Errorf("%d files left behind in the old directory", left)
	}
	for _, n := range []string{"t/a", "t/c", "." + metainfo.Hash{7}.String() + ".parts", "." + metainfo.Hash{7}.String() + ".resume"} {
		if _, err := os.Stat(filepath.Join(dst, n)); err != nil {
			t.Errorf("%s not moved: %v", n, err)
		}
	}
	r, err := tor.LoadCompletion(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	_ = r // files were written during the move, so pieces may need a recheck
}

func TestMoveCrossDevice(t *testing.T) {
	// copyTree is the fallback for EXDEV; exercise it directly between
	// two roots so it is tested even when both are on one file system.
	src, dst := t.TempDir(), t.TempDir()
	if err := os.MkdirAll(filepath.Join(src, "t", "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(src, "t", "sub", "f"), []byte("hello"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("sub/f", filepath.Join(src, "t", "link")); err != nil {
		t.Fatal(err)
	}
	from, _ := os.OpenRoot(src)
	to, _ := os.OpenRoot(dst)
	defer from.Close()
	defer to.Close()
	if err := copyTree(from, to, "t"); err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(filepath.Join(dst, "t", "link")); err != nil || string(b) != "hello" {
		t.Errorf("copied tree: %q, %v", b, err)
	}
}

func TestExecutableAttr(t *testing.T) {
	root := t.TempDir()
	info := testInfo(16<<10, 10, 10)
	info.Files[0].Attr = "x"
	tor := openT(t, &Dir{Root: root}, info)
	defer tor.Close()
	if _, err := tor.WriteAt(make([]byte, 20), 0); err != nil {
		t.Fatal(err)
	}
	for name, exec := range map[string]bool{"a": true, "b": false} {
		fi, err := os.Stat(filepath.Join(root, "t", name))
		if err != nil {
			t.Fatal(err)
		}
		if got := fi.Mode().Perm()&0o100 != 0; got != exec {
			t.Errorf("%s: mode %v, executable %v want %v", name, fi.Mode(), got, exec)
		}
	}
}

// TestDeselectExisting: a file already on disk keeps its data in place
// when deselected (as in libtorrent), no part file is made for it.
func TestDeselectExisting(t *testing.T) {
	root := t.TempDir()
	info := testInfo(16<<10, 10000, 30000, 20000)
	tor := openT(t, &Dir{Root: root}, info)
	defer tor.Close()
	ref := bytes.Repeat([]byte{4}, 60000)
	if _, err := tor.WriteAt(ref, 0); err != nil {
		t.Fatal(err)
	}
	if err := tor.SetWantedFiles([]bool{true, false, true}); err != nil {
		t.Fatal(err)
	}
	if _, err := tor.WriteAt(bytes.Repeat([]byte{5}, 100), 15000); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(root, "t", "b"))
	if err != nil || b[5000] != 5 {
		t.Fatalf("write to an existing deselected file did not land in it: %v", err)
	}
	if _, err := os.Stat(filepath.Join(root, "."+metainfo.Hash{7}.String()+".parts")); !os.IsNotExist(err) {
		t.Errorf("part file created: %v", err)
	}
}

func TestMemoryDelete(t *testing.T) {
	m := new(Memory)
	info := testInfo(16<<10, 100)
	tor, _ := m.Open(context.Background(), info, metainfo.Hash{1})
	_, _ = tor.WriteAt([]byte{1}, 0)
	tor.Close()
	m.Delete(metainfo.Hash{1})
	tor, _ = m.Open(context.Background(), info, metainfo.Hash{1})
	defer tor.Close()
	b := make([]byte, 1)
	if _, err := tor.ReadAt(b, 0); err != nil || b[0] != 0 {
		t.Errorf("data survived Delete: %v %v", b, err)
	}
}

func TestPathErrorText(t *testing.T) {
	_, err := newLayout(testInfo(16<<10, 1))
	if err != nil {
		t.Fatal(err)
	}
	info := testInfo(16<<10, 1)
	info.Files[0].Path = []string{"ok", ".."}
	_, err = newLayout(info)
	if err == nil || err.Error() != `storage: file 0 ["ok" ".."]: storage: unsafe path: component ".."` {
		t.Errorf("error text: %v", err)
	}
	info.Name = ".."
	_, err = newLayout(info)
	if err == nil || !strings.HasPrefix(err.Error(), `storage: torrent name [".."]`) {
		t.Errorf("error text: %v", err)
	}
}

// TestReadOnlyFiles: data on read-only files can be read (seeded); writes
// fail with an error instead of succeeding silently.
func TestReadOnlyFiles(t *testing.T) {
	root := t.TempDir()
	info := testInfo(16<<10, 10)
	if err := os.MkdirAll(filepath.Join(root, "t"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "t", "a"), []byte("0123456789"), 0o444); err != nil {
		t.Fatal(err)
	}
	tor := openT(t, &Dir{Root: root}, info)
	defer tor.Close()
	b := make([]byte, 10)
	if _, err := tor.ReadAt(b, 0); err != nil || string(b) != "0123456789" {
		t.Fatalf("read of a read-only file: %q, %v", b, err)
	}
	if os.Geteuid() != 0 { // root ignores permission bits
		if _, err := tor.WriteAt([]byte("x"), 0); err == nil {
			t.Error("write to a read-only file succeeded")
		}
	}
}

// TestSelectWhileInUse toggles the selection of the middle file while
// readers and writers run: data must stay intact throughout (run with
// -race).
func TestSelectWhileInUse(t *testing.T) {
	info := testInfo(16<<10, 10000, 30000, 20000)
	tor := openT(t, &Dir{Root: t.TempDir()}, info)
	defer tor.Close()
	ref := make([]byte, 60000)
	for i := range ref {
		ref[i] = byte(i * 17)
	}
	if err := tor.SetWantedFiles([]bool{true, false, true}); err != nil {
		t.Fatal(err)
	}
	if _, err := tor.WriteAt(ref, 0); err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w := range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			buf := make([]byte, 3000)
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				off := int64((w*7001 + i*2999) % 57000)
				if _, err := tor.WriteAt(ref[off:off+3000], off); err != nil {
					t.Error(err)
					return
				}
				if _, err := tor.ReadAt(buf, off); err != nil || !bytes.Equal(buf, ref[off:off+3000]) {
					t.Error("wrong bytes while selection changes", err)
					return
				}
			}
		}()
	}
	for i := range 6 {
		if err := tor.SetWantedFiles([]bool{true, i%2 == 0, true}); err != nil {
			t.Error(err)
		}
	}
	close(stop)
	wg.Wait()
}

// TestSharedPool: the pool bound covers every torrent of a Dir, and
// closing one torrent leaves the others' handles alone.
func TestSharedPool(t *testing.T) {
	d := &Dir{Root: t.TempDir(), MaxOpenFiles: 2}
	a := openT(t, d, testInfo(16<<10, 10, 10, 10))
	infoB := testInfo(16<<10, 10, 10, 10)
	infoB.Name = "u"
	tb, err := d.Open(context.Background(), infoB, metainfo.Hash{8})
	if err != nil {
		t.Fatal(err)
	}
	b := tb.(*dirTorrent)
	for _, tor := range []*dirTorrent{a, b} {
		if _, err := tor.WriteAt(bytes.Repeat([]byte{1}, 30), 0); err != nil {
			t.Fatal(err)
		}
	}
	if n := d.pool.len(); n > 2 {
		t.Errorf("shared pool holds %d files, want at most 2", n)
	}
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	got := make([]byte, 30)
	if _, err := b.ReadAt(got, 0); err != nil || !bytes.Equal(got, bytes.Repeat([]byte{1}, 30)) {
		t.Fatalf("other torrent broken by Close: %v", err)
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	if n := d.pool.len(); n != 0 {
		t.Errorf("%d handles left after every torrent closed", n)
	}
}

func TestWindowsNames(t *testing.T) {
	for in, want := range map[string]string{
		"plain.txt":       "plain.txt",
		`a<b>c:d"e|f?g*h`: "a_b_c_d_e_f_g_h",
		"trailing. . ":    "trailing",
		"...":             "_",
		"con":             "con_",
		"NUL.txt":         "NUL_.txt",
		"com1.tar.gz":     "com1_.tar.gz",
		"console":         "console",
		"tab\there":       "tab_here",
	} {
		if got := windowsComponent(in); got != want {
			t.Errorf("windowsComponent(%q) = %q, want %q", in, got, want)
		}
	}
	// With the mapping on, names that collide after it are refused.
	windowsNames = true
	defer func() { windowsNames = runtime.GOOS == "windows" }()
	info := testInfo(16<<10, 1, 1)
	info.Files[0].Path = []string{"a?"}
	info.Files[1].Path = []string{"a*"}
	if _, err := newLayout(info); !errors.Is(err, ErrUnsafePath) {
		t.Errorf("colliding mapped names: %v", err)
	}
}

// TestFlushAfterEviction: files written and then evicted from the pool
// are still synced by the next Flush.
func TestFlushAfterEviction(t *testing.T) {
	info := testInfo(16<<10, 100, 100, 100, 100)
	tor := openT(t, &Dir{Root: t.TempDir(), MaxOpenFiles: 1}, info)
	defer tor.Close()
	if _, err := tor.WriteAt(make([]byte, 400), 0); err != nil {
		t.Fatal(err)
	}
	tor.dirtyMu.Lock()
	n := len(tor.dirty)
	tor.dirtyMu.Unlock()
	if n != 4 {
		t.Fatalf("%d files marked dirty, want 4", n)
	}
	if err := tor.Flush(); err != nil {
		t.Fatal(err)
	}
	tor.dirtyMu.Lock()
	n = len(tor.dirty)
	tor.dirtyMu.Unlock()
	if n != 0 {
		t.Errorf("%d files still dirty after Flush", n)
	}
}

// TestMoveCancelled: a move stopped by its context leaves the data where
// it was, usable.
func TestMoveCancelled(t *testing.T) {
	src, dst := t.TempDir(), t.TempDir()
	info := testInfo(16<<10, 100, 100)
	tor := openT(t, &Dir{Root: src}, info)
	defer tor.Close()
	data := bytes.Repeat([]byte{3}, 200)
	if _, err := tor.WriteAt(data, 0); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := tor.Move(ctx, dst); !errors.Is(err, context.Canceled) {
		t.Fatalf("Move with a cancelled context: %v", err)
	}
	got := make([]byte, 200)
	if _, err := tor.ReadAt(got, 0); err != nil && err != io.EOF || !bytes.Equal(got, data) {
		t.Fatalf("data after a cancelled move: %v", err)
	}
	if _, err := os.Stat(filepath.Join(src, "t", "a")); err != nil {
		t.Errorf("data left the old directory: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dst, "t")); !os.IsNotExist(err) {
		t.Errorf("partial move left %v", err)
	}
}
