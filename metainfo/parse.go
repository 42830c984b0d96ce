package metainfo

import (
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/bittern/bittern/bencode"
)

// span is a raw bencode value that aliases the input of bencode.Unmarshal
// instead of copying it, as bencode.Unmarshaler allows.
type span []byte

// UnmarshalBencode keeps data, a subslice of bencode.Unmarshal's input.
func (s *span) UnmarshalBencode(data []byte) error {
	*s = data[:len(data):len(data)]
	return nil
}

// rawFile is a file entry as found in the torrent, before sanitization.
type rawFile struct {
	path    []string // raw elements (path.utf-8 preferred)
	length  int64
	attr    string
	symlink []string
	root    HashV2
}

// parseInfo parses and validates an info dictionary, computing the
// info-hashes of the versions it holds into h1 and h2.
func parseInfo(raw []byte, h1 *Hash, h2 *HashV2) (*Info, error) {
	var spans map[string]span
	if err := bencode.Unmarshal(raw, &spans); err != nil {
		return nil, fieldErr("info", bencodingErr(err))
	}
	// The values alias raw (the MetaInfo's own InfoBytes): the pieces
	// string, megabytes in a large torrent, is not copied a second time.
	d := make(map[string]bencode.RawMessage, len(spans))
	for k, v := range spans {
		d[k] = bencode.RawMessage(v)
	}
	info := &Info{MetaVersion: 1}

	if mv, ok := d["meta version"]; ok {
		var v int64
		if bencode.Unmarshal(mv, &v) != nil {
			return nil, fieldErr("info.meta version", ErrType)
		}
		switch v {
		case 1:
		case 2:
			info.MetaVersion = 2
		default:
			return nil, fieldErr("info.meta version", detail(ErrMetaVersion, strconv.FormatInt(v, 10)))
		}
	}
	v2 := info.MetaVersion == 2

	// piece length
	plRaw, ok := d["piece length"]
	if !ok {
		return nil, fieldErr("info.piece length", detail(ErrPieceLength, "missing"))
	}
	if bencode.Unmarshal(plRaw, &info.PieceLength) != nil {
		return nil, fieldErr("info.piece length", detail(ErrPieceLength, "not an integer"))
	}
	pl := info.PieceLength
	if pl <= 0 || pl > MaxPieceLength {
		return nil, fieldErr("info.piece length", detail(ErrPieceLength, strconv.FormatInt(pl, 10)))
	}
	if v2 && (pl < BlockSize || pl&(pl-1) != 0) {
		return nil, fieldErr("info.piece length", detail(ErrPieceLength,
			strconv.FormatInt(pl, 10)+" is not a power of two of at least 16 KiB"))
	}

	// pieces
	if pr, ok := d["pieces"]; ok {
		if len(pr) == 0 || pr[0] < '0' || pr[0] > '9' {
			return nil, fieldErr("info.pieces", detail(ErrType, "not a string"))
		}
		// pr is a validated string "N:bytes" inside InfoBytes: slice it
		// rather than copy the (possibly megabytes of) hashes again.
		colon := bytes.IndexByte(pr, ':')
		info.Pieces = pr[colon+1 : len(pr) : len(pr)]
		if len(info.Pieces)%len(Hash{}) != 0 {
			return nil, fieldErr("info.pieces", detail(ErrPieces,
				"length "+strconv.Itoa(len(info.Pieces))+" is not a multiple of 20"))
		}
	} else if !v2 {
		return nil, fieldErr("info.pieces", ErrMissing)
	}
	hasV1 := info.Pieces != nil
	hashInfo(raw, hasV1, v2, h1, h2)

	if v2 {
		// BEP 52: the info-hash covers the exact bytes, so v2 info
		// dictionaries must be canonical; an unsorted or duplicated key is
		// invalid rather than silently re-ordered.
		dec := bencode.NewDecoder(bytes.NewReader(raw))
		dec.DisallowUnorderedKeys()
		var x bencode.RawMessage // strict mode checks every nested dictionary
		if err := dec.Decode(&x); err != nil {
			return nil, fieldErr("info", bencodingErr(err))
		}
	}

	// name
	name, err := rawString(d, "name.utf-8", "name")
	if err != nil {
		return nil, fieldErr("info.name", err)
	}
	if strings.IndexByte(name, 0) >= 0 {
		return nil, fieldErr("info.name", detail(ErrName, "contains a NUL byte"))
	}
	info.Name = sanitizeElement(name)
	if info.Name == "" {
		if hasV1 {
			info.Name = hex.EncodeToString(h1[:])
		} else {
			info.Name = hex.EncodeToString(h2[:])
		}
	}

	if p, ok := d["private"]; ok {
		var v int64
		if bencode.Unmarshal(p, &v) == nil {
			info.Private = v == 1
		}
	}
	info.Similar = decodeHashList(d["similar"])
	info.Collections = decodeStringList(d["collections"])

	// file lists
	var v1Files, v2Files []rawFile
	var v1Single, v2Single bool
	if hasV1 {
		if v1Files, v1Single, err = parseV1Files(d, name); err != nil {
			return nil, err
		}
	}
	if v2 {
		ft, ok := d["file tree"]
		if !ok {
			return nil, fieldErr("info.file tree", ErrMissing)
		}
		if v2Files, v2Single, err = parseFileTree(ft); err != nil {
			return nil, err
		}
	}

	var files []rawFile
	switch {
	case hasV1 && v2:
		// The v1 view decides the layout: libtorrent makes a one-file
		// directory a v1 multi-file torrent whose v2 tree is {"file": …}.
		if files, err = mergeHybrid(v1Files, v2Files, pl); err != nil {
			return nil, fieldErr("info.file tree", err)
		}
		info.SingleFile = v1Single
	case v2:
		files = padV2(v2Files, pl)
		info.SingleFile = v2Single
		if v2Single {
			// BEP 52: a tree holding one file at its root is a single-file
			// torrent named by its key; "name" is only advisory.
			if n := sanitizeElement(v2Files[0].path[0]); n != "" {
				info.Name = n
			}
		}
	default:
		files = v1Files
		info.SingleFile = v1Single
	}

	// offsets and totals
	info.Files = make([]File, len(files))
	var off int64
	for i, rf := range files {
		f := &info.Files[i]
		f.Length, f.Offset, f.Attr, f.PiecesRoot = rf.length, off, rf.attr, rf.root
		f.Pad = hasAttr(rf.attr, 'p')
		if off+rf.length < off {
			return nil, fieldErr("info", detail(ErrLength, "total length overflows"))
		}
		off += rf.length
		if info.SingleFile {
			f.Path = []string{info.Name}
		} else {
			f.Path = sanitizePath(rf.path)
		}
	}
	if err := resolveDuplicates(info.Files, info.SingleFile); err != nil {
		return nil, fieldErr("info.files", err)
	}
	resolveSymlinks(info.Files, files)
	info.totalLength = off
	if off == 0 {
		return nil, fieldErr("info", detail(ErrLength, "total length is zero"))
	}
	if n := (off-1)/pl + 1; n > MaxPieces {
		return nil, fieldErr("info", detail(ErrTooManyPieces, fmt.Sprintf("%d pieces, limit %d", n, MaxPieces)))
	}
	if hasV1 && len(info.Pieces) != info.NumPieces()*len(Hash{}) {
		return nil, fieldErr("info.pieces", detail(ErrPieces, fmt.Sprintf("%d hashes for %d pieces",
			len(info.Pieces)/len(Hash{}), info.NumPieces())))
	}
	return info, nil
}

