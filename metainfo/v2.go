package metainfo

import (
	"fmt"
	"slices"
	"strconv"

	"github.com/bittern/bittern/bencode"
)

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
