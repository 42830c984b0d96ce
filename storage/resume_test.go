package storage_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/bittern/bittern/metainfo"
	"github.com/bittern/bittern/storage"
	"github.com/bittern/bittern/storage/storagetest"
)

func resumeInfo() *metainfo.Info {
	// 4 pieces: piece 0 in a, piece 1 in a and b, pieces 2-3 in b.
	return storagetest.NewInfo("res", 16<<10,
		storagetest.FileSpec{Path: []string{"a"}, Length: 20000},
		storagetest.FileSpec{Path: []string{"b"}, Length: 45000},
	)
}

func openDir(t testing.TB, root string, info *metainfo.Info, ih metainfo.Hash) storage.Torrent {
	t.Helper()
	tor, err := (&storage.Dir{Root: root}).Open(context.Background(), info, ih)
	if err != nil {
		t.Fatal(err)
	}
	return tor
}

func saveAll(t testing.TB, tor storage.Torrent, v []bool) {
	t.Helper()
	if err := tor.(storage.CompletionStore).SaveCompletion(context.Background(), v); err != nil {
		t.Fatal(err)
	}
}

func load(t testing.TB, tor storage.Torrent) (*storage.Resume, error) {
	t.Helper()
	return tor.(storage.CompletionStore).LoadCompletion(context.Background())
}

func TestResumeChangedFile(t *testing.T) {
	root := t.TempDir()
	info := resumeInfo()
	ih := metainfo.Hash{0x42}
	tor := openDir(t, root, info, ih)
	if _, err := tor.WriteAt(bytes.Repeat([]byte{1}, 65000), 0); err != nil {
		t.Fatal(err)
	}
	saveAll(t, tor, []bool{true, true, true, false})
	tor.Close()

	// Unchanged: all trusted.
	tor = openDir(t, root, info, ih)
	r, err := load(t, tor)
	if err != nil {
		t.Fatal(err)
	}
	if want := []bool{true, true, true, false}; !equalBools(r.Verified, want) || countTrue(r.Recheck) != 0 {
		t.Fatalf("unchanged: verified %v recheck %v", r.Verified, r.Recheck)
	}
	tor.Close()

	// b modified behind our back (same size, new mtime): pieces 1 and 2
	// (saved as verified, touching b) must be rechecked; piece 0 trusted.
	pb := filepath.Join(root, "res", "b")
	if err := os.Chtimes(pb, time.Now(), time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	tor = openDir(t, root, info, ih)
	r, err = load(t, tor)
	if err != nil {
		t.Fatal(err)
	}
	if !equalBools(r.Verified, []bool{true, false, false, false}) || !equalBools(r.Recheck, []bool{false, true, true, false}) {
		t.Fatalf("b touched: verified %v recheck %v", r.Verified, r.Recheck)
	}
	tor.Close()

	// a deleted: its pieces too.
	if err := os.Remove(filepath.Join(root, "res", "a")); err != nil {
		t.Fatal(err)
	}
	tor = openDir(t, root, info, ih)
	defer tor.Close()
	r, err = load(t, tor)
	if err != nil {
		t.Fatal(err)
	}
	if countTrue(r.Verified) != 0 || !equalBools(r.Recheck, []bool{true, true, true, false}) {
		t.Fatalf("a deleted: verified %v recheck %v", r.Verified, r.Recheck)
	}
}

func equalBools(a, b []bool) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// TestResumeTornRecord damages the record every way a crash or a bad disk
// can: each must be rejected with ErrBadResume, never half trusted.
func TestResumeTornRecord(t *testing.T) {
	root := t.TempDir()
	info := resumeInfo()
	ih := metainfo.Hash{0x43}
	tor := openDir(t, root, info, ih)
	if _, err := tor.WriteAt(bytes.Repeat([]byte{1}, 65000), 0); err != nil {
		t.Fatal(err)
	}
	saveAll(t, tor, []bool{true, true, true, true})
	tor.Close()
	name := filepath.Join(root, "."+ih.String()+".resume")
	good, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	damage := map[string][]byte{"empty": nil}
	for _, n := range []int{1, 8, len(good) / 2, len(good) - 1} {
		damage["truncated"+string(rune('0'+n%10))] = good[:n]
	}
	damage["extended"] = append(append([]byte(nil), good...), 0)
	for i := 0; i < len(good); i += 7 {
		b := append([]byte(nil), good...)
		b[i] ^= 0x10
		damage["flip"+string(rune('a'+i%26))+string(rune('a'+i/26%26))] = b
	}
	zeroed := append([]byte(nil), good...)
	clear(zeroed[len(zeroed)/2:]) // a torn page of zeros
	damage["zeroed tail"] = zeroed
	for what, b := range damage {
		if err := os.WriteFile(name, b, 0o644); err != nil {
			t.Fatal(err)
		}
		tor := openDir(t, root, info, ih)
		r, err := load(t, tor)
		tor.Close()
		if !errors.Is(err, storage.ErrBadResume) {
			t.Errorf("%s: LoadCompletion = %v, %v; want ErrBadResume", what, r, err)
		}
	}
	// A record of another torrent, intact, is refused too.
	if err := os.WriteFile(name, good, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(name, filepath.Join(root, "."+metainfo.Hash{0x44}.String()+".resume")); err != nil {
		t.Fatal(err)
	}
	tor = openDir(t, root, info, metainfo.Hash{0x44})
	defer tor.Close()
	if _, err := load(t, tor); !errors.Is(err, storage.ErrBadResume) {
		t.Errorf("foreign record: %v, want ErrBadResume", err)
	}
}

// TestResumeOtherLayout: a record saved for a torrent with the same hash
// but another layout is refused.
func TestResumeOtherLayout(t *testing.T) {
	root := t.TempDir()
	ih := metainfo.Hash{0x45}
	tor := openDir(t, root, resumeInfo(), ih)
	saveAll(t, tor, make([]bool, 4))
	tor.Close()
	other := storagetest.NewInfo("res", 32<<10,
		storagetest.FileSpec{Path: []string{"a"}, Length: 20000},
		storagetest.FileSpec{Path: []string{"b"}, Length: 45000},
	)
	tor = openDir(t, root, other, ih)
	defer tor.Close()
	if _, err := load(t, tor); !errors.Is(err, storage.ErrBadResume) {
		t.Errorf("other layout: %v, want ErrBadResume", err)
	}
}

// TestResumeSurvivesMove: moving the data keeps sizes and mtimes, so the
// record still trusts every piece afterwards (and after a reopen there).
func TestResumeSurvivesMove(t *testing.T) {
	src, dst := t.TempDir(), t.TempDir()
	info := resumeInfo()
	ih := metainfo.Hash{0x46}
	tor := openDir(t, src, info, ih)
	if _, err := tor.WriteAt(bytes.Repeat([]byte{1}, 65000), 0); err != nil {
		t.Fatal(err)
	}
	saved := []bool{true, true, false, true}
	saveAll(t, tor, saved)
	if err := tor.(storage.Mover).Move(context.Background(), dst); err != nil {
		t.Fatal(err)
	}
	r, err := load(t, tor)
	if err != nil || !equalBools(r.Verified, saved) || countTrue(r.Recheck) != 0 {
		t.Fatalf("after move: %+v, %v", r, err)
	}
	tor.Close()
	tor = openDir(t, dst, info, ih)
	defer tor.Close()
	r, err = load(t, tor)
	if err != nil || !equalBools(r.Verified, saved) || countTrue(r.Recheck) != 0 {
		t.Fatalf("reopened after move: %+v, %v", r, err)
	}
}