// rawString returns the first of keys present in d as a string.
func rawString(d map[string]bencode.RawMessage, keys ...string) (string, error) {
	for i, k := range keys {
		raw, ok := d[k]
		if !ok {
			continue
		}
		var s string
		if bencode.Unmarshal(raw, &s) != nil {
			if i < len(keys)-1 {
				continue // a broken .utf-8 variant: fall back to the plain key
			}
			return "", detail(ErrType, "not a string")
		}
		return s, nil
	}
	return "", ErrMissing
}

// parseV1Files reads "files" (multi-file) or "length" (single-file).
func parseV1Files(d map[string]bencode.RawMessage, name string) ([]rawFile, bool, error) {
	fr, ok := d["files"]
	if !ok {
		lr, ok := d["length"]
		if !ok {
			return nil, false, fieldErr("info.length", detail(ErrLength, "missing (and no files list)"))
		}
		var length int64
		if bencode.Unmarshal(lr, &length) != nil {
			return nil, false, fieldErr("info.length", detail(ErrLength, "not an integer"))
		}
		if length < 0 {
			return nil, false, fieldErr("info.length", detail(ErrLength, strconv.FormatInt(length, 10)))
		}
		f := rawFile{path: []string{name}, length: length}
		if a, ok := d["attr"]; ok {
			f.attr = decodeString(a)
		}
		if hasAttr(f.attr, 'l') {
			f.length = 0
		}
		return []rawFile{f}, true, nil
	}
	if files, ok := fastV1Files(fr); ok {
		return files, false, nil
	}
	var list []any
	if bencode.Unmarshal(fr, &list) != nil {
		return nil, false, fieldErr("info.files", detail(ErrType, "not a list"))
	}
	if len(list) == 0 {
		return nil, false, fieldErr("info.files", ErrNoFiles)
	}
	files := make([]rawFile, len(list))
	for i, e := range list {
		field := "info.files[" + strconv.Itoa(i) + "]"
		m, ok := e.(map[string]any)
		if !ok {
			return nil, false, fieldErr(field, detail(ErrType, "not a dictionary"))
		}
		f := &files[i]
		if a, ok := m["attr"].(string); ok {
			f.attr = a
		}
		symlink := hasAttr(f.attr, 'l')
		switch l := m["length"].(type) {
		case int64:
			if l < 0 {
				return nil, false, fieldErr(field+".length", detail(ErrLength, strconv.FormatInt(l, 10)))
			}
			f.length = l
		case nil:
			if !symlink {
				return nil, false, fieldErr(field+".length", detail(ErrLength, "missing"))
			}
		default:
			if !symlink {
				return nil, false, fieldErr(field+".length", detail(ErrLength, "not an integer"))
			}
		}
		if symlink {
			f.length = 0 // symlinks take no space in the torrent (BEP 47)
		}
		p, err := pathList(m, "path.utf-8", "path")
		if err != nil {
			if err == ErrMissing && hasAttr(f.attr, 'p') {
				p = []string{".pad", strconv.FormatInt(f.length, 10)}
			} else {
				return nil, false, fieldErr(field+".path", err)
			}
		}
		if len(p) > MaxFileTreeDepth {
			return nil, false, fieldErr(field+".path", detail(ErrPath, "too deep"))
		}
		f.path = p
		if isLegacyPad(p) {
			f.attr += "p"
		}
		if symlink {
			if f.symlink, err = pathList(m, "symlink path"); err != nil {
				return nil, false, fieldErr(field+".symlink path", err)
			}
		}
	}
	return files, false, nil
}

