package metainfo

import (
	"fmt"
	"slices"
	"strconv"

	"github.com/bittern/bittern/bencode"
)

// parseFileTree walks a BEP 52 file tree in key order (which canonical
// bencoding makes the order of the files in the torrent's byte space).
// single reports a tree holding one file directly at its root.
func parseFileTree(raw bencode.RawMessage) (files []rawFile, single bool, err error) {
	var tree any
	if err := bencode.Unmarshal(raw, &tree); err != nil {
		return nil, false, fieldErr("info.file tree", bencodingErr(err))
	}
	root, ok := tree.(map[string]any)
	if !ok {
		return nil, false, fieldErr("info.file tree", detail(ErrType, "not a dictionary"))
	}
	if len(root) == 0 {
		return nil, false, fieldErr("info.file tree", ErrNoFiles)
	}
	var path []string
	if err := walkTree(root, &path, &files); err != nil {
		return nil, false, err
	}
	if len(root) == 1 && len(files) == 1 && len(files[0].path) == 1 {
		single = true
	}
	return files, single, nil
}

func walkTree(dir map[string]any, path *[]string, files *[]rawFile) error {
	if len(*path) >= MaxFileTreeDepth {
		return fieldErr("info.file tree", detail(ErrFileTree, "directories nested too deeply"))
	}
	keys := make([]string, 0, len(dir))
	for k := range dir {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		field := "info.file tree"
		if len(*path) > 0 || k != "" {
			field = fmt.Sprintf("info.file tree[%q]", joinPath(append(*path, k)))
		}
		if k == "" {
			return fieldErr(field, detail(ErrFileTree, "empty path element"))
		}
		for i := 0; i < len(k); i++ {
			if k[i] == 0 {
				return fieldErr(field, detail(ErrPath, "contains a NUL byte"))
			}
		}
		node, ok := dir[k].(map[string]any)
		if !ok {
			return fieldErr(field, detail(ErrFileTree, "entry is not a dictionary"))
		}
		*path = append(*path, k)
		if leaf, isLeaf := node[""]; isLeaf {
			if len(node) != 1 {
				return fieldErr(field, detail(ErrFileTree, "entry is both a file and a directory"))
			}
			f, err := parseLeaf(leaf, field)
			if err != nil {
				return err
			}
			f.path = slices.Clone(*path)
			*files = append(*files, f)
		} else {
			if len(node) == 0 {
				return fieldErr(field, detail(ErrFileTree, "empty directory"))
			}
			if err := walkTree(node, path, files); err != nil {
				return err
			}
		}
		*path = (*path)[:len(*path)-1]
	}
	return nil
}

func joinPath(p []string) string {
	s := ""
	for i, e := range p {
		if i > 0 {
			s += "/"
		}
		s += e
	}
	return s
}

func parseLeaf(v any, field string) (rawFile, error) {
	var f rawFile
	m, ok := v.(map[string]any)
	if !ok {
		return f, fieldErr(field, detail(ErrFileTree, "file entry is not a dictionary"))
	}
	if a, ok := m["attr"].(string); ok {
		f.attr = a
	}
	if hasAttr(f.attr, 'p') {
		return f, fieldErr(field+".attr", ErrPadFile)
	}
	symlink := hasAttr(f.attr, 'l')
	switch l := m["length"].(type) {
	case int64:
		f.length = l
	case nil:
		if !symlink {
			return f, fieldErr(field+".length", detail(ErrLength, "missing"))
		}
	default:
		if !symlink {
			return f, fieldErr(field+".length", detail(ErrLength, "not an integer"))
		}
	}
	if symlink {
		f.length = 0
		p, err := pathList(m, "symlink path")
		if err != nil {
			return f, fieldErr(field+".symlink path", err)
		}
		f.symlink = p
	}
	if f.length < 0 || f.length > MaxV2FileLength {
		return f, fieldErr(field+".length", detail(ErrLength, strconv.FormatInt(f.length, 10)))
	}
	if f.length > 0 {
		r, ok := m["pieces root"].(string)
		if !ok || len(r) != len(HashV2{}) {
			return f, fieldErr(field+".pieces root", ErrPiecesRoot)
		}
		copy(f.root[:], r)
		if f.root.IsZero() {
			return f, fieldErr(field+".pieces root", detail(ErrPiecesRoot, "all zeros"))
		}
	}
	return f, nil
}

// padV2 lays v2 files out in one byte space, inserting pad files so that
// every non-empty file starts on a piece boundary.
func padV2(files []rawFile, pl int64) []rawFile {
	out := make([]rawFile, 0, 2*len(files))
	var off int64
	for _, f := range files {
		if r := off % pl; f.length > 0 && r != 0 {
			out = append(out, padFile(pl-r))
			off += pl - r
		}
		out = append(out, f)
		off += f.length
	}
	return out
}

