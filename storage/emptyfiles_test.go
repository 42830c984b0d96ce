package storage

import (
	"os"
	"path/filepath"
	"testing"
)

func TestEmptyFilesCreated(t *testing.T) {
	root := t.TempDir()
	info := testInfo(16<<10, 100, 0, 50, 0)
	info.Files[3].Path = []string{"sub", "d"} // its directory too
	tor := openT(t, &Dir{Root: root}, info)
	defer tor.Close()
	for _, name := range []string{"b", "sub/d"} {
		fi, err := os.Stat(filepath.Join(root, "t", name))
		if err != nil || fi.Size() != 0 || !fi.Mode().IsRegular() {
			t.Fatalf("%s: %v %v", name, fi, err)
		}
	}
	if _, err := os.Stat(filepath.Join(root, "t", "a")); !os.IsNotExist(err) {
		t.Fatalf("file with data created before any write: %v", err)
	}

	// Skipping them takes back what Open made; selecting them makes them again.
	if err := tor.SetWantedFiles([]bool{true, false, true, false}); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"b", "sub/d"} {
		if _, err := os.Stat(filepath.Join(root, "t", name)); !os.IsNotExist(err) {
			t.Fatalf("%s: skipped empty file kept: %v", name, err)
		}
	}
	if err := tor.SetWantedFiles([]bool{true, true, true, true}); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "t", "b")); err != nil {
		t.Fatal(err)
	}
}

func TestEmptyFileOfOthersKept(t *testing.T) {
	root := t.TempDir()
	if err := os.MkdirAll(filepath.Join(root, "t"), 0o777); err != nil {
		t.Fatal(err)
	}
	// Already there (the user's) and later written to: never removed.
	if err := os.WriteFile(filepath.Join(root, "t", "b"), nil, 0o666); err != nil {
		t.Fatal(err)
	}
	info := testInfo(16<<10, 100, 0, 0)
	tor := openT(t, &Dir{Root: root}, info)
	defer tor.Close()
	if err := os.WriteFile(filepath.Join(root, "t", "c"), []byte("x"), 0o666); err != nil {
		t.Fatal(err)
	}
	if err := tor.SetWantedFiles([]bool{true, false, false}); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"b", "c"} {
		if _, err := os.Stat(filepath.Join(root, "t", name)); err != nil {
			t.Fatalf("%s removed: %v", name, err)
		}
	}
}

func TestEmptyFilesReadOnlyDir(t *testing.T) {
	if os.Geteuid() == 0 {
		t.Skip("root ignores permissions")
	}
	root := t.TempDir()
	if err := os.MkdirAll(filepath.Join(root, "t"), 0o555); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.Chmod(filepath.Join(root, "t"), 0o755) })
	tor := openT(t, &Dir{Root: root}, testInfo(16<<10, 100, 0))
	_ = tor.Close()
}
