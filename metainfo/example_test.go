package metainfo_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/bittern/bittern/metainfo"
)

func ExampleLoadFile() {
	mi, err := metainfo.LoadFile("testdata/libtorrent/v2_hybrid.torrent")
	if err != nil {
		fmt.Println(err)
		return
	}
	info := mi.Info()
	fmt.Println(info.Name, info.IsHybrid())
	fmt.Println("v1:", mi.InfoHash())
	fmt.Println("v2:", mi.InfoHashV2())
	for _, f := range info.Files[:3] {
		fmt.Println(f.Offset, f.Length, f.Pad, strings.Join(f.Path, "/"))
	}
	// Output:
	// bittorrent-v1-v2-hybrid-test true
	// v1: 514c76c1f27ec61ca8b37851bcd1cbf0b26cf120
	// v2: 518fbaf39b37020c896e8768a967da6d76bbd5ef7a02c761021b65a72c6cfa11
	// 0 6535405 false Darkroom (Stellar, 1994, Amiga ECS) HQ.mp4
	// 6535405 280339 true 280339
	// 6815744 20506624 false Spaceballs-StateOfTheArt.avi
}

func ExampleLoad_rejected() {
	f, err := os.Open("testdata/libtorrent/v2_zero_root.torrent")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer f.Close()
	_, err = metainfo.Load(f)
	fmt.Println(err)
	// Output:
	// metainfo: info.file tree["test1MB"].pieces root: missing or zero pieces root: all zeros
}

func ExampleParseMagnet() {
	m, err := metainfo.ParseMagnet("magnet:?xt=urn:btih:c0fda1edafdbdbb96443424e0b3899af7159d10e" +
		"&dn=temp&tr=udp%3A%2F%2Ftracker.example%3A6969&x.pe=127.0.0.1:6881&so=0,2-3")
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(m.InfoHash, m.Name, m.Trackers, m.Peers, m.SelectOnly)
	// Output:
	// c0fda1edafdbdbb96443424e0b3899af7159d10e temp [udp://tracker.example:6969] [127.0.0.1:6881] [{0 0} {2 3}]
}

func ExampleMagnet_String() {
	v2, _ := metainfo.ParseHashV2("597b180c1a170a585dfc5e85d834d69013ceda174b8f357d5bb1a0ca509faf0a")
	m := &metainfo.Magnet{InfoHashV2: v2, Name: "test64K", Trackers: []string{"http://t.example/announce"}}
	fmt.Println(m)
	// Output:
	// magnet:?xt=urn:btmh:1220597b180c1a170a585dfc5e85d834d69013ceda174b8f357d5bb1a0ca509faf0a&dn=test64K&tr=http%3A%2F%2Ft.example%2Fannounce
}

func ExampleBuilder() {
	dir, err := os.MkdirTemp("", "example")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer os.RemoveAll(dir)
	root := filepath.Join(dir, "photos")
	os.MkdirAll(filepath.Join(root, "2024"), 0o755)
	os.WriteFile(filepath.Join(root, "2024", "a.jpg"), make([]byte, 40000), 0o644)
	os.WriteFile(filepath.Join(root, "b.jpg"), make([]byte, 1000), 0o644)

	b := &metainfo.Builder{
		Version:        metainfo.Hybrid,
		PieceLength:    32 << 10,
		Trackers:       [][]string{{"http://tracker.example/announce"}},
		NoCreationDate: true, // reproducible output
	}
	mi, err := b.Build(context.Background(), root)
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, f := range mi.Info().Files {
		fmt.Println(f.Offset, f.Length, f.Pad, strings.Join(f.Path, "/"))
	}
	fmt.Println(mi.InfoHash())
	fmt.Println(mi.InfoHashV2())
	// Output:
	// 0 40000 false 2024/a.jpg
	// 40000 25536 true .pad/25536
	// 65536 1000 false b.jpg
	// a70cbbf467ee3f37a80cbf5f2cfdb3189f7ebff3
	// c09294ac1d6a2ce08d44e910886885d5b49661349d4f4557932ee54d9ab2e137
}

func ExampleMerkleRoot() {
	data := make([]byte, 3*metainfo.BlockSize) // three zero blocks
	blocks := metainfo.BlockHashes(data)
	fmt.Println(len(blocks), metainfo.MerkleRoot(blocks, 4))
	// Output:
	// 3 1cb5a249f6e721060aae623d21d3eca23056bda8c19e4e89f9a086151553713d
}

func ExampleMetaInfo_Magnet() {
	mi, err := metainfo.LoadFile("testdata/libtorrent/v2_hybrid.torrent")
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(mi.Magnet())
	// Output:
	// magnet:?xt=urn:btih:514c76c1f27ec61ca8b37851bcd1cbf0b26cf120&xt=urn:btmh:1220518fbaf39b37020c896e8768a967da6d76bbd5ef7a02c761021b65a72c6cfa11&dn=bittorrent-v1-v2-hybrid-test
}
