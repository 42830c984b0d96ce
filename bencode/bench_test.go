package bencode

import (
	"bytes"
	"crypto/rand"
	"fmt"
	"testing"

	"github.com/bittern/bittern/internal/cputime"
	jackpal "github.com/jackpal/bencode-go"
)

// torrentFile and torrentInfo are the typed form of a multi-file torrent.
type torrentFile struct {
	Length int64    `bencode:"length"`
	Path   []string `bencode:"path"`
}

type torrentInfo struct {
	Files       []torrentFile `bencode:"files,omitempty"`
	Length      int64         `bencode:"length,omitempty"`
	Name        string        `bencode:"name"`
	PieceLength int64         `bencode:"piece length"`
	Pieces      []byte        `bencode:"pieces"`
}

type torrent struct {
	Announce     string      `bencode:"announce"`
	AnnounceList [][]string  `bencode:"announce-list,omitempty"`
	CreationDate int64       `bencode:"creation date,omitempty"`
	Info         torrentInfo `bencode:"info"`
}

// benchTorrentFiles is a multi-file torrent with n files.
func benchTorrentFiles(n int) []byte {
	t := torrent{Announce: "http://tracker.example/announce", CreationDate: 1700000000}
	t.Info.Name = "dataset"
	t.Info.PieceLength = 1 << 20
	var total int64
	for i := range n {
		l := int64(1000 + i*37)
		total += l
		t.Info.Files = append(t.Info.Files, torrentFile{Length: l, Path: []string{fmt.Sprintf("dir%03d", i/100), fmt.Sprintf("file-%05d.dat", i)}})
	}
	t.Info.Pieces = make([]byte, 20*((total+t.Info.PieceLength-1)/t.Info.PieceLength))
	rand.Read(t.Info.Pieces)
	b, _ := Marshal(t)
	return b
}

// benchTorrentSingle is a single-file 4 GiB torrent with 256 KiB pieces.
func benchTorrentSingle() []byte {
	t := torrent{Announce: "http://tracker.example/announce"}
	t.Info.Name = "big.iso"
	t.Info.Length = 4 << 30
	t.Info.PieceLength = 256 << 10
	t.Info.Pieces = make([]byte, 20*(t.Info.Length/t.Info.PieceLength))
	rand.Read(t.Info.Pieces)
	b, _ := Marshal(t)
	return b
}

type trackerReply struct {
	Complete    int    `bencode:"complete"`
	Incomplete  int    `bencode:"incomplete"`
	Interval    int    `bencode:"interval"`
	MinInterval int    `bencode:"min interval"`
	Peers       []byte `bencode:"peers"`
}

func benchTrackerReply() []byte {
	r := trackerReply{Complete: 10, Incomplete: 190, Interval: 1800, MinInterval: 900, Peers: make([]byte, 6*200)}
	rand.Read(r.Peers)
	b, _ := Marshal(r)
	return b
}

type krpcReply struct {
	T string `bencode:"t"`
	Y string `bencode:"y"`
	R struct {
		ID     [20]byte `bencode:"id"`
		Nodes  []byte   `bencode:"nodes"`
		Token  []byte   `bencode:"token"`
		Values [][]byte `bencode:"values"`
	} `bencode:"r"`
	V string `bencode:"v,omitempty"`
}

// benchKRPC is a get_peers reply with 8 nodes and 50 values.
func benchKRPC() []byte {
	var k krpcReply
	k.T, k.Y, k.V = "aa", "r", "BT01"
	rand.Read(k.R.ID[:])
	k.R.Nodes = make([]byte, 26*8)
	rand.Read(k.R.Nodes)
	k.R.Token = []byte("tok12345")
	for range 50 {
		v := make([]byte, 6)
		rand.Read(v)
		k.R.Values = append(k.R.Values, v)
	}
	b, _ := Marshal(k)
	return b
}

func benchDecode[T any](b *testing.B, in []byte) {
	b.SetBytes(int64(len(in)))
	b.ReportAllocs()
	defer reportCPU(b)()
	for b.Loop() {
		var v T
		if err := Unmarshal(in, &v); err != nil {
			b.Fatal(err)
		}
	}
}

func benchJackpal[T any](b *testing.B, in []byte) {
	b.SetBytes(int64(len(in)))
	b.ReportAllocs()
	defer reportCPU(b)()
	for b.Loop() {
		var v T
		if err := jackpal.Unmarshal(bytes.NewReader(in), &v); err != nil {
			b.Fatal(err)
		}
	}
}

// reportCPU, deferred around a benchmark loop, reports the process's CPU
// time per operation as "cpu-ns/op" (the garbage collector's included).
// Unlike ns/op it does not count time spent waiting for a core, so it stays
// comparable when other processes load the machine.
func reportCPU(b *testing.B) func() {
	start := cputime.Process()
	return func() {
		if used := cputime.Process() - start; used > 0 {
			b.ReportMetric(float64(used.Nanoseconds())/float64(b.N), "cpu-ns/op")
		}
	}
}

// (a) a single-file 4 GiB torrent with 256 KiB pieces (320 KiB of hashes).
func BenchmarkDecodeSingleFile4GiB(b *testing.B) { benchDecode[torrent](b, benchTorrentSingle()) }

// (b) a 10,000-file torrent: ours and the oracle in the same run.
func BenchmarkDecodeFiles10k(b *testing.B) { benchDecode[torrent](b, benchTorrentFiles(10000)) }

// BenchmarkDecodeFiles10kJackpal is the baseline for BenchmarkDecodeFiles10k.
func BenchmarkDecodeFiles10kJackpal(b *testing.B) { benchJackpal[torrent](b, benchTorrentFiles(10000)) }

// (c) a tracker reply with 200 compact peers.
func BenchmarkDecodeTrackerReply(b *testing.B) { benchDecode[trackerReply](b, benchTrackerReply()) }

// (d) a KRPC get_peers reply with 8 nodes and 50 values.
func BenchmarkDecodeKRPC(b *testing.B) { benchDecode[krpcReply](b, benchKRPC()) }

func BenchmarkDecodeAnyFiles10k(b *testing.B) { benchDecode[any](b, benchTorrentFiles(10000)) }

func BenchmarkEncodeFiles10k(b *testing.B) {
	in := benchTorrentFiles(10000)
	var t torrent
	if err := Unmarshal(in, &t); err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(in)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Marshal(t); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkTokenKRPC(b *testing.B) {
	in := benchKRPC()
	b.SetBytes(int64(len(in)))
	b.ReportAllocs()
	r := bytes.NewReader(in)
	for b.Loop() {
		r.Reset(in)
		dec := NewDecoder(r)
		for {
			if _, err := dec.Token(); err != nil {
				break
			}
		}
	}
}

func BenchmarkReadTokenKRPC(b *testing.B) {
	in := benchKRPC()
	b.SetBytes(int64(len(in)))
	b.ReportAllocs()
	r := bytes.NewReader(in)
	for b.Loop() {
		r.Reset(in)
		dec := NewDecoder(r)
		for {
			if _, err := dec.ReadToken(); err != nil {
				break
			}
		}
	}
}

func BenchmarkValidFiles10k(b *testing.B) {
	in := benchTorrentFiles(10000)
	b.SetBytes(int64(len(in)))
	for b.Loop() {
		if !Valid(in) {
			b.Fatal("invalid")
		}
	}
}
