package storage_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bittern/bittern/metainfo"
	"github.com/bittern/bittern/storage"
	"github.com/bittern/bittern/storage/storagetest"
)

// sandbox returns a parent directory holding the download directory
// "root" and a sibling "outside" with a secret file, and a function that
// fails the test if anything outside root changed.
func sandbox(t *testing.T) (root, outside string, check func()) {
	t.Helper()
	parent := t.TempDir()
	root = filepath.Join(parent, "root")
	outside = filepath.Join(parent, "outside")
	for _, d := range []string{root, outside} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	secret := filepath.Join(outside, "secret")
	if err := os.WriteFile(secret, []byte("secret"), 0o644); err != nil {
		t.Fatal(err)
	}
	return root, outside, func() {
		t.Helper()
		entries, _ := os.ReadDir(parent)
		if len(entries) != 2 {
			t.Errorf("parent directory holds %d entries, want root and outside", len(entries))
		}
		entries, _ = os.ReadDir(outside)
		if len(entries) != 1 {
			t.Errorf("outside directory holds %d entries, want only the secret", len(entries))
		}
		if b, _ := os.ReadFile(secret); string(b) != "secret" {
			t.Errorf("secret file changed: %q", b)
		}
	}
}

func TestHostileNames(t *testing.T) {
	file := func(p ...string) storagetest.FileSpec { return storagetest.FileSpec{Path: p, Length: 10} }
	cases := []struct {
		name  string
		files []storagetest.FileSpec
	}{
		{"..", []storagetest.FileSpec{file("a")}},
		{".", []storagetest.FileSpec{file("a")}},
		{"", []storagetest.FileSpec{file("a")}},
		{"a/../../x", []storagetest.FileSpec{file("a")}},
		{"/etc", []storagetest.FileSpec{file("a")}},
		{"ok", []storagetest.FileSpec{file("..", "..", "x")}},
		{"ok", []storagetest.FileSpec{file("a", "..", "..", "x")}},
		{"ok", []storagetest.FileSpec{file("/etc/passwd")}},
		{"ok", []storagetest.FileSpec{file("a\\..\\..\\x")}},
		{"ok", []storagetest.FileSpec{file("")}},
		{"ok", []storagetest.FileSpec{file(".")}},
		{"ok", []storagetest.FileSpec{file("nul\x00byte")}},
		{"ok", []storagetest.FileSpec{file()}},
		{"ok", []storagetest.FileSpec{file(strings.Repeat("x", 256))}},
		{"ok", []storagetest.FileSpec{file("dup"), file("dup")}},
		{"ok", []storagetest.FileSpec{file("a"), file("a", "b")}},
	}
	for _, c := range cases {
		root, _, check := sandbox(t)
		info := storagetest.NewInfo(c.name, 16<<10, c.files...)
		for _, s := range []storage.Storage{&storage.Dir{Root: root}, new(storage.Memory)} {
			tor, err := s.Open(context.Background(), info, metainfo.Hash{1})
			if err == nil {
				tor.Close()
				t.Errorf("name %q files %v: Open succeeded", c.name, c.files)
				continue
			}
			if !errors.Is(err, storage.ErrUnsafePath) {
				t.Errorf("name %q files %v: %v, want ErrUnsafePath", c.name, c.files, err)
			}
			var pe *storage.PathError
			if !errors.As(err, &pe) {
				t.Errorf("name %q: error %T is not a *PathError", c.name, err)
			}
		}
		check()
	}
}

func TestHostileSymlinkAttr(t *testing.T) {
	root, _, check := sandbox(t)
	info := storagetest.NewInfo("tor", 16<<10,
		storagetest.FileSpec{Path: []string{"data", "real.bin"}, Length: 100},
		storagetest.FileSpec{Path: []string{"links", "deep", "link"}},
	)
	info.Files[1].Attr = "l"
	info.Files[1].Symlink = []string{"data", "real.bin"}
	tor, err := (&storage.Dir{Root: root}).Open(context.Background(), info, metainfo.Hash{2})
	if err != nil {
		t.Fatal(err)
	}
	defer tor.Close()
	target, err := os.Readlink(filepath.Join(root, "tor", "links", "deep", "link"))
	if err != nil {
		t.Fatal(err)
	}
	if target != "../../data/real.bin" {
		t.Errorf("symlink target %q, want ../../data/real.bin", target)
	}
	if _, err := tor.WriteAt(bytes.Repeat([]byte{7}, 100), 0); err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(filepath.Join(root, "tor", "links", "deep", "link")); err != nil || len(b) != 100 {
		t.Errorf("reading through the symlink: %d bytes, %v", len(b), err)
	}
	// Escaping targets are refused.
	for _, target := range [][]string{{"..", "..", "outside", "secret"}, {"/etc/passwd"}, {""}, {"a", ".."}} {
		info.Files[1].Symlink = target
		if tor, err := (&storage.Dir{Root: root}).Open(context.Background(), info, metainfo.Hash{3}); !errors.Is(err, storage.ErrUnsafePath) {
			if err == nil {
				tor.Close()
			}
			t.Errorf("symlink target %q: %v, want ErrUnsafePath", target, err)
		}
	}
	check()
}