// pathList returns the first of keys present in m as a list of strings;
// a broken variant falls back to the next key.
func pathList(m map[string]any, keys ...string) ([]string, error) {
	for i, k := range keys {
		v, ok := m[k]
		if !ok {
			continue
		}
		out, err := stringList(v)
		if err != nil && i < len(keys)-1 {
			continue
		}
		return out, err
	}
	return nil, ErrMissing
}

// stringList converts a decoded list of strings without NUL bytes.
func stringList(v any) ([]string, error) {
	if v == nil {
		return nil, ErrMissing
	}
	l, ok := v.([]any)
	if !ok {
		return nil, detail(ErrPath, "not a list")
	}
	out := make([]string, len(l))
	for j, e := range l {
		s, ok := e.(string)
		if !ok || strings.IndexByte(s, 0) >= 0 {
			return nil, detail(ErrPath, "element is not a string without NUL bytes")
		}
		out[j] = s
	}
	return out, nil
}

// isLegacyPad reports a BitComet-style pad file, named "_____padding_file_…"
// without the BEP 47 attribute.
func isLegacyPad(p []string) bool {
	return len(p) > 0 && strings.HasPrefix(p[len(p)-1], "_____padding_file_")
}

// v1FileFields is the common shape of a v1 "files" entry.
type v1FileFields struct {
	Length   optInt   `bencode:"length"`
	Path     []string `bencode:"path"`
	PathUTF8 []string `bencode:"path.utf-8"`
	Attr     string   `bencode:"attr"`
	Symlink  []string `bencode:"symlink path"`
}

// fastV1Files decodes a "files" list without reflection on any values. It
// handles the common case only; on anything unusual it reports !ok and the
// caller takes the general path, which also words the errors.
func fastV1Files(raw []byte) ([]rawFile, bool) {
	var list []v1FileFields
	if bencode.Unmarshal(raw, &list) != nil || len(list) == 0 {
		return nil, false
	}
	files := make([]rawFile, len(list))
	for i := range list {
		e := &list[i]
		p := e.Path
		if e.PathUTF8 != nil {
			p = e.PathUTF8
		}
		if !e.Length.set || e.Length.v < 0 || len(p) == 0 || len(p) > MaxFileTreeDepth ||
			hasAttr(e.Attr, 'l') || e.Symlink != nil {
			return nil, false
		}
		for _, s := range p {
			if strings.IndexByte(s, 0) >= 0 {
				return nil, false
			}
		}
		f := &files[i]
		f.path, f.length, f.attr = p, e.Length.v, e.Attr
		if isLegacyPad(p) {
			f.attr += "p"
		}
	}
	return files, true
}

// optInt decodes a bencode integer and records that it was present.
type optInt struct {
	v   int64
	set bool
}

var errNotInt = errors.New("metainfo: not an integer")

// UnmarshalBencode implements bencode.Unmarshaler.
func (o *optInt) UnmarshalBencode(b []byte) error {
	if len(b) < 3 || b[0] != 'i' {
		return errNotInt
	}
	v, err := strconv.ParseInt(string(b[1:len(b)-1]), 10, 64)
	if err != nil {
		return errNotInt
	}
	o.v, o.set = v, true
	return nil
}
