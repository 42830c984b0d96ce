package metainfo

import (
	"bytes"
	"errors"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/bittern/bittern/bencode"
)

func enc(t *testing.T, v any) []byte {
	t.Helper()
	b, err := bencode.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

var root1 = string(bytes.Repeat([]byte{1}, 32))

// v2Torrent returns a v2-only torrent with the given file tree.
func v2Torrent(t *testing.T, tree map[string]any, extra map[string]any) []byte {
	info := map[string]any{"name": "t", "piece length": 16384, "meta version": 2, "file tree": tree}
	for k, v := range extra {
		info[k] = v
	}
	return enc(t, map[string]any{"info": info})
}

func leaf(length int, root string) map[string]any {
	l := map[string]any{"length": length}
	if root != "" {
		l["pieces root"] = root
	}
	return map[string]any{"": l}
}

func v1Torrent(t *testing.T, info map[string]any, top map[string]any) []byte {
	m := map[string]any{"info": info}
	for k, v := range top {
		m[k] = v
	}
	return enc(t, m)
}

func v1Info(files ...map[string]any) map[string]any {
	var total int64
	var list []any
	for _, f := range files {
		if l, ok := f["length"].(int); ok {
			total += int64(l)
		}
		list = append(list, f)
	}
	n := (total + 16383) / 16384
	return map[string]any{"name": "t", "piece length": 16384, "pieces": strings.Repeat("x", int(20*n)), "files": list}
}

func TestParseV2Layout(t *testing.T) {
	data := v2Torrent(t, map[string]any{
		"a":     leaf(10, root1),
		"dir":   map[string]any{"b": leaf(20, root1), "e": leaf(0, "")},
		"z.bin": leaf(16384, root1),
	}, nil)
	mi, err := Parse(data)
	if err != nil {
		t.Fatal(err)
	}
	info := mi.Info()
	var got []string
	for _, f := range info.Files {
		got = append(got, strings.Join(f.Path, "/")+":"+itoa64(f.Offset)+"+"+itoa64(f.Length))
	}
	want := []string{"a:0+10", ".pad/16374:10+16374", "dir/b:16384+20", "dir/e:16404+0", ".pad/16364:16404+16364", "z.bin:32768+16384"}
	if !slices.Equal(got, want) {
		t.Errorf("files %q, want %q", got, want)
	}
	wantEq(t, "NumPieces", info.NumPieces(), 3)
	wantEq(t, "PieceSize(2)", info.PieceSize(2), int64(16384))
	wantEq(t, "PieceSize(3)", info.PieceSize(3), int64(0))
	wantEq(t, "FileIndex(16384)", info.FileIndex(16384), 2)
	wantEq(t, "FileIndex(16404)", info.FileIndex(16404), 4)
	wantEq(t, "FileIndex(-1)", info.FileIndex(-1), -1)
	wantEq(t, "FileIndex(end)", info.FileIndex(info.TotalLength()), -1)
	if _, ok := info.PieceHash(0); ok {
		t.Error("v2-only torrent has a v1 piece hash")
	}
	wantEq(t, "v1 hash", mi.InfoHash().IsZero(), true)
	wantEq(t, "swarm hash", mi.SwarmHash(), mi.InfoHashV2().Truncate())
	if h, ok := mi.PieceHashesV2(&info.Files[0]); !ok || len(h) != 1 || h[0] != info.Files[0].PiecesRoot {
		t.Error("PieceHashesV2 of a one-piece file is its root")
	}
	checkInvariants(t, mi)
}

func itoa64(n int64) string { return strconv.FormatInt(n, 10) }

func TestParseErrors(t *testing.T) {
	deep := leaf(10, root1)
	for range MaxFileTreeDepth + 1 {
		deep = map[string]any{"d": deep}
	}
	hybridInfo := func(v1Len int, extraFile bool) map[string]any {
		files := []any{map[string]any{"length": v1Len, "path": []any{"a"}}, map[string]any{"length": 16374, "path": []any{".pad", "16374"}, "attr": "p"}}
		if extraFile {
			files = append(files, map[string]any{"length": 1, "path": []any{"b"}})
		}
		return map[string]any{"name": "t", "piece length": 16384, "meta version": 2, "pieces": strings.Repeat("x", 40),
			"file tree": map[string]any{"a": leaf(10, root1)}, "files": files}
	}
	for _, tt := range []struct {
		name string
		data []byte
		want error
		msg  string
	}{
		{"meta version 3", v2Torrent(t, map[string]any{"a": leaf(1, root1)}, map[string]any{"meta version": 3}), ErrMetaVersion, "info.meta version"},
		{"deep tree", v2Torrent(t, map[string]any{"x": deep}, nil), ErrFileTree, "nested too deeply"},
		{"file and dir", v2Torrent(t, map[string]any{"a": map[string]any{"": map[string]any{"length": 1, "pieces root": root1}, "b": leaf(1, root1)}}, nil), ErrFileTree, "both a file and a directory"},
		{"empty dir", v2Torrent(t, map[string]any{"a": map[string]any{}}, nil), ErrFileTree, "empty directory"},
		{"empty tree", v2Torrent(t, map[string]any{}, nil), ErrNoFiles, "info.file tree"},
		{"short root", v2Torrent(t, map[string]any{"a": leaf(1, "abc")}, nil), ErrPiecesRoot, `info.file tree["a"].pieces root`},
		{"v2 small piece", v2Torrent(t, map[string]any{"a": leaf(1, root1)}, map[string]any{"piece length": 8192}), ErrPieceLength, "power of two"},
		{"no file tree", enc(t, map[string]any{"info": map[string]any{"name": "t", "piece length": 16384, "meta version": 2}}), ErrMissing, "info.file tree"},
		{"layer for small file", enc(t, map[string]any{"info": map[string]any{"name": "t", "piece length": 16384, "meta version": 2,
			"file tree": map[string]any{"a": leaf(10, root1)}}, "piece layers": map[string]any{root1: strings.Repeat("y", 32)}}), ErrPieceLayer, "no file larger than one piece"},
		{"hybrid length", enc(t, map[string]any{"info": hybridInfo(11, false)}), ErrInconsistent, "length 11 in v1 but 10 in v2"},
		{"hybrid extra file", enc(t, map[string]any{"info": hybridInfo(10, true)}), ErrInconsistent, "more files in v1"},
		{"v1 pieces count", v1Torrent(t, map[string]any{"name": "t", "piece length": 16384, "length": 20000, "pieces": strings.Repeat("x", 20)}, nil), ErrPieces, "1 hashes for 2 pieces"},
		{"v1 no length", v1Torrent(t, map[string]any{"name": "t", "piece length": 16384, "pieces": ""}, nil), ErrLength, "info.length"},
		{"v1 files not list", v1Torrent(t, map[string]any{"name": "t", "piece length": 16384, "pieces": "", "files": 3}, nil), ErrType, "info.files"},
		{"v1 file not dict", v1Torrent(t, map[string]any{"name": "t", "piece length": 16384, "pieces": "", "files": []any{"x"}}, nil), ErrType, "info.files[0]"},
		{"NUL in path", v1Torrent(t, v1Info(map[string]any{"length": 5, "path": []any{"a\x00b"}}), nil), ErrPath, "info.files[0].path"},
		{"path too deep", v1Torrent(t, v1Info(map[string]any{"length": 5, "path": slices.Repeat([]any{"d"}, MaxFileTreeDepth+1)}), nil), ErrPath, "too deep"},
		{"piece length too big", v1Torrent(t, map[string]any{"name": "t", "piece length": MaxPieceLength * 2, "length": 1, "pieces": strings.Repeat("x", 20)}, nil), ErrPieceLength, "info.piece length"},
		{"no info", enc(t, map[string]any{"announce": "x"}), ErrMissing, "metainfo: info: missing"},
		{"not bencode", []byte("d4:info"), ErrBencoding, "invalid bencoding"},
		{"empty", nil, ErrBencoding, "invalid bencoding"},
		{"list", []byte("le"), ErrNotDict, "not a dictionary"},
	} {
		_, err := Parse(tt.data)
		if !errors.Is(err, tt.want) || !strings.Contains(err.Error(), tt.msg) {
			t.Errorf("%s: error %v, want %v mentioning %q", tt.name, err, tt.want, tt.msg)
		}
	}
}

func TestParseFields(t *testing.T) {
	info := v1Info(
		map[string]any{"length": 5, "path": []any{"bad\x82"}, "path.utf-8": []any{"good"}},
		map[string]any{"length": 7, "path": []any{"x"}, "attr": "l", "symlink path": []any{"good"}},
		map[string]any{"length": 3, "path": []any{"run"}, "attr": "xh"},
	)
	info["name.utf-8"] = "名前"
	info["private"] = 1
	data := v1Torrent(t, info, map[string]any{
		"announce":      " http://a/announce ",
		"announce-list": []any{[]any{" http://a/announce", ""}, []any{}, []any{"udp://b:1", 5}},
		"url-list":      "http://ws/file",
		"httpseeds":     []any{"http://hs/"},
		"nodes":         []any{[]any{"router.example", 6881}, []any{"::1", 70000}, "junk"},
		"comment":       "plain",
		"comment.utf-8": "utf8 comment",
		"encoding":      "UTF-8",
		"creation date": 1700000000,
	})
	mi, err := Parse(data)
	if err != nil {
		t.Fatal(err)
	}
	in := mi.Info()
	wantEq(t, "name", in.Name, "名前")
	wantEq(t, "private", in.Private, true)
	wantEq(t, "file 0", strings.Join(in.Files[0].Path, "/"), "good")
	wantEq(t, "symlink length", in.Files[1].Length, int64(0))
	wantEq(t, "symlink target", strings.Join(in.Files[1].Symlink, "/"), "good")
	wantEq(t, "exec", in.Files[2].Executable() && in.Files[2].Hidden() && !in.Files[2].IsSymlink(), true)
	wantEq(t, "total", in.TotalLength(), int64(8))
	wantEq(t, "announce", mi.Announce, "http://a/announce")
	if tr := mi.Trackers(); len(tr) != 2 || len(tr[0]) != 1 || tr[1][0] != "udp://b:1" {
		t.Errorf("trackers %q", tr)
	}
	wantEq(t, "url-list", strings.Join(mi.URLList, ","), "http://ws/file/")
	wantEq(t, "httpseeds", strings.Join(mi.HTTPSeeds, ","), "http://hs/")
	wantEq(t, "nodes", strings.Join(mi.Nodes, ","), "router.example:6881")
	wantEq(t, "comment", mi.Comment, "utf8 comment")
	wantEq(t, "encoding", mi.Encoding, "UTF-8")
	wantEq(t, "creation date", mi.CreationDate, int64(1700000000))
}

// Writing a torrent never changes its info-hash, even when its info
// dictionary is not canonical (unordered keys).
func TestMarshalKeepsInfoBytes(t *testing.T) {
	for _, name := range []string{"unordered.torrent", "v2_hybrid.torrent", "v2_empty_file.torrent", "v2_only.torrent", "sample.torrent", "dht_nodes.torrent"} {
		mi, err := LoadFile("testdata/libtorrent/" + name)
		if err != nil {
			t.Fatal(err)
		}
		out, err := mi.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		mi2, err := Parse(out)
		if err != nil {
			t.Fatalf("%s: reload: %v", name, err)
		}
		if !bytes.Equal(mi.InfoBytes, mi2.InfoBytes) || mi.InfoHash() != mi2.InfoHash() || mi.InfoHashV2() != mi2.InfoHashV2() {
			t.Errorf("%s: info changed", name)
		}
		if len(mi.PieceLayers) != len(mi2.PieceLayers) || !slices.Equal(mi.Nodes, mi2.Nodes) || mi.CreationDate != mi2.CreationDate {
			t.Errorf("%s: top-level fields changed", name)
		}
		orig, _ := os.ReadFile("testdata/libtorrent/" + name)
		if !bytes.Contains(orig, mi.InfoBytes) {
			t.Errorf("%s: InfoBytes are not the file's bytes", name)
		}
	}
}

func TestLoadTooLarge(t *testing.T) {
	r := io.MultiReader(strings.NewReader("d4:info"), io.LimitReader(zeroReader{}, MaxTorrentSize))
	if _, err := Load(r); !errors.Is(err, ErrTooLarge) {
		t.Errorf("Load of %d bytes: %v, want ErrTooLarge", MaxTorrentSize+7, err)
	}
}

type zeroReader struct{}

func (zeroReader) Read(p []byte) (int, error) { clear(p); return len(p), nil }

// BEP 52: a v2 tree with one file at its root is a single-file torrent
// named by that file; in a hybrid torrent the v1 view decides.
func TestV2SingleFileNaming(t *testing.T) {
	mi, err := Parse(v2Torrent(t, map[string]any{"a": leaf(10, root1)}, nil))
	if err != nil {
		t.Fatal(err)
	}
	wantEq(t, "single", mi.Info().SingleFile, true)
	wantEq(t, "name", mi.Info().Name, "a")
	wantFiles(t, mi, "a")

	info := map[string]any{"name": "dir", "piece length": 16384, "meta version": 2, "pieces": strings.Repeat("x", 20),
		"file tree": map[string]any{"a": leaf(10, root1)}, "files": []any{map[string]any{"length": 10, "path": []any{"a"}}}}
	mi, err = Parse(enc(t, map[string]any{"info": info}))
	if err != nil {
		t.Fatal(err)
	}
	wantEq(t, "single", mi.Info().SingleFile, false)
	wantFiles(t, mi, "dir/a")
}

func TestLiteralInfo(t *testing.T) {
	info := &Info{Name: "t", PieceLength: 16384, Files: []File{{Path: []string{"a"}, Length: 20000}, {Path: []string{"b"}, Length: 5, Offset: 20000}}}
	wantEq(t, "TotalLength", info.TotalLength(), int64(20005))
	wantEq(t, "NumPieces", info.NumPieces(), 2)
	wantEq(t, "PieceSize(1)", info.PieceSize(1), int64(3621))
	wantEq(t, "FileIndex(20004)", info.FileIndex(20004), 1)
}

// The round-trip torrents of libtorrent's test_create_torrent.cpp: decoding
// their info dictionary and encoding it again gives the same bytes (they are
// canonical), and so does Marshal.
func TestRoundTripCorpus(t *testing.T) {
	for _, name := range []string{"v2_only.torrent", "v2_hybrid.torrent", "v2_hybrid-missing-tailpad.torrent", "v2_empty_file.torrent"} {
		mi, err := LoadFile("testdata/libtorrent/" + name)
		if err != nil {
			t.Fatal(err)
		}
		var v any
		if err := bencode.Unmarshal(mi.InfoBytes, &v); err != nil {
			t.Fatal(err)
		}
		if again := enc(t, v); !bytes.Equal(again, mi.InfoBytes) {
			t.Errorf("%s: info dict does not re-encode to the same bytes", name)
		}
		out, _ := mi.Marshal()
		mi2, err := Parse(out)
		if err != nil {
			t.Fatal(err)
		}
		for k, v := range mi.PieceLayers {
			if !bytes.Equal(mi2.PieceLayers[k], v) {
				t.Errorf("%s: piece layer %s changed", name, k)
			}
		}
	}
}

func TestLimitBoundaries(t *testing.T) {
	at := v2Torrent(t, map[string]any{"a": leaf(MaxV2FileLength, root1)}, map[string]any{"piece length": MaxPieceLength})
	if _, err := Parse(at); err != nil {
		t.Errorf("file of MaxV2FileLength: %v", err)
	}
	over := v2Torrent(t, map[string]any{"a": leaf(MaxV2FileLength+1, root1)}, map[string]any{"piece length": MaxPieceLength})
	if _, err := Parse(over); !errors.Is(err, ErrLength) {
		t.Errorf("file of MaxV2FileLength+1: %v, want ErrLength", err)
	}
	// MaxPieces pieces load; one more does not.
	for n, want := range map[int64]error{MaxPieces: nil, MaxPieces + 1: ErrTooManyPieces} {
		info := map[string]any{"name": "t", "piece length": 16384, "length": n * 16384, "pieces": strings.Repeat("x", int(20*n))}
		if _, err := Parse(v1Torrent(t, info, nil)); !errors.Is(err, want) && !(want == nil && err == nil) {
			t.Errorf("%d pieces: %v, want %v", n, err, want)
		}
	}
	so := "magnet:?xt=urn:btih:c0fda1edafdbdbb96443424e0b3899af7159d10e&so=" + strings.Repeat("1,", maxRanges+1)
	if _, err := ParseMagnet(so); !errors.Is(err, ErrMagnet) || len(so) > MaxMagnetLength {
		t.Errorf("too many so ranges: %v", err)
	}
}

func TestDuplicateInfoRejected(t *testing.T) {
	one := v1Torrent(t, map[string]any{"name": "a", "piece length": 16384, "length": 1, "pieces": strings.Repeat("x", 20)}, nil)
	infoA := one[len("d4:info") : len(one)-1]
	data := append(append(append([]byte("d4:info"), infoA...), "4:info"...), infoA...)
	data = append(data, 'e')
	if _, err := Parse(data); !errors.Is(err, ErrBencoding) || !strings.Contains(err.Error(), "duplicate key") {
		t.Errorf("two info keys: %v", err)
	}
	// A nested "4:infod" (here inside the comment) is not a duplicate.
	data = v1Torrent(t, map[string]any{"name": "a", "piece length": 16384, "length": 1, "pieces": strings.Repeat("x", 20)},
		map[string]any{"comment": "4:infod4:infod"})
	if _, err := Parse(data); err != nil {
		t.Errorf("info-like comment: %v", err)
	}
}