func padFile(n int64) rawFile {
	return rawFile{path: []string{".pad", strconv.FormatInt(n, 10)}, length: n, attr: "p"}
}

// mergeHybrid checks that the v1 and v2 views of a hybrid torrent describe
// the same files, in the same order, with every non-empty file aligned to a
// piece boundary, and returns the v1 list carrying the v2 roots.
func mergeHybrid(v1, v2 []rawFile, pl int64) ([]rawFile, error) {
	j := 0
	var off int64
	for i := range v1 {
		f := &v1[i]
		start := off
		off += f.length
		if hasAttr(f.attr, 'p') {
			continue
		}
		if j >= len(v2) {
			return nil, detail(ErrInconsistent, "more files in v1 than in v2")
		}
		g := v2[j]
		j++
		if !slices.Equal(f.path, g.path) {
			return nil, detail(ErrInconsistent, fmt.Sprintf("file %d is %q in v1 but %q in v2", j-1, joinPath(f.path), joinPath(g.path)))
		}
		if f.length != g.length {
			return nil, detail(ErrInconsistent, fmt.Sprintf("file %q has length %d in v1 but %d in v2", joinPath(f.path), f.length, g.length))
		}
		if hasAttr(f.attr, 'l') != hasAttr(g.attr, 'l') {
			return nil, detail(ErrInconsistent, fmt.Sprintf("file %q is a symlink in only one view", joinPath(f.path)))
		}
		if f.length > 0 && start%pl != 0 {
			return nil, detail(ErrInconsistent, fmt.Sprintf("file %q does not start on a piece boundary", joinPath(f.path)))
		}
		f.root = g.root
	}
	if j != len(v2) {
		return nil, detail(ErrInconsistent, "more files in v2 than in v1")
	}
	return v1, nil
}

// checkPieceLayers validates BEP 52 "piece layers": every entry must belong
// to a file larger than one piece, hold one hash per piece of it, and hash up
// to its pieces root. Missing entries are allowed (the hashes can be fetched
// from peers, as for a magnet link).
func (mi *MetaInfo) checkPieceLayers(raw bencode.RawMessage) error {
	if len(raw) == 0 {
		return nil
	}
	var layers map[string][]byte
	if err := bencode.Unmarshal(raw, &layers); err != nil {
		return fieldErr("piece layers", detail(ErrPieceLayer, "not a dictionary of strings"))
	}
	info := mi.info
	pl := info.PieceLength
	sizes := make(map[HashV2]int64)
	for _, f := range info.Files {
		if !f.PiecesRoot.IsZero() && f.Length > pl {
			sizes[f.PiecesRoot] = f.Length
		}
	}
	mi.PieceLayers = make(map[HashV2][]byte, len(layers))
	for k, v := range layers {
		var root HashV2
		field := fmt.Sprintf("piece layers[%x]", k)
		if len(k) != len(root) {
			return fieldErr(field, detail(ErrPieceLayer, "key is not 32 bytes"))
		}
		copy(root[:], k)
		length, ok := sizes[root]
		if !ok {
			return fieldErr(field, detail(ErrPieceLayer, "no file larger than one piece has this pieces root"))
		}
		n := (length + pl - 1) / pl
		if int64(len(v)) != n*32 {
			return fieldErr(field, detail(ErrPieceLayer, fmt.Sprintf("%d bytes, want %d for %d pieces", len(v), n*32, n)))
		}
		layer := make([]HashV2, n)
		for i := range layer {
			copy(layer[i][:], v[32*i:])
		}
		if PiecesRoot(layer, pl) != root {
			return fieldErr(field, detail(ErrPieceLayer, "does not hash to its pieces root"))
		}
		mi.PieceLayers[root] = v
	}
	return nil
}

// PieceHashesV2 returns the v2 hashes of the pieces of file f (one per
// piece of the file, from PieceLayers), or, for a file no longer than one
// piece, its pieces root alone. ok is false for a v1-only torrent, an empty
// or pad file, or a file whose layer the torrent does not carry.
func (mi *MetaInfo) PieceHashesV2(f *File) (hashes []HashV2, ok bool) {
	if mi.info == nil || !mi.info.IsV2() || f.Length == 0 || f.PiecesRoot.IsZero() {
		return nil, false
	}
	if f.Length <= mi.info.PieceLength {
		return []HashV2{f.PiecesRoot}, true
	}
	v, ok := mi.PieceLayers[f.PiecesRoot]
	if !ok {
		return nil, false
	}
	hashes = make([]HashV2, len(v)/32)
	for i := range hashes {
		copy(hashes[i][:], v[32*i:])
	}
	return hashes, true
}
