package storage_test

import (
	"context"
	"crypto/sha1"
	"fmt"

	"github.com/bittern/bittern/metainfo"
	"github.com/bittern/bittern/storage"
)

// A two-file torrent in memory: write the byte space, verify the pieces,
// read a file's bytes back.
func Example() {
	ctx := context.Background()
	info := &metainfo.Info{
		Name:        "demo",
		PieceLength: 16 << 10,
		MetaVersion: 1,
		Files: []metainfo.File{
			{Path: []string{"hello.txt"}, Length: 13, Offset: 0},
			{Path: []string{"world.txt"}, Length: 6, Offset: 13},
		},
	}
	content := []byte("Hello, world!world\n")
	sum := sha1.Sum(content)
	info.Pieces = sum[:]

	tor, err := new(storage.Memory).Open(ctx, info, metainfo.HashBytes([]byte("demo")))
	if err != nil {
		panic(err)
	}
	defer tor.Close()
	if _, err := tor.WriteAt(content, 0); err != nil {
		panic(err)
	}

	v, err := storage.NewVerifier(info, nil)
	if err != nil {
		panic(err)
	}
	ok, err := v.Recheck(ctx, tor, nil)
	if err != nil {
		panic(err)
	}
	fmt.Println("pieces verified:", ok)

	buf := make([]byte, 6)
	if _, err := tor.ReadAt(buf, 13); err != nil {
		panic(err)
	}
	fmt.Printf("world.txt: %q\n", buf)
	// Output:
	// pieces verified: [true]
	// world.txt: "world\n"
}
