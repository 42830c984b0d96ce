package metainfo

import (
	"bytes"
	"context"
	"crypto/sha1"
	"errors"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// writeTree creates files (path -> size) under dir with pseudo-random data.
func writeTree(t testing.TB, dir string, files map[string]int) {
	t.Helper()
	r := rand.New(rand.NewPCG(1, 2))
	for p, n := range files {
		full := filepath.Join(dir, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(r.Uint32())
		}
		if err := os.WriteFile(full, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// verifyAgainstDisk checks every hash in mi against the data under root,
// independently of the Builder's piece-by-piece computation.
func verifyAgainstDisk(t *testing.T, mi *MetaInfo, root string) {
	t.Helper()
	info := mi.Info()
	var space []byte
	for _, f := range info.Files {
		if f.Pad {
			space = append(space, make([]byte, f.Length)...)
			continue
		}
		p := root
		if !info.SingleFile {
			p = filepath.Join(append([]string{root}, f.Path...)...)
		}
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		if int64(len(data)) != f.Length {
			t.Fatalf("%s: length %d, want %d", p, f.Length, len(data))
		}
		space = append(space, data...)
		if info.IsV2() && f.Length > 0 {
			blocks := BlockHashes(data)
			if got := MerkleRoot(blocks, nextPow2(len(blocks))); got != f.PiecesRoot {
				t.Errorf("%s: pieces root %s, want %s", p, f.PiecesRoot, got)
			}
			hashes, ok := mi.PieceHashesV2(&f)
			if !ok {
				t.Errorf("%s: no v2 piece hashes", p)
			}
			for i, h := range hashes {
				lo := int64(i) * info.PieceLength
				piece := data[lo:min(lo+info.PieceLength, f.Length)]
				want := MerkleRoot(BlockHashes(piece), int(info.PieceLength/BlockSize))
				if len(hashes) == 1 {
					want = MerkleRoot(BlockHashes(piece), len(BlockHashes(piece)))
				}
				if h != want {
					t.Errorf("%s: v2 piece %d hash mismatch", p, i)
				}
			}
		}
	}
	if int64(len(space)) != info.TotalLength() {
		t.Fatalf("byte space %d, TotalLength %d", len(space), info.TotalLength())
	}
	if info.IsV1() {
		for i := 0; i < info.NumPieces(); i++ {
			lo := int64(i) * info.PieceLength
			want := sha1.Sum(space[lo : lo+info.PieceSize(i)])
			if got, _ := info.PieceHash(i); got != want {
				t.Errorf("v1 piece %d hash mismatch", i)
			}
		}
	}
}

func TestBuilder(t *testing.T) {
	dir := t.TempDir()
	root := filepath.Join(dir, "data")
	writeTree(t, root, map[string]int{
		"a.bin":         100000,
		"empty":         0,
		"sub/b.txt":     16384,
		"sub/c/d.dat":   3*65536 + 7,
		"sub/c/e.small": 5,
		"z":             65536,
	})
	single := filepath.Join(dir, "single.bin")
	writeTree(t, dir, map[string]int{"single.bin": 300000})

	for _, v := range []Version{V1, V2, Hybrid} {
		for _, path := range []string{root, single} {
			t.Run(v.String()+"/"+filepath.Base(path), func(t *testing.T) {
				b := &Builder{
					Version: v, PieceLength: 65536, Trackers: [][]string{{"http://t1/announce", "http://t2/announce"}, {"udp://t3:80"}},
					WebSeeds: []string{"http://ws/"}, Private: true, Comment: "hello", NoCreationDate: true, Workers: 3,
				}
				mi, err := b.Build(context.Background(), path)
				if err != nil {
					t.Fatal(err)
				}
				info := mi.Info()
				wantEq(t, "v1", info.IsV1(), v != V2)
				wantEq(t, "v2", info.IsV2(), v != V1)
				wantEq(t, "private", info.Private, true)
				wantEq(t, "comment", mi.Comment, "hello")
				wantEq(t, "creation date", mi.CreationDate, int64(0))
				wantEq(t, "announce", mi.Announce, "http://t1/announce")
				wantEq(t, "tiers", len(mi.AnnounceList), 2)
				wantEq(t, "name", info.Name, filepath.Base(path))
				wantEq(t, "single", info.SingleFile, path == single)
				checkInvariants(t, mi)
				verifyAgainstDisk(t, mi, path)
				if path == root {
					var got []string
					for _, f := range info.Files {
						if !f.Pad {
							got = append(got, strings.Join(f.Path, "/"))
						}
					}
					want := []string{"a.bin", "empty", "sub/b.txt", "sub/c/d.dat", "sub/c/e.small", "z"}
					if !slices.Equal(got, want) {
						t.Errorf("files %q, want %q", got, want)
					}
				}
				// Reproducible: the same input gives the same bytes, whatever
				// the number of workers.
				b.Workers = 1
				mi2, err := b.Build(context.Background(), path)
				if err != nil {
					t.Fatal(err)
				}
				out1, _ := mi.Marshal()
				out2, _ := mi2.Marshal()
				if !bytes.Equal(out1, out2) {
					t.Error("output differs between runs")
				}
			})
		}
	}
}

func TestBuilderOptions(t *testing.T) {
	dir := t.TempDir()
	writeTree(t, dir, map[string]int{"f": 40000})
	p := filepath.Join(dir, "f")
	ctx := context.Background()

	var calls, last int64
	b := &Builder{Version: V1, CreationDate: time.Unix(1234567, 0), Progress: func(done, total int64) {
		calls++
		if done < last || total != 40000 {
			t.Errorf("progress %d/%d after %d", done, total, last)
		}
		last = done
	}}
	mi, err := b.Build(ctx, p)
	if err != nil {
		t.Fatal(err)
	}
	wantEq(t, "creation date", mi.CreationDate, int64(1234567))
	wantEq(t, "auto piece length", mi.Info().PieceLength, int64(16384))
	wantEq(t, "created by", mi.CreatedBy, "bittern")
	wantEq(t, "final progress", last, int64(40000))
	wantEq(t, "progress calls", calls, int64(3))

	if _, err := (&Builder{PieceLength: 3000}).Build(ctx, p); !errors.Is(err, ErrBuildPieceLength) {
		t.Errorf("bad piece length: %v", err)
	}
	empty := t.TempDir()
	if _, err := (&Builder{}).Build(ctx, empty); !errors.Is(err, ErrBuildNoFiles) {
		t.Errorf("empty dir: %v", err)
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := (&Builder{}).Build(cctx, p); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: %v", err)
	}
	if _, err := (&Builder{}).Build(ctx, filepath.Join(dir, "missing")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing: %v", err)
	}
}

func TestAutoPieceLength(t *testing.T) {
	for _, tt := range []struct{ total, want int64 }{
		{1, 16 << 10}, {1500 * 16 << 10, 16 << 10}, {1501 * 16 << 10, 32 << 10},
		{4 << 30, 4 << 20}, {1 << 50, 16 << 20},
	} {
		if got := AutoPieceLength(tt.total); got != tt.want {
			t.Errorf("AutoPieceLength(%d) = %d, want %d", tt.total, got, tt.want)
		}
	}
}

// Pieces larger than the read chunk are hashed in several reads.
func TestBuilderLargePieces(t *testing.T) {
	dir := t.TempDir()
	root := filepath.Join(dir, "big")
	writeTree(t, root, map[string]int{"a": 2*chunkSize + 12345, "b": 3 * chunkSize, "c": 100})
	for _, v := range []Version{V1, V2, Hybrid} {
		mi, err := (&Builder{Version: v, PieceLength: 4 * chunkSize, NoCreationDate: true}).Build(context.Background(), root)
		if err != nil {
			t.Fatal(err)
		}
		checkInvariants(t, mi)
		verifyAgainstDisk(t, mi, root)
	}
}

func TestBuilderFileShrank(t *testing.T) {
	dir := t.TempDir()
	writeTree(t, dir, map[string]int{"f": 1000})
	h := hasher{b: &Builder{}, pieceLength: BlockSize, v1: true,
		files: []buildFile{{path: []string{"f"}, disk: filepath.Join(dir, "f"), length: 2000}}}
	if err := h.run(context.Background()); !errors.Is(err, ErrBuildChanged) {
		t.Errorf("hashing a file shorter than listed: %v, want ErrBuildChanged", err)
	}
}

func TestBuilderNames(t *testing.T) {
	dir := t.TempDir()
	root := filepath.Join(dir, "named")
	writeTree(t, root, map[string]int{"f": 10})
	t.Chdir(root)
	mi, err := (&Builder{}).Build(context.Background(), ".")
	if err != nil {
		t.Fatal(err)
	}
	wantEq(t, "name of .", mi.Info().Name, "named")
	mi, err = (&Builder{Name: "other"}).Build(context.Background(), "f")
	if err != nil {
		t.Fatal(err)
	}
	wantEq(t, "given name", mi.Info().Name, "other")
	wantFiles(t, mi, "other")
	if _, err := (&Builder{Name: "../evil"}).Build(context.Background(), "f"); !errors.Is(err, ErrName) {
		t.Errorf("unsafe name: %v, want ErrName", err)
	}
}
