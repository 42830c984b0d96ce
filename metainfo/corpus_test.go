package metainfo

import (
	"bufio"
	"crypto/sha1"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// The libtorrent test corpus (testdata/libtorrent, see its MANIFEST.md for
// the source and licence) with the expectations the manifest transcribes
// from libtorrent's own tests.

const corpusDir = "testdata/libtorrent"

type manifestRow struct {
	section  int
	file     string
	v1, v2   string // expected info-hashes (computed over the raw info bytes)
	name     string
	pieceLen int64
	numFiles int
}

// readManifest parses the markdown tables of MANIFEST.md.
func readManifest(t *testing.T) []manifestRow {
	t.Helper()
	f, err := os.Open(filepath.Join(corpusDir, "MANIFEST.md"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var rows []manifestRow
	section := 0
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "## ") {
			section, _ = strconv.Atoi(strings.TrimSuffix(strings.Fields(line)[1], "."))
			continue
		}
		if !strings.HasPrefix(line, "| ") {
			continue
		}
		cols := strings.Split(line, "|")
		cols = cols[1 : len(cols)-1]
		for i := range cols {
			cols[i] = strings.TrimSpace(cols[i])
		}
		if !strings.HasSuffix(cols[0], ".torrent") {
			continue
		}
		r := manifestRow{section: section, file: cols[0]}
		switch {
		case section == 1:
			r.v1, r.v2, r.name = cols[2], cols[3], cols[4]
			r.pieceLen, _ = strconv.ParseInt(cols[5], 10, 64)
			r.numFiles, _ = strconv.Atoi(cols[6])
		case section == 3:
			r.v1, r.v2 = cols[2], cols[3]
		case section == 4 && len(cols) == 4:
			r.v1, r.name = cols[1], cols[2]
			r.numFiles, _ = strconv.Atoi(cols[3])
		case section == 4:
			continue // the resolve_links pairs table
		}
		rows = append(rows, r)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return rows
}

// rejected maps every must-reject file to the error it must carry.
var rejected = map[string]error{
	"missing_piece_len.torrent":                    ErrPieceLength,
	"invalid_piece_len.torrent":                    ErrPieceLength,
	"negative_piece_len.torrent":                   ErrPieceLength,
	"no_name.torrent":                              ErrMissing,
	"bad_name.torrent":                             ErrName,
	"invalid_name.torrent":                         ErrType,
	"invalid_info.torrent":                         ErrType,
	"string.torrent":                               ErrNotDict,
	"negative_size.torrent":                        ErrLength,
	"negative_file_size.torrent":                   ErrLength,
	"invalid_path_list.torrent":                    ErrPath,
	"missing_path_list.torrent":                    ErrMissing,
	"invalid_pieces.torrent":                       ErrType,
	"unaligned_pieces.torrent":                     ErrPieces,
	"invalid_file_size.torrent":                    ErrLength,
	"invalid_symlink.torrent":                      ErrPath,
	"many_pieces.torrent":                          ErrTooManyPieces,
	"no_files.torrent":                             ErrNoFiles,
	"zero.torrent":                                 ErrLength,
	"zero2.torrent":                                ErrLength,
	"v2_mismatching_metadata.torrent":              ErrInconsistent,
	"v2_no_power2_piece.torrent":                   ErrPieceLength,
	"v2_invalid_file.torrent":                      ErrFileTree,
	"v2_deep_recursion.torrent":                    ErrBencoding,
	"v2_non_multiple_piece_layer.torrent":          ErrPieceLayer,
	"v2_piece_layer_invalid_file_hash.torrent":     ErrPieceLayer,
	"v2_invalid_piece_layer.torrent":               ErrPieceLayer,
	"v2_invalid_piece_layer_root.torrent":          ErrPieceLayer,
	"v2_unknown_piece_layer_entry.torrent":         ErrPieceLayer,
	"v2_invalid_piece_layer_size.torrent":          ErrPieceLayer,
	"v2_bad_file_alignment.torrent":                ErrInconsistent,
	"v2_unordered_files.torrent":                   ErrBencoding,
	"v2_overlong_integer.torrent":                  ErrBencoding,
	"v2_missing_file_root_invalid_symlink.torrent": ErrPiecesRoot,
	"v2_large_file.torrent":                        ErrLength,
	"v2_large_offset.torrent":                      ErrTooManyPieces,
	"v2_piece_size.torrent":                        ErrPieceLength,
	"v2_invalid_pad_file.torrent":                  ErrPadFile,
	"v2_zero_root.torrent":                         ErrPiecesRoot,
	"v2_zero_root_small.torrent":                   ErrPiecesRoot,
	"v2_empty_filename.torrent":                    ErrFileTree,
	"duplicate_files2.torrent":                     ErrTooManyDuplicates,

	// Section 3: libtorrent loads this one and fails only when it is added
	// to a session (its piece layer does not hash to the pieces root). Load
	// verifies piece layers itself, so it rejects it at once.
	"v2_invalid_root_hash.torrent": ErrPieceLayer,
}

// fileList returns the torrent's paths as libtorrent's tests write them:
// the name, then the path, joined with '/'.
func fileList(mi *MetaInfo) []string {
	info := mi.Info()
	var out []string
	for _, f := range info.Files {
		p := strings.Join(f.Path, "/")
		if !info.SingleFile {
			p = info.Name + "/" + p
		}
		out = append(out, p)
	}
	return out
}

func symlinkOf(mi *MetaInfo, i int) string {
	info := mi.Info()
	return info.Name + "/" + strings.Join(info.Files[i].Symlink, "/")
}

// checks holds the per-file expectations stated by libtorrent's tests.
var checks = map[string]func(t *testing.T, mi *MetaInfo){
	"parent_path.torrent": func(t *testing.T, mi *MetaInfo) {
		wantFiles(t, mi, "temp/bar")
	},
	"slash_path.torrent":  func(t *testing.T, mi *MetaInfo) { wantFiles(t, mi, "temp/_/_/bar") },
	"slash_path2.torrent": func(t *testing.T, mi *MetaInfo) { wantFiles(t, mi, "temp/abc....def/_/bar") },
	"slash_path3.torrent": func(t *testing.T, mi *MetaInfo) { wantFiles(t, mi, "temp....abc") },
	"long_name.torrent": func(t *testing.T, mi *MetaInfo) {
		if n := len(mi.Info().Name); n > 255 {
			t.Errorf("name is %d bytes, want <= 255", n)
		}
	},
	"whitespace_url.torrent": func(t *testing.T, mi *MetaInfo) {
		if tr := mi.Trackers(); len(tr) == 0 || tr[0][0] != "udp://test.com/announce" {
			t.Errorf("trackers = %q", tr)
		}
	},
	"duplicate_files.torrent": func(t *testing.T, mi *MetaInfo) {
		wantFiles(t, mi, "temp/foo/bar.txt", "temp/foo/bar.1.txt")
	},
	"pad_file.torrent": func(t *testing.T, mi *MetaInfo) {
		fs := mi.Info().Files
		if len(fs) != 2 || fs[0].Pad || !fs[1].Pad {
			t.Errorf("pad flags wrong: %+v", fs)
		}
	},
	"creation_date.torrent":    func(t *testing.T, mi *MetaInfo) { wantEq(t, "creation date", mi.CreationDate, int64(1234567)) },
	"no_creation_date.torrent": func(t *testing.T, mi *MetaInfo) { wantEq(t, "creation date", mi.CreationDate, int64(0)) },
	"url_seed.torrent": func(t *testing.T, mi *MetaInfo) {
		wantEq(t, "url-list", strings.Join(mi.URLList, " "), "http://test.com/file")
	},
	"url_seed_multi.torrent": func(t *testing.T, mi *MetaInfo) {
		wantEq(t, "url-list", strings.Join(mi.URLList, " "), "http://test.com/file/")
	},
	"url_seed_multi_single_file.torrent": func(t *testing.T, mi *MetaInfo) {
		wantEq(t, "url-list", strings.Join(mi.URLList, " "), "http://test.com/file/temp/foo/bar.txt")
	},
	"url_seed_multi_space.torrent": func(t *testing.T, mi *MetaInfo) {
		wantEq(t, "url-list", strings.Join(mi.URLList, " "), "http://test.com/test%20file/foo%20bar/")
	},
	"url_seed_multi_space_nolist.torrent": func(t *testing.T, mi *MetaInfo) {
		wantEq(t, "url-list", strings.Join(mi.URLList, " "), "http://test.com/test%20file/foo%20bar/")
	},
	"duplicate_web_seeds.torrent": func(t *testing.T, mi *MetaInfo) { wantEq(t, "url-list size", len(mi.URLList), 3) },
	"invalid_name2.torrent": func(t *testing.T, mi *MetaInfo) {
		wantEq(t, "name", mi.Info().Name, "b61560c2918f463768cd122b6d2fdd47b77bdb35")
	},
	"invalid_name3.torrent": func(t *testing.T, mi *MetaInfo) { wantEq(t, "name", mi.Info().Name, "foobar ") },
	"symlink1.torrent": func(t *testing.T, mi *MetaInfo) {
		wantEq(t, "files", len(mi.Info().Files), 2)
		wantEq(t, "symlink(1)", symlinkOf(mi, 1), "temp/a/b/bar")
	},
	"symlink2.torrent": func(t *testing.T, mi *MetaInfo) {
		wantEq(t, "files", len(mi.Info().Files), 5)
		wantEq(t, "symlink(0)", symlinkOf(mi, 0), "Some.framework/Versions/A/SDL2")
		wantEq(t, "symlink(4)", symlinkOf(mi, 4), "Some.framework/Versions/A")
	},
	"symlink_zero_size.torrent": func(t *testing.T, mi *MetaInfo) {
		wantEq(t, "files", len(mi.Info().Files), 2)
		wantEq(t, "symlink(1)", symlinkOf(mi, 1), "temp/a/b/bar")
	},
	"symlink_filtered_path.torrent": func(t *testing.T, mi *MetaInfo) {
		wantEq(t, "file 0", fileList(mi)[0], "temp/a/_/bar")
		wantEq(t, "symlink(1)", symlinkOf(mi, 1), "temp/a/_/bar")
	},
	"pad_file_no_path.torrent": func(t *testing.T, mi *MetaInfo) {
		wantEq(t, "file 1", strings.Join(mi.Info().Files[1].Path, "/"), ".pad/2124")
	},
	"absolute_filename.torrent": func(t *testing.T, mi *MetaInfo) { wantFiles(t, mi, "temp/abcde", "temp/foobar") },
	"invalid_filename.torrent":  func(t *testing.T, mi *MetaInfo) { wantEq(t, "files", len(mi.Info().Files), 2) },
	"invalid_filename2.torrent": func(t *testing.T, mi *MetaInfo) { wantEq(t, "files", len(mi.Info().Files), 3) },
	"overlapping_symlinks.torrent": func(t *testing.T, mi *MetaInfo) {
		wantEq(t, "symlink(0)", symlinkOf(mi, 0), "SDL2.framework/Versions/Current/Headers")
		wantEq(t, "symlink(1)", symlinkOf(mi, 1), "SDL2.framework/Versions/Current/Resources")
		wantEq(t, "symlink(2)", symlinkOf(mi, 2), "SDL2.framework/Versions/Current/SDL2")
	},
	"invalid_directory_name.torrent": func(t *testing.T, mi *MetaInfo) {
		wantFiles(t, mi, "test2/_/foo", "test2/_/foo.1")
	},
	"v2.torrent": func(t *testing.T, mi *MetaInfo) {
		wantV2File(t, mi, "test64K", 65536, "60aae9c7b428f87e0713e88229e18f0adf12cd7b22a0dd8a92bb2485eb7af242", true)
	},
	"v2_multipiece_file.torrent": func(t *testing.T, mi *MetaInfo) {
		wantV2File(t, mi, "test1MB", 1048576, "515ea9181744b817744ded9d2e8e9dc6a8450c0b0c52e24b5077f302ffbd9008", true)
	},
	"v2_only.torrent": func(t *testing.T, mi *MetaInfo) {
		wantV2File(t, mi, "test1MB", 1048576, "515ea9181744b817744ded9d2e8e9dc6a8450c0b0c52e24b5077f302ffbd9008", false)
	},
	"v2_invalid_filename.torrent": func(t *testing.T, mi *MetaInfo) { wantFiles(t, mi, "_estMB") },
	"v2_multiple_files.torrent": func(t *testing.T, mi *MetaInfo) {
		if len(mi.PieceLayers) == 0 {
			t.Error("no piece layers")
		}
		// libtorrent counts 5 entries: these 3 files, the pad after
		// stress_test1 and a tail pad after stress_test2. Our v2 byte space
		// ends with the last file, so there is no tail pad.
		wantFiles(t, mi, "test/stress_test0", "test/stress_test1", "test/.pad/1048376", "test/stress_test2")
		wantHas(t, mi, false, true)
	},
	"v2_symlinks.torrent": func(t *testing.T, mi *MetaInfo) {
		if n := len(mi.Info().Files); n <= 3 {
			t.Errorf("%d files, want more than 3", n)
		}
		wantEq(t, "symlink(0)", symlinkOf(mi, 0), "SDL2.framework/Versions/Current/Headers")
		wantEq(t, "symlink(1)", symlinkOf(mi, 1), "SDL2.framework/Versions/Current/Resources")
		wantEq(t, "symlink(2)", symlinkOf(mi, 2), "SDL2.framework/Versions/Current/SDL2")
	},
	"v2_hybrid.torrent":                 func(t *testing.T, mi *MetaInfo) { wantHas(t, mi, true, true) },
	"empty-files-1.torrent":             func(t *testing.T, mi *MetaInfo) { wantHas(t, mi, true, true) },
	"empty-files-2.torrent":             func(t *testing.T, mi *MetaInfo) { wantHas(t, mi, true, true) },
	"empty-files-3.torrent":             func(t *testing.T, mi *MetaInfo) { wantHas(t, mi, true, true) },
	"empty-files-4.torrent":             func(t *testing.T, mi *MetaInfo) { wantHas(t, mi, true, true) },
	"empty-files-5.torrent":             func(t *testing.T, mi *MetaInfo) { wantHas(t, mi, true, true) },
	"v2_incomplete_piece_layer.torrent": func(t *testing.T, mi *MetaInfo) { wantHas(t, mi, false, true) },
	"v2_invalid_filename2.torrent": func(t *testing.T, mi *MetaInfo) {
		wantFiles(t, mi, "test/_", "test/_.1", "test/stress_test2")
	},
	"v2_no_piece_layers.torrent": func(t *testing.T, mi *MetaInfo) { wantHas(t, mi, false, true) },
	"similar.torrent":            func(t *testing.T, mi *MetaInfo) { wantSimilar(t, mi) },
	"similar2.torrent":           func(t *testing.T, mi *MetaInfo) { wantSimilar(t, mi) },
	"collection.torrent": func(t *testing.T, mi *MetaInfo) {
		wantEq(t, "collections", strings.Join(mi.Collections, ","), "bar,foo")
	},
	"collection2.torrent": func(t *testing.T, mi *MetaInfo) {
		wantEq(t, "collections", strings.Join(mi.Collections, ","), "bar,foo")
	},
	"dht_nodes.torrent": func(t *testing.T, mi *MetaInfo) {
		wantEq(t, "nodes", strings.Join(mi.Nodes, ","), "127.0.0.1:6881,192.168.1.1:6881")
	},
	"large_piece_size.torrent": func(t *testing.T, mi *MetaInfo) {
		wantEq(t, "piece length", mi.Info().PieceLength, int64(32767*16384))
	},
	"sample.torrent": func(t *testing.T, mi *MetaInfo) {
		wantFiles(t, mi, "sample/text_file2.txt", "sample/.____padding_file/0", "sample/text_file.txt")
	},
}

func wantEq[T comparable](t *testing.T, what string, got, want T) {
	t.Helper()
	if got != want {
		t.Errorf("%s = %v, want %v", what, got, want)
	}
}

// wantHas checks which info-hashes a torrent has ("has v1 and v2", "no
// v1, has v2" in the manifest).
func wantHas(t *testing.T, mi *MetaInfo, v1, v2 bool) {
	t.Helper()
	wantEq(t, "has v1", mi.Info().IsV1(), v1)
	wantEq(t, "has v2", mi.Info().IsV2(), v2)
	wantEq(t, "has v1 info-hash", !mi.InfoHash().IsZero(), v1)
	wantEq(t, "has v2 info-hash", !mi.InfoHashV2().IsZero(), v2)
}

func wantFiles(t *testing.T, mi *MetaInfo, want ...string) {
	t.Helper()
	if got := fileList(mi); !slices.Equal(got, want) {
		t.Errorf("files = %q, want %q", got, want)
	}
}

func wantSimilar(t *testing.T, mi *MetaInfo) {
	t.Helper()
	if len(mi.Similar) != 1 || string(mi.Similar[0][:]) != "aaaaaaaaaaaaaaaaaaaa" {
		t.Errorf("similar = %q", mi.Similar)
	}
}

func wantV2File(t *testing.T, mi *MetaInfo, path string, size int64, root string, v1 bool) {
	t.Helper()
	info := mi.Info()
	wantFiles(t, mi, path)
	wantEq(t, "size", info.Files[0].Length, size)
	wantEq(t, "pieces root", info.Files[0].PiecesRoot.String(), root)
	wantEq(t, "has v1", info.IsV1(), v1)
	wantEq(t, "has v2", info.IsV2(), true)
}

func TestLibtorrentCorpus(t *testing.T) {
	rows := readManifest(t)
	listed := map[string]bool{}
	for _, r := range rows {
		listed[r.file] = true
	}
	// Every file shipped in testdata is listed in the manifest and tested.
	var all []string
	for _, glob := range []string{"*.torrent", "mutable_test_torrents/*.torrent"} {
		m, _ := filepath.Glob(filepath.Join(corpusDir, glob))
		all = append(all, m...)
	}
	if len(all) != 116 {
		t.Errorf("found %d corpus files, want 116", len(all))
	}
	for _, p := range all {
		rel, _ := filepath.Rel(corpusDir, p)
		if !listed[filepath.ToSlash(rel)] {
			t.Errorf("%s is not in the manifest", rel)
		}
	}
	for _, r := range rows {
		t.Run(r.file, func(t *testing.T) {
			mi, err := LoadFile(filepath.Join(corpusDir, r.file))
			if want, ok := rejected[filepath.Base(r.file)]; ok {
				if err == nil {
					t.Fatalf("loaded; want an error wrapping %v", want)
				}
				if !errors.Is(err, want) {
					t.Fatalf("error %q does not wrap %q", err, want)
				}
				if r.section == 2 || r.section == 3 {
					t.Logf("rejected: %v", err)
				}
				return
			}
			if r.section == 2 {
				t.Fatalf("section 2 file %s has no expected error in the table", r.file)
			}
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			info := mi.Info()
			if got := hex.EncodeToString(sha1Of(mi.InfoBytes)); got != r.v1 {
				t.Errorf("SHA-1(InfoBytes) = %s, want %s", got, r.v1)
			}
			if info.IsV1() {
				wantEq(t, "InfoHash", mi.InfoHash().String(), r.v1)
			} else if !mi.InfoHash().IsZero() {
				t.Errorf("v2-only torrent has v1 info-hash %s", mi.InfoHash())
			}
			if r.v2 != "" {
				wantEq(t, "InfoHashV2", mi.InfoHashV2().String(), r.v2)
			} else if !mi.InfoHashV2().IsZero() {
				t.Errorf("v1 torrent has v2 info-hash %s", mi.InfoHashV2())
			}
			if r.pieceLen != 0 {
				wantEq(t, "piece length", info.PieceLength, r.pieceLen)
			}
			if r.numFiles != 0 {
				// The manifest counts v1 list entries (pads included) or v2
				// file tree leaves; we add pads to v2-only torrents.
				n := len(info.Files)
				if info.IsV2() {
					n = info.numRealFiles()
				}
				wantEq(t, "files", n, r.numFiles)
			}
			checkInvariants(t, mi)
			if c := checks[r.file]; c != nil {
				c(t, mi)
			}
		})
	}
}

func sha1Of(b []byte) []byte { h := sha1.Sum(b); return h[:] }

// checkInvariants verifies the properties every loaded torrent has.
func checkInvariants(t *testing.T, mi *MetaInfo) {
	t.Helper()
	info := mi.Info()
	var off int64
	for i, f := range info.Files {
		if f.Offset != off {
			t.Errorf("file %d offset %d, want %d", i, f.Offset, off)
		}
		off += f.Length
		if len(f.Path) == 0 {
			t.Errorf("file %d has no path", i)
		}
		for _, e := range append(slices.Clone(f.Path), f.Symlink...) {
			if e == "" || e == "." || e == ".." || strings.ContainsAny(e, "/\\\x00") {
				t.Errorf("file %d: unsafe path element %q", i, e)
			}
		}
		if info.IsV2() && !f.Pad && f.Length > 0 && f.Offset%info.PieceLength != 0 {
			t.Errorf("v2 file %d not piece-aligned", i)
		}
	}
	wantEq(t, "TotalLength", info.TotalLength(), off)
	if info.SingleFile {
		wantEq(t, "single file path", strings.Join(info.Files[0].Path, "/"), info.Name)
	}
	if info.Name == "" || info.Name == "." || info.Name == ".." || strings.ContainsAny(info.Name, "/\\") {
		t.Errorf("unsafe name %q", info.Name)
	}
}
