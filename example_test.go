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

// Two sessions on loopback: one seeds a file, the other downloads it.
func Example() {
	dir, err := os.MkdirTemp("", "bittern-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	data := make([]byte, 3<<20)
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

	// The seeder finds the complete file in its DataDir.
	seeder, err := bittern.NewSession(&bittern.Config{ListenAddr: "127.0.0.1:0", DataDir: dir})
	if err != nil {
		log.Fatal(err)
	}
	defer seeder.Close()
	if _, err := seeder.AddTorrent(ctx, mi, nil); err != nil {
		log.Fatal(err)
	}

	// The leecher keeps its copy in memory and is told where the seeder is.
	leecher, err := bittern.NewSession(&bittern.Config{NoListen: true, Storage: &storage.Memory{}})
	if err != nil {
		log.Fatal(err)
	}
	defer leecher.Close()
	seederAddr := netip.MustParseAddrPort(seeder.Addr().String())
	t, err := leecher.AddTorrent(ctx, mi, &bittern.TorrentOptions{Peers: []netip.AddrPort{seederAddr}})
	if err != nil {
		log.Fatal(err)
	}
	if err := t.Wait(ctx); err != nil {
		log.Fatal(err)
	}
	st := t.Stats()
	fmt.Println("complete:", st.Complete, "bytes:", st.BytesHave)
	// Output: complete: true bytes: 3145728
}
