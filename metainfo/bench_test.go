package metainfo

import (
	"bytes"
	"context"
	"crypto/sha1"
	"crypto/sha256"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bittern/bittern/bencode"
)

// manyFilesTorrent returns a v1 torrent with n files in 100 directories.
func manyFilesTorrent(tb testing.TB, n int) []byte {
	type file struct {
		Length int64    `bencode:"length"`
		Path   []string `bencode:"path"`
	}
	type info struct {
		Files       []file `bencode:"files"`
		Name        string `bencode:"name"`
		PieceLength int64  `bencode:"piece length"`
		Pieces      []byte `bencode:"pieces"`
	}
	in := info{Name: "many", PieceLength: 1 << 20}
	var total int64
	for i := range n {
		l := int64(1000 + i*37)
		total += l
		in.Files = append(in.Files, file{Length: l, Path: []string{"dir" + strconv.Itoa(i%100), "file-" + strconv.Itoa(i) + ".dat"}})
	}
	in.Pieces = make([]byte, 20*((total+in.PieceLength-1)/in.PieceLength))
	return marshalTorrent(tb, &in)
}

// bigSingleFileTorrent returns a v1 torrent of one 4 GiB file with 256 KiB
// pieces (16384 piece hashes).
func bigSingleFileTorrent(tb testing.TB) []byte {
	type info struct {
		Length      int64  `bencode:"length"`
		Name        string `bencode:"name"`
		PieceLength int64  `bencode:"piece length"`
		Pieces      []byte `bencode:"pieces"`
	}
	in := info{Length: 4 << 30, Name: "big.iso", PieceLength: 256 << 10}
	in.Pieces = make([]byte, 20*(in.Length/in.PieceLength))
	for i := range in.Pieces {
		in.Pieces[i] = byte(i * 7)
	}
	return marshalTorrent(tb, &in)
}

func marshalTorrent(tb testing.TB, info any) []byte {
	ib, err := bencode.Marshal(info)
	if err != nil {
		tb.Fatal(err)
	}
	out, err := bencode.Marshal(&torrentFile{Announce: "http://tracker.example/announce", Info: ib})
	if err != nil {
		tb.Fatal(err)
	}
	return out
}

func BenchmarkLoad10000Files(b *testing.B) {
	data := manyFilesTorrent(b, 10000)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		mi, err := Parse(data)
		if err != nil || len(mi.Info().Files) != 10000 {
			b.Fatal(err)
		}
	}
}

func BenchmarkLoad4GiBSingleFile(b *testing.B) {
	data := bigSingleFileTorrent(b)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		mi, err := Parse(data)
		if err != nil || mi.Info().NumPieces() != 16384 {
			b.Fatal(err)
		}
	}
}

func TestBenchmarkTorrentsLoad(t *testing.T) {
	mi, err := Parse(manyFilesTorrent(t, 10000))
	if err != nil {
		t.Fatal(err)
	}
	checkInvariants(t, mi)
	mi, err = Parse(bigSingleFileTorrent(t))
	if err != nil {
		t.Fatal(err)
	}
	wantEq(t, "total", mi.Info().TotalLength(), int64(4<<30))
}

const benchDataSize = 64 << 20

func benchData(b *testing.B) (path string, data []byte) {
	data = make([]byte, benchDataSize)
	for i := range data {
		data[i] = byte(i*131 + i>>11)
	}
	path = filepath.Join(b.TempDir(), "data.bin")
	if err := os.WriteFile(path, data, 0o644); err != nil {
		b.Fatal(err)
	}
	return path, data
}

