package metainfo_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/bittern/bittern/metainfo"
)

// Build a v1 torrent of one file, write it as a .torrent and load it
// back: the info dictionary travels verbatim, so the info-hash and the
// magnet link are the same on both sides.
func ExampleMetaInfo_Write() {
	dir, err := os.MkdirTemp("", "example")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "notes.txt")
	os.WriteFile(path, bytes.Repeat([]byte("bittern "), 10000), 0o644)

	b := &metainfo.Builder{
		Version:        metainfo.V1,
		PieceLength:    16 << 10,
		Trackers:       [][]string{{"udp://tracker.example:6969"}},
		NoCreationDate: true, // reproducible output
	}
	mi, err := b.Build(context.Background(), path)
	if err != nil {
		fmt.Println(err)
		return
	}
	var file bytes.Buffer
	if err := mi.Write(&file); err != nil {
		fmt.Println(err)
		return
	}

	loaded, err := metainfo.Load(&file)
	if err != nil {
		fmt.Println(err)
		return
	}
	info := loaded.Info()
	fmt.Println(info.Name, info.TotalLength(), info.NumPieces(), loaded.Announce)
	fmt.Println(loaded.InfoHash() == mi.InfoHash())
	fmt.Println(loaded.Magnet())
	// Output:
	// notes.txt 80000 5 udp://tracker.example:6969
	// true
	// magnet:?xt=urn:btih:7dcefcf030e90e6f0c98c7d76649be327d518cfd&dn=notes.txt&tr=udp%3A%2F%2Ftracker.example%3A6969
}
