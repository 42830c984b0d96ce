package storage_test

import (
	"context"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	"github.com/bittern/bittern/metainfo"
	"github.com/bittern/bittern/storage"
)

// The fixtures in testdata were made by libtorrent (testdata/gen.py): an
// independent oracle for the layout of v1, v2 and hybrid torrents (pad
// files included) and for both hash schemes.

func loadFixture(t testing.TB, kind string) *metainfo.MetaInfo {
	t.Helper()
	mi, err := metainfo.LoadFile(filepath.Join("testdata", kind+".torrent"))
	if err != nil {
		t.Fatalf("load %s: %v", kind, err)
	}
	return mi
}

func ihOf(mi *metainfo.MetaInfo) metainfo.Hash {
	if h := mi.InfoHash(); !h.IsZero() {
		return h
	}
	return mi.InfoHashV2().Truncate()
}

// copyTree copies testdata/tree into dir/tree.
func copyTree(t testing.TB, dir string) {
	t.Helper()
	err := filepath.WalkDir("testdata/tree", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel("testdata", p)
		if d.IsDir() {
			return os.MkdirAll(filepath.Join(dir, rel), 0o755)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dir, rel), b, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
}

func recheckAll(t testing.TB, mi *metainfo.MetaInfo, r io.ReaderAt) []bool {
	t.Helper()
	v, err := storage.NewVerifier(mi.Info(), mi.PieceLayers)
	if err != nil {
		t.Fatalf("NewVerifier: %v", err)
	}
	ok, err := v.Recheck(context.Background(), r, nil)
	if err != nil {
		t.Fatalf("Recheck: %v", err)
	}
	return ok
}

func countTrue(b []bool) int {
	n := 0
	for _, v := range b {
		if v {
			n++
		}
	}
	return n
}

func TestFixturesRecheck(t *testing.T) {
	for _, kind := range []string{"v1", "v2", "hybrid"} {
		t.Run(kind, func(t *testing.T) {
			mi := loadFixture(t, kind)
			dir := t.TempDir()
			copyTree(t, dir)
			tor, err := (&storage.Dir{Root: dir}).Open(context.Background(), mi.Info(), ihOf(mi))
			if err != nil {
				t.Fatal(err)
			}
			defer tor.Close()
			ok := recheckAll(t, mi, tor)
			if countTrue(ok) != len(ok) {
				t.Fatalf("%d of %d pieces verified on libtorrent's own data", countTrue(ok), len(ok))
			}
			// Flip one byte in d/e.bin: exactly the pieces holding it fail.
			info := mi.Info()
			var fe metainfo.File
			for _, f := range info.Files {
				if len(f.Path) == 2 && f.Path[1] == "e.bin" {
					fe = f
				}
			}
			if _, err := tor.WriteAt([]byte{'X'}, fe.Offset+12345); err != nil {
				t.Fatal(err)
			}
			ok = recheckAll(t, mi, tor)
			bad := int((fe.Offset + 12345) / info.PieceLength)
			for p, v := range ok {
				if v == (p == bad) {
					t.Errorf("piece %d: verified=%v after corrupting piece %d", p, v, bad)
				}
			}
		})
	}
}

// TestFixturesWrite downloads each fixture into an empty directory through
// the byte space and compares the files with libtorrent's.
func TestFixturesWrite(t *testing.T) {
	for _, kind := range []string{"v1", "v2", "hybrid"} {
		t.Run(kind, func(t *testing.T) {
			mi := loadFixture(t, kind)
			src := t.TempDir()
			copyTree(t, src)
			ctx := context.Background()
			from, err := (&storage.Dir{Root: src}).Open(ctx, mi.Info(), ihOf(mi))
			if err != nil {
				t.Fatal(err)
			}
			defer from.Close()
			dst := t.TempDir()
			to, err := (&storage.Dir{Root: dst, MaxOpenFiles: 2}).Open(ctx, mi.Info(), ihOf(mi))
			if err != nil {
				t.Fatal(err)
			}
			info := mi.Info()
			buf := make([]byte, info.PieceLength)
			var total int64
			for _, f := range info.Files {
				total += f.Length
			}
			for off := int64(0); off < total; off += info.PieceLength {
				n := min(info.PieceLength, total-off)
				if _, err := from.ReadAt(buf[:n], off); err != nil && err != io.EOF {
					t.Fatal(err)
				}
				if _, err := to.WriteAt(buf[:n], off); err != nil {
					t.Fatal(err)
				}
			}
			if err := to.Close(); err != nil {
				t.Fatal(err)
			}
			// Same files, byte for byte, and nothing else (no pad files).
			var got []string
			_ = filepath.WalkDir(dst, func(p string, d fs.DirEntry, err error) error {
				if err == nil && !d.IsDir() {
					rel, _ := filepath.Rel(dst, p)
					got = append(got, rel)
					a, _ := os.ReadFile(p)
					b, _ := os.ReadFile(filepath.Join(src, rel))
					if string(a) != string(b) {
						t.Errorf("%s differs from libtorrent's", rel)
					}
				}
				return nil
			})
			if len(got) != 5 {
				t.Errorf("files written: %v, want the 5 data files", got)
			}
		})
	}
}