// BenchmarkBuilder measures Builder hashing of a 64 MiB file (page-cached)
// with 256 KiB pieces on all cores, against the machine's raw hashing speed
// over the same bytes in memory, in the same run: crypto/sha1 per piece
// (v1's work), crypto/sha256 per 16 KiB block (v2's leaves) and both
// (hybrid's), each on one core and on GOMAXPROCS goroutines ("-parallel").
func BenchmarkBuilder(b *testing.B) {
	path, data := benchData(b)
	for _, v := range []Version{V1, V2, Hybrid} {
		b.Run(v.String(), func(b *testing.B) {
			b.SetBytes(benchDataSize)
			bl := &Builder{Version: v, PieceLength: 256 << 10, NoCreationDate: true}
			for b.Loop() {
				if _, err := bl.Build(context.Background(), path); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
	const piece = 256 << 10
	sha1Piece := func(p []byte) { sha1.Sum(p) }
	sha256Piece := func(p []byte) {
		for off := 0; off < len(p); off += BlockSize {
			sha256.Sum256(p[off : off+BlockSize])
		}
	}
	bothPiece := func(p []byte) { sha1Piece(p); sha256Piece(p) }
	for _, raw := range []struct {
		name string
		hash func([]byte)
	}{{"raw-sha1", sha1Piece}, {"raw-sha256", sha256Piece}, {"raw-sha1+sha256", bothPiece}} {
		b.Run(raw.name, func(b *testing.B) {
			b.SetBytes(benchDataSize)
			for b.Loop() {
				for off := 0; off < len(data); off += piece {
					raw.hash(data[off : off+piece])
				}
			}
		})
		b.Run(raw.name+"-parallel", func(b *testing.B) {
			b.SetBytes(benchDataSize)
			workers := runtime.GOMAXPROCS(0)
			for b.Loop() {
				var next atomic.Int64
				var wg sync.WaitGroup
				for range workers {
					wg.Go(func() {
						for {
							off := int(next.Add(piece) - piece)
							if off >= len(data) {
								return
							}
							raw.hash(data[off : off+piece])
						}
					})
				}
				wg.Wait()
			}
		})
	}
}

// manyFilesV2Torrent returns a v2-only torrent with n files in 100
// directories (no piece layers).
func manyFilesV2Torrent(tb testing.TB, n int) []byte {
	tree := map[string]any{}
	root := string(bytes.Repeat([]byte{7}, 32))
	for i := range n {
		dir := "dir" + strconv.Itoa(i%100)
		d, ok := tree[dir].(map[string]any)
		if !ok {
			d = map[string]any{}
			tree[dir] = d
		}
		d["file-"+strconv.Itoa(i)+".dat"] = map[string]any{"": map[string]any{"length": 1000 + i*37, "pieces root": root}}
	}
	info := map[string]any{"name": "many", "piece length": 1 << 20, "meta version": 2, "file tree": tree}
	return marshalTorrent(tb, info)
}

func BenchmarkLoad10000FilesV2(b *testing.B) {
	data := manyFilesV2Torrent(b, 10000)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		mi, err := Parse(data)
		if err != nil || mi.Info().numRealFiles() != 10000 {
			b.Fatal(err)
		}
	}
}

// BenchmarkBuilderVsRaw alternates, iteration by iteration, a Build of the
// 64 MiB file with the raw hashing the same version needs (SHA-1 per
// 256 KiB piece for v1, SHA-256 per 16 KiB block for v2, both for hybrid)
// on GOMAXPROCS goroutines over the bytes in memory, so that both see the
// same machine load. It reports both speeds and builder/raw, the fraction
// of the machine's hashing speed the Builder reaches.
func BenchmarkBuilderVsRaw(b *testing.B) {
	path, data := benchData(b)
	const piece = 256 << 10
	for _, v := range []Version{V1, V2, Hybrid} {
		b.Run(v.String(), func(b *testing.B) {
			hash := func(p []byte) {
				if v != V2 {
					sha1.Sum(p)
				}
				if v != V1 {
					for off := 0; off < len(p); off += BlockSize {
						sha256.Sum256(p[off : off+BlockSize])
					}
				}
			}
			bl := &Builder{Version: v, PieceLength: piece, NoCreationDate: true}
			var build, raw time.Duration
			for b.Loop() {
				start := time.Now()
				if _, err := bl.Build(context.Background(), path); err != nil {
					b.Fatal(err)
				}
				mid := time.Now()
				var next atomic.Int64
				var wg sync.WaitGroup
				for range runtime.GOMAXPROCS(0) {
					wg.Go(func() {
						for {
							off := int(next.Add(piece) - piece)
							if off >= len(data) {
								return
							}
							hash(data[off : off+piece])
						}
					})
				}
				wg.Wait()
				build += mid.Sub(start)
				raw += time.Since(mid)
			}
			mb := float64(b.N) * benchDataSize / (1 << 20)
			b.ReportMetric(mb/build.Seconds(), "builder-MiB/s")
			b.ReportMetric(mb/raw.Seconds(), "raw-MiB/s")
			b.ReportMetric(raw.Seconds()/build.Seconds(), "builder/raw")
		})
	}
}
