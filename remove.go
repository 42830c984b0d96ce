package bittern

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"runtime"
	"slices"
	"strings"

	"github.com/bittern/bittern/metainfo"
	"github.com/bittern/bittern/storage"
)

// DataDeleter is implemented by a storage.Storage that can delete the data
// of a torrent it stores, once the torrent is closed; RemoveAndDelete uses
// it. The session deletes the data of storage.Memory and storage.Dir
// itself.
type DataDeleter interface {
	// DeleteData deletes every byte the storage keeps for the torrent,
	// completion record included; what is already missing is not an
	// error.
	DeleteData(ctx context.Context, info *metainfo.Info, ih metainfo.Hash) error
}

// RemoveAndDelete removes the torrent as Remove does and then deletes its
// data from its storage: the torrent's files (never following a symlink
// out of the download directory, and keeping directories that hold other
// files) and the storage's records of it. It needs a storage that
// implements DataDeleter, or a storage.Memory or storage.Dir (whose
// download directory the files must still be in: data moved elsewhere is
// not found); with another storage the torrent is removed, its data kept,
// and the error wraps ErrUnsupported. ctx bounds the deletion.
func (s *Session) RemoveAndDelete(ctx context.Context, t *Torrent) error {
	s.Remove(t)
	if t.info == nil {
		return nil // a magnet's torrent without metadata stored nothing
	}
	if err := deleteData(ctx, t.stor, t.info, t.mi.SwarmHash()); err != nil { // the key Open got
		return fmt.Errorf("bittern: delete data: %w", err)
	}
	return nil
}

// deleteData deletes a closed torrent's data from stor.
func deleteData(ctx context.Context, stor storage.Storage, info *metainfo.Info, ih metainfo.Hash) error {
	switch st := stor.(type) {
	case DataDeleter:
		return st.DeleteData(ctx, info, ih)
	case *storage.Memory:
		st.Delete(ih)
		return nil
	case *storage.Dir:
		return deleteDirData(ctx, st.Root, info, ih)
	}
	return fmt.Errorf("%w: storage %T cannot delete data (no DataDeleter)", ErrUnsupported, stor)
}

// deleteDirData deletes the files storage.Dir keeps for a torrent under
// dir: the torrent's files (links themselves, not what they point to) and
// its hidden part and resume files, then the directories of the torrent
// that are left empty. Everything goes through an os.Root, so no path or
// symlink reaches outside dir.
func deleteDirData(ctx context.Context, dir string, info *metainfo.Info, ih metainfo.Hash) error {
	if runtime.GOOS == "windows" {
		// storage.Dir maps names Windows cannot store; this does not.
		return fmt.Errorf("%w: deleting storage.Dir data on Windows", ErrUnsupported)
	}
	if dir == "" {
		return errors.New("storage.Dir.Root is empty")
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return err
	}
	root, err := os.OpenRoot(abs)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		return err
	}
	defer root.Close()
	var errs []error
	remove := func(name string) {
		if err := root.Remove(name); err != nil && !errors.Is(err, fs.ErrNotExist) {
			errs = append(errs, err)
		}
	}
	dirs := make(map[string]bool)
	for _, f := range info.Files {
		if err := ctx.Err(); err != nil {
			return err
		}
		if f.Pad || !safeComponents(f.Path) {
			continue
		}
		comps := f.Path
		if !info.SingleFile {
			if !safeComponents([]string{info.Name}) {
				continue
			}
			comps = append([]string{info.Name}, f.Path...)
		}
		name := strings.Join(comps, "/")
		remove(name)
		for d := path.Dir(name); d != "."; d = path.Dir(d) {
			dirs[d] = true
		}
	}
	hidden := "." + ih.String()
	for _, name := range []string{hidden + ".parts", hidden + ".resume", hidden + ".resume.tmp"} {
		remove(name)
	}
	// Deepest first; a directory still holding other files stays.
	ds := make([]string, 0, len(dirs))
	for d := range dirs {
		ds = append(ds, d)
	}
	slices.SortFunc(ds, func(a, b string) int {
		return cmp.Compare(strings.Count(b, "/"), strings.Count(a, "/"))
	})
	for _, d := range ds {
		if fi, err := root.Lstat(d); err != nil || !fi.IsDir() {
			continue // gone, or a symlink: not ours to follow
		}
		_ = root.Remove(d) // fails if not empty: kept
	}
	return errors.Join(errs...)
}

// safeComponents reports whether every component is a plain name.
func safeComponents(comps []string) bool {
	if len(comps) == 0 {
		return false
	}
	for _, c := range comps {
		if c == "" || c == "." || c == ".." || strings.ContainsAny(c, "/\\\x00") {
			return false
		}
	}
	return true
}
