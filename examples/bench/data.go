package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"time"

	"github.com/bittern/bittern/metainfo"
)

// workload is the file and torrent every implementation transfers.
type workload struct {
	torrent string // path of the .torrent
	seedDir string // directory holding the file, as the seeder's data directory
	name    string // the file's name inside seedDir (the torrent's name)
	size    int64
}

// prepare generates (or reuses) a file of size pseudo-random bytes under dir
// and a v1 torrent of it.
func prepare(ctx context.Context, dir string, size, pieceLen int64, log io.Writer) (*workload, error) {
	w := &workload{
		seedDir: filepath.Join(dir, "seed"),
		name:    fmt.Sprintf("bench-%d.bin", size),
		size:    size,
	}
	w.torrent = filepath.Join(dir, fmt.Sprintf("bench-%d-%d.torrent", size, pieceLen))
	path := filepath.Join(w.seedDir, w.name)
	if fi, err := os.Stat(path); err != nil || fi.Size() != size {
		start := time.Now()
		if err := writeRandom(path, size); err != nil {
			return nil, err
		}
		fmt.Fprintf(log, "bench: generated %s in %v\n", path, time.Since(start).Round(time.Millisecond))
		os.Remove(w.torrent)
	}
	if mi, err := metainfo.LoadFile(w.torrent); err == nil && mi.Info().TotalLength() == size && mi.Info().Name == w.name {
		return w, nil
	}
	start := time.Now()
	mi, err := (&metainfo.Builder{Version: metainfo.V1, PieceLength: pieceLen, NoCreationDate: true}).Build(ctx, path)
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	if err := mi.Write(&buf); err != nil {
		return nil, err
	}
	if err := os.WriteFile(w.torrent, buf.Bytes(), 0o644); err != nil {
		return nil, err
	}
	fmt.Fprintf(log, "bench: torrent of %d pieces of %d KiB hashed in %v\n",
		mi.Info().NumPieces(), mi.Info().PieceLength>>10, time.Since(start).Round(time.Millisecond))
	return w, nil
}

// writeRandom writes n pseudo-random bytes (always the same ones) to path.
func writeRandom(path string, n int64) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	r := rand.NewChaCha8([32]byte{'b', 'e', 'n', 'c', 'h'})
	if _, err := io.CopyN(f, r, n); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// sameFile reports whether the files at a and b hold the same bytes.
func sameFile(a, b string) (bool, error) {
	fa, err := os.Open(a)
	if err != nil {
		return false, err
	}
	defer fa.Close()
	fb, err := os.Open(b)
	if err != nil {
		return false, err
	}
	defer fb.Close()
	ba, bb := make([]byte, 1<<20), make([]byte, 1<<20)
	for {
		na, ea := io.ReadFull(fa, ba)
		nb, eb := io.ReadFull(fb, bb)
		if na != nb || !bytes.Equal(ba[:na], bb[:nb]) {
			return false, nil
		}
		if ea == io.EOF || ea == io.ErrUnexpectedEOF {
			return eb == ea, nil
		}
		if ea != nil {
			return false, ea
		}
		if eb != nil {
			return false, eb
		}
	}
}
