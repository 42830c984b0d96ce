package bittern_test

import (
	"context"
	"crypto/rand"
	"fmt"
	"log"
	"net/netip"
	"os"
	"path/filepath"
	"time"

	"github.com/bittern/bittern"
	"github.com/bittern/bittern/metainfo"
	"github.com/bittern/bittern/storage"
)

// An embedder follows a download through events, and deletes the torrent
// and its data at the end.
func ExampleSession_Subscribe() {
	dir, err := os.MkdirTemp("", "bittern-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	data := make([]byte, 1<<20)
	rand.Read(data)
	if err := os.WriteFile(filepath.Join(dir, "file.bin"), data, 0o644); err != nil {
		log.Fatal(err)
	}
	mi, err := (&metainfo.Builder{Version: metainfo.V1}).Build(context.Background(), filepath.Join(dir, "file.bin"))
	if err != nil {
		log.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	seeder, err := bittern.NewSession(&bittern.Config{ListenAddr: "127.0.0.1:0", DataDir: dir})
	if err != nil {
		log.Fatal(err)
	}
	defer seeder.Close()
	if _, err := seeder.AddTorrent(ctx, mi, nil); err != nil {
		log.Fatal(err)
	}

	leecher, err := bittern.NewSession(&bittern.Config{NoListen: true, Storage: &storage.Memory{}})
	if err != nil {
		log.Fatal(err)
	}
	defer leecher.Close()
	sub := leecher.Subscribe(1000) // room for a PieceVerified per piece
	defer sub.Close()
	seederAddr := netip.MustParseAddrPort(seeder.Addr().String())
	t, err := leecher.AddTorrent(ctx, mi, &bittern.TorrentOptions{Peers: []netip.AddrPort{seederAddr}})
	if err != nil {
		log.Fatal(err)
	}
	pieces := 0
	for done := false; !done; {
		switch ev := (<-sub.C).(type) {
		case bittern.PieceVerified:
			pieces++
		case bittern.FileCompleted:
			fmt.Println("file completed:", ev.Path, ev.Length)
		case bittern.TorrentCompleted:
			fmt.Println("torrent completed after", pieces, "pieces")
			done = true
		}
	}
	if err := leecher.RemoveAndDelete(ctx, t); err != nil {
		log.Fatal(err)
	}
	// Output:
	// file completed: [file.bin] 1048576
	// torrent completed after 64 pieces
}
