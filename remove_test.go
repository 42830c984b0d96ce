package bittern

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"testing/synctest"
	"time"

	"github.com/bittern/bittern/metainfo"
	"github.com/bittern/bittern/storage"
)

// downloadToDir downloads mi (from a seeder of data) into a storage.Dir at
// dir and returns the leecher session and torrent.
func downloadToDir(t *testing.T, n *pipeNet, dir string, mi *metainfo.MetaInfo, data []byte) (*Session, *Torrent) {
	t.Helper()
	s := newPipeSession(t, n, "10.0.1.1:6881", &Config{Storage: &storage.Dir{Root: dir}})
	tor, err := s.AddTorrent(context.Background(), mi, &TorrentOptions{Peers: seedAddr})
	if err != nil {
		s.Close()
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Hour)
	defer cancel()
	if err := tor.Wait(ctx); err != nil {
		s.Close()
		t.Fatal(err)
	}
	return s, tor
}

func exists(name string) bool {
	_, err := os.Lstat(name)
	return err == nil
}

// RemoveAndDelete deletes a storage.Dir torrent's files and records; a
// symlink put in place of a file is removed, not followed; the user's own
// file in the torrent's directory stays, and so does the directory.
func TestRemoveAndDeleteDir(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := newPipeNet()
		lengths := []int{40_000, 0, 70_000, 10}
		data := randomData(110_010, 70)
		mi := makeNamedMultiTorrent(t, "multi", data, lengths, 16<<10)
		seeder := startSeeder(t, n, "10.0.0.1:6881", mi, data, nil)
		defer seeder.Close()
		dir, outside := t.TempDir(), t.TempDir()
		s, tor := downloadToDir(t, n, dir, mi, data)
		defer s.Close()

		secret := filepath.Join(outside, "secret")
		if err := os.WriteFile(secret, []byte("keep me"), 0o644); err != nil {
			t.Fatal(err)
		}
		a := filepath.Join(dir, "multi", "dir", "a")
		if err := os.Remove(a); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(secret, a); err != nil {
			t.Fatal(err)
		}
		mine := filepath.Join(dir, "multi", "notes.txt")
		if err := os.WriteFile(mine, []byte("mine"), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := s.RemoveAndDelete(context.Background(), tor); err != nil {
			t.Fatal(err)
		}
		if s.Torrent(mi.InfoHash()) != nil {
			t.Error("the torrent is still in the session")
		}
		for _, name := range []string{"a", "c", "d"} {
			if p := filepath.Join(dir, "multi", "dir", name); exists(p) {
				t.Errorf("%s still exists", p)
			}
		}
		if exists(filepath.Join(dir, "multi", "dir")) {
			t.Error("the emptied directory multi/dir still exists")
		}
		if b, err := os.ReadFile(secret); err != nil || string(b) != "keep me" {
			t.Errorf("the symlink's target: %q, %v", b, err)
		}
		if !exists(mine) {
			t.Error("the user's file in the torrent's directory was deleted")
		}
		entries, err := os.ReadDir(dir)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range entries {
			if e.Name() != "multi" {
				t.Errorf("left in the download directory: %s", e.Name())
			}
		}
	})
}

// A directory of the torrent replaced by a symlink out of the download
// directory is not followed: what it points to stays, and the error says
// the deletion was incomplete.
func TestRemoveAndDeleteDirSymlinkOut(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := newPipeNet()
		data := randomData(50_000, 71)
		mi := makeNamedMultiTorrent(t, "multi", data, []int{20_000, 30_000}, 16<<10)
		seeder := startSeeder(t, n, "10.0.0.1:6881", mi, data, nil)
		defer seeder.Close()
		dir, outside := t.TempDir(), t.TempDir()
		s, tor := downloadToDir(t, n, dir, mi, data)
		defer s.Close()
		for _, name := range []string{"a", "b"} {
			if err := os.WriteFile(filepath.Join(outside, name), []byte("outside"), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		sub := filepath.Join(dir, "multi", "dir")
		if err := os.RemoveAll(sub); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(outside, sub); err != nil {
			t.Fatal(err)
		}
		err := s.RemoveAndDelete(context.Background(), tor)
		t.Logf("RemoveAndDelete: %v", err)
		if err == nil {
			t.Error("RemoveAndDelete = nil, want an error for the paths out of the directory")
		}
		for _, name := range []string{"a", "b"} {
			if !exists(filepath.Join(outside, name)) {
				t.Errorf("%s outside the download directory was deleted", name)
			}
		}
	})
}

// With storage.Memory the data is forgotten; with a storage that cannot
// delete, the torrent is removed and the error wraps ErrUnsupported.
func TestRemoveAndDeleteMemoryAndUnsupported(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := newPipeNet()
		data := randomData(64<<10, 72)
		mi := makeTorrent(t, "mem.bin", data, 16<<10)
		st := &storage.Memory{}
		fill(t, st, mi, data)
		s := newPipeSession(t, n, "10.0.0.1:6881", &Config{Storage: st})
		defer s.Close()
		tor, err := s.AddTorrent(context.Background(), mi, nil)
		if err != nil {
			t.Fatal(err)
		}
		if err := s.RemoveAndDelete(context.Background(), tor); err != nil {
			t.Fatal(err)
		}
		if got := contents(t, st, mi); !bytes.Equal(got, make([]byte, len(data))) {
			t.Error("the data is still in memory")
		}

		other := &storage.Memory{}
		fill(t, other, mi, data)
		tor, err = s.AddTorrent(context.Background(), mi, &TorrentOptions{Storage: failingStorage{other, nil}})
		if err != nil {
			t.Fatal(err)
		}
		if err := s.RemoveAndDelete(context.Background(), tor); !errors.Is(err, ErrUnsupported) {
			t.Errorf("RemoveAndDelete = %v, want ErrUnsupported", err)
		}
		if s.Torrent(mi.InfoHash()) != nil {
			t.Error("the torrent is still in the session")
		}
		if !bytes.Equal(contents(t, other, mi), data) {
			t.Error("data deleted by a storage that cannot delete")
		}
	})
}