// TestHostileDisk plants symlinks in the download directory that point
// outside it; reads and writes through them must fail, not leak or
// clobber.
func TestHostileDisk(t *testing.T) {
	info := storagetest.NewInfo("tor", 16<<10,
		storagetest.FileSpec{Path: []string{"a.bin"}, Length: 6},
		storagetest.FileSpec{Path: []string{"sub", "b.bin"}, Length: 6},
	)
	plant := []struct{ link, target string }{
		{"tor", "OUT"},                      // the torrent directory itself
		{"tor/sub", "OUT"},                  // a directory inside it
		{"tor/a.bin", "OUT/secret"},         // the file itself
		{"tor/a.bin", "/proc/self/environ"}, // absolute
	}
	for _, p := range plant {
		root, outside, check := sandbox(t)
		target := strings.Replace(p.target, "OUT", outside, 1)
		if d := filepath.Dir(filepath.Join(root, p.link)); d != root {
			if err := os.MkdirAll(d, 0o755); err != nil {
				t.Fatal(err)
			}
		}
		if err := os.Symlink(target, filepath.Join(root, p.link)); err != nil {
			t.Fatal(err)
		}
		tor, err := (&storage.Dir{Root: root}).Open(context.Background(), info, metainfo.Hash{4})
		if err != nil {
			check()
			continue // refusing to open is fine
		}
		if _, err := tor.WriteAt([]byte("HACKED!!!!!!"), 0); err == nil {
			t.Errorf("symlink %s -> %s: write succeeded", p.link, target)
		}
		buf := make([]byte, 12)
		n, err := tor.ReadAt(buf, 0)
		if err == nil || bytes.Contains(buf[:n], []byte("secret")) {
			t.Errorf("symlink %s -> %s: read %q, %v", p.link, target, buf[:n], err)
		}
		if s, ok := tor.(storage.CompletionStore); ok {
			_ = s.SaveCompletion(context.Background(), make([]bool, 1))
		}
		tor.Close()
		check()
	}
}

// TestCorpusStaysInside opens the torrents of libtorrent's test corpus
// with hostile paths and symlinks (testdata/libtorrent) that metainfo
// accepts, writes at the start and end of each file and
// checks nothing appeared outside the download directory.
func TestCorpusStaysInside(t *testing.T) {
	const corpus = "testdata/libtorrent"
	paths, _ := filepath.Glob(filepath.Join(corpus, "*.torrent"))
	if len(paths) == 0 {
		t.Fatalf("no corpus found (looked in %s)", corpus)
	}
	opened := 0
	for _, p := range paths {
		mi, err := metainfo.LoadFile(p)
		if err != nil {
			continue // rejected by the parser: nothing to store
		}
		root, _, check := sandbox(t)
		tor, err := (&storage.Dir{Root: root}).Open(context.Background(), mi.Info(), ihOf(mi))
		if err != nil {
			t.Logf("%s: refused: %v", filepath.Base(p), err)
			if !errors.Is(err, storage.ErrUnsafePath) && !errors.Is(err, storage.ErrBadLayout) {
				t.Errorf("%s: Open: %v", filepath.Base(p), err)
			}
			check()
			continue
		}
		opened++
		for i, f := range mi.Info().Files {
			if i > 200 || f.Length == 0 {
				continue
			}
			for _, off := range []int64{f.Offset, f.Offset + f.Length - 1} {
				if _, err := tor.WriteAt([]byte{1}, off); err != nil {
					t.Errorf("%s: WriteAt(%d): %v", filepath.Base(p), off, err)
				}
			}
		}
		if err := tor.Close(); err != nil {
			t.Errorf("%s: Close: %v", filepath.Base(p), err)
		}
		// Every symlink created resolves inside root.
		rootReal, _ := filepath.EvalSymlinks(root)
		_ = filepath.WalkDir(root, func(q string, d fs.DirEntry, err error) error {
			if err == nil && d.Type()&fs.ModeSymlink != 0 {
				dst, err := filepath.EvalSymlinks(q)
				if err == nil && !strings.HasPrefix(dst, rootReal+string(filepath.Separator)) {
					t.Errorf("%s: symlink %s resolves to %s, outside the root", filepath.Base(p), q, dst)
				}
			}
			return nil
		})
		check()
	}
	if opened < len(paths)-2 {
		t.Errorf("only %d corpus torrents opened", opened)
	}
	t.Logf("%d of %d corpus torrents opened and written", opened, len(paths))
}

func TestMoveRefusesOverwrite(t *testing.T) {
	info := storagetest.NewInfo("tor", 16<<10, storagetest.FileSpec{Path: []string{"a"}, Length: 100})
	src, dst := t.TempDir(), t.TempDir()
	if err := os.Mkdir(filepath.Join(dst, "tor"), 0o755); err != nil {
		t.Fatal(err)
	}
	tor, err := (&storage.Dir{Root: src}).Open(context.Background(), info, metainfo.Hash{5})
	if err != nil {
		t.Fatal(err)
	}
	defer tor.Close()
	data := bytes.Repeat([]byte{9}, 100)
	if _, err := tor.WriteAt(data, 0); err != nil {
		t.Fatal(err)
	}
	if err := tor.(storage.Mover).Move(context.Background(), dst); !errors.Is(err, fs.ErrExist) {
		t.Fatalf("Move onto an existing directory: %v, want fs.ErrExist", err)
	}
	got := make([]byte, 100)
	if _, err := tor.ReadAt(got, 0); err != nil && err != io.EOF || !bytes.Equal(got, data) {
		t.Fatalf("after a refused move: %v", err)
	}
	if _, err := os.Stat(filepath.Join(src, "tor", "a")); err != nil {
		t.Fatalf("data left its directory: %v", err)
	}
}
