package main

import (
	"crypto/sha256"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
)

// writeRandom writes n pseudo-random bytes to path, creating its directory,
// and returns their SHA-256.
func writeRandom(path string, n int64) (sum [32]byte, err error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return sum, err
	}
	f, err := os.Create(path)
	if err != nil {
		return sum, err
	}
	h := sha256.New()
	r := rand.NewChaCha8([32]byte{'b', 'i', 't', 't', 'e', 'r', 'n'})
	if _, err := io.CopyN(io.MultiWriter(f, h), r, n); err != nil {
		f.Close()
		return sum, err
	}
	h.Sum(sum[:0])
	return sum, f.Close()
}

// hashFile returns the SHA-256 of the file at path.
func hashFile(path string) (sum [32]byte, err error) {
	f, err := os.Open(path)
	if err != nil {
		return sum, err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return sum, err
	}
	h.Sum(sum[:0])
	return sum, nil
}

// size formats a byte count with a binary unit.
func size(b float64) string {
	units := []string{"B", "KiB", "MiB", "GiB", "TiB"}
	i := 0
	for b >= 1024 && i < len(units)-1 {
		b /= 1024
		i++
	}
	if i == 0 {
		return fmt.Sprintf("%.0f %s", b, units[i])
	}
	return fmt.Sprintf("%.1f %s", b, units[i])
}
