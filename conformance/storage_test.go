//go:build interop

package conformance

import (
	"context"
	"io"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/bittern/bittern/metainfo"
	"github.com/bittern/bittern/storage"
)

var storageFiles = map[string]int{
	"a.bin":           100000,
	"empty":           0,
	"one-piece":       32768,
	"sub/b":           70001,
	"sub/c/tiny":      1,
	"sub/c/d.bin":     200000,
	"z/last-odd-size": 45679,
}

// TestStorageLibtorrentLayout checks Dir's file layout against libtorrent
// for v1, v2 and hybrid torrents (pad files included): libtorrent's data
// verifies with our Verifier, and data we write through the byte space —
// whole, or with a file deselected into the part file — is what libtorrent
// (and, for v1, aria2) finds on disk when it checks the files.
func TestStorageLibtorrentLayout(t *testing.T) {
	for _, kind := range []string{"v1", "v2", "hybrid"} {
		t.Run(kind, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
			defer cancel()
			src := t.TempDir()
			storageWriteTree(t, filepath.Join(src, "payload"), storageFiles, 1)
			torrentPath := filepath.Join(t.TempDir(), kind+".torrent")
			runPython(t, ctx, storageMakeTorrent, filepath.Join(src, "payload"), kind, "32768", torrentPath)
			mi, err := metainfo.LoadFile(torrentPath)
			if err != nil {
				t.Fatal(err)
			}
			info := mi.Info()
			ih := mi.InfoHash()
			if ih.IsZero() {
				ih = mi.InfoHashV2().Truncate()
			}
			v, err := storage.NewVerifier(info, mi.PieceLayers)
			if err != nil {
				t.Fatal(err)
			}

			// 1. libtorrent's data verifies with ours.
			from, err := (&storage.Dir{Root: src}).Open(ctx, info, ih)
			if err != nil {
				t.Fatal(err)
			}
			defer from.Close()
			ok, err := v.Recheck(ctx, from, nil)
			if err != nil {
				t.Fatal(err)
			}
			for p, good := range ok {
				if !good {
					t.Fatalf("piece %d of libtorrent's data fails our verification", p)
				}
			}

			// 2. Written by us in random block order, checked by libtorrent.
			dst := t.TempDir()
			storageCopy(t, ctx, from, dst, info, ih, nil)
			if got := storageLibtorrentPieces(t, torrentPath, dst); got != strings.Repeat("1", info.NumPieces()) {
				t.Fatalf("libtorrent's check of our files: %s", got)
			}
			if kind == "v1" { // aria2 knows v1 only
				if !storageAria2Complete(t, torrentPath, dst) {
					t.Fatal("aria2 finds our files incomplete")
				}
				// And it is no rubber stamp: a flipped byte fails it.
				storageFlipByte(t, filepath.Join(dst, "payload", "sub", "c", "d.bin"), 777)
				if storageAria2Complete(t, torrentPath, dst) {
					t.Fatal("aria2 accepted a corrupted file")
				}
			}

			// 3. With sub/b deselected: it is not created, every piece
			// not touching it is good for libtorrent.
			deselect := -1
			for i, f := range info.Files {
				if strings.Join(f.Path, "/") == "sub/b" {
					deselect = i
				}
			}
			dst2 := t.TempDir()
			storageCopy(t, ctx, from, dst2, info, ih, func(i int) bool { return i != deselect })
			if _, err := os.Stat(filepath.Join(dst2, "payload", "sub", "b")); !os.IsNotExist(err) {
				t.Fatalf("deselected file exists: %v", err)
			}
			f := info.Files[deselect]
			first, last := int(f.Offset/info.PieceLength), int((f.Offset+f.Length-1)/info.PieceLength)
			var want strings.Builder
			for p := range info.NumPieces() {
				if p >= first && p <= last {
					want.WriteByte('0')
				} else {
					want.WriteByte('1')
				}
			}
			if got := storageLibtorrentPieces(t, torrentPath, dst2); got != want.String() {
				t.Fatalf("with sub/b deselected, libtorrent finds %s, want %s", got, want.String())
			}
		})
	}
}

// storageCopy writes the byte space of from into a new Dir at root, in
// random 16 KiB blocks, with the files for which wanted is false
// deselected (nil: all wanted); then it checks the copy reads back equal
// and closes it.
func storageCopy(t *testing.T, ctx context.Context, from storage.Torrent, root string, info *metainfo.Info, ih metainfo.Hash, wanted func(int) bool) {
	t.Helper()
	to, err := (&storage.Dir{Root: root, MaxOpenFiles: 2}).Open(ctx, info, ih)
	if err != nil {
		t.Fatal(err)
	}
	if wanted != nil {
		w := make([]bool, len(info.Files))
		for i := range w {
			w[i] = wanted(i)
		}
		if err := to.(storage.FileSelector).SetWantedFiles(w); err != nil {
			t.Fatal(err)
		}
	}
	total := info.TotalLength()
	const block = 16 << 10
	var offs []int64
	for off := int64(0); off < total; off += block {
		offs = append(offs, off)
	}
	rand.Shuffle(len(offs), func(i, j int) { offs[i], offs[j] = offs[j], offs[i] })
	buf := make([]byte, block)
	for _, off := range offs {
		b := buf[:min(block, total-off)]
		if _, err := from.ReadAt(b, off); err != nil && err != io.EOF {
			t.Fatal(err)
		}
		if _, err := to.WriteAt(b, off); err != nil {
			t.Fatal(err)
		}
	}
	a, b := make([]byte, total), make([]byte, total)
	if _, err := from.ReadAt(a, 0); err != nil && err != io.EOF {
		t.Fatal(err)
	}
	if _, err := to.ReadAt(b, 0); err != nil && err != io.EOF {
		t.Fatal(err)
	}
	if string(a) != string(b) {
		t.Fatal("copy reads back different bytes")
	}
	if err := to.Close(); err != nil {
		t.Fatal(err)
	}
	// No pad file, no stray temporary file.
	_ = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err == nil && (strings.Contains(p, ".pad") || strings.HasSuffix(p, ".tmp")) {
			t.Errorf("unexpected file %s", p)
		}
		return nil
	})
}

// storageFlipByte inverts one byte of the file at path.
func storageFlipByte(t *testing.T, path string, off int64) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	b := make([]byte, 1)
	if _, err := f.ReadAt(b, off); err != nil {
		t.Fatal(err)
	}
	b[0] ^= 0xff
	if _, err := f.WriteAt(b, off); err != nil {
		t.Fatal(err)
	}
}
