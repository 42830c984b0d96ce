package metainfo

import (
	"bytes"
	"fmt"
	"slices"
	"strconv"

	"github.com/bittern/bittern/bencode"
)

// parseFileTree walks a BEP 52 file tree in key order, the order of the
// files in the torrent's byte space. It streams tokens rather than building
// a generic tree, and relies on the caller having checked that the info
// dictionary is canonical (sorted keys, so a file's "" key comes first).
// single reports a tree holding one file directly at its root.
func parseFileTree(raw bencode.RawMessage) (files []rawFile, single bool, err error) {
	if len(raw) == 0 || raw[0] != 'd' {
		return nil, false, fieldErr("info.file tree", detail(ErrType, "not a dictionary"))
	}
	dec := bencode.NewDecoder(bytes.NewReader(raw))
	dec.SetMaxSize(MaxTorrentSize)
	if _, err := dec.Token(); err != nil {
		return nil, false, fieldErr("info.file tree", bencodingErr(err))
	}
	w := treeWalker{dec: dec}
	roots, err := w.walkDir("", false)
	if err != nil {
		return nil, false, err
	}
	if roots == 0 {
		return nil, false, fieldErr("info.file tree", ErrNoFiles)
	}
	single = roots == 1 && len(w.files) == 1 && len(w.files[0].path) == 1
	return w.files, single, nil
}

type treeWalker struct {
	dec   *bencode.Decoder
	path  []string
	files []rawFile
}

// leafFields are the keys of a file entry ("" dictionary).
type leafFields struct {
	Length  any `bencode:"length"`
	Root    any `bencode:"pieces root"`
	Attr    any `bencode:"attr"`
	Symlink any `bencode:"symlink path"`
}

// walkDir reads the entries of the directory whose 'd' was just read, up
// to and including its 'e'. If haveFirst, its first key (first) has been
// read already. It returns the number of entries.
func (w *treeWalker) walkDir(first string, haveFirst bool) (int, error) {
	if len(w.path) >= MaxFileTreeDepth {
		return 0, fieldErr("info.file tree", detail(ErrFileTree, "directories nested too deeply"))
	}
	n := 0
	for haveFirst || w.dec.More() {
		k := first
		if !haveFirst {
			var err error
			if k, err = w.key(); err != nil {
				return 0, err
			}
		}
		haveFirst = false
		n++
		if err := w.walkEntry(k); err != nil {
			return 0, err
		}
	}
	if _, err := w.dec.Token(); err != nil { // the directory's 'e'
		return 0, fieldErr("info.file tree", bencodingErr(err))
	}
	return n, nil
}

func (w *treeWalker) key() (string, error) {
	t, err := w.dec.Token()
	if err != nil {
		return "", fieldErr("info.file tree", bencodingErr(err))
	}
	b, ok := t.([]byte)
	if !ok {
		return "", fieldErr("info.file tree", detail(ErrFileTree, "key is not a string"))
	}
	return string(b), nil
}

// walkEntry reads the value of directory entry k: a file or a directory.
func (w *treeWalker) walkEntry(k string) error {
	field := treeFieldName{w.path, k} // formatted only for an error
	if k == "" {
		return fieldErr(field.String(), detail(ErrFileTree, "empty path element"))
	}
	if bytes.IndexByte([]byte(k), 0) >= 0 {
		return fieldErr(field.String(), detail(ErrPath, "contains a NUL byte"))
	}
	if t, err := w.dec.Token(); err != nil || t != bencode.Delim('d') {
		return fieldErr(field.String(), detail(ErrFileTree, "entry is not a dictionary"))
	}
	if !w.dec.More() {
		return fieldErr(field.String(), detail(ErrFileTree, "empty directory"))
	}
	ck, err := w.key()
	if err != nil {
		return err
	}
	w.path = append(w.path, k)
	defer func() { w.path = w.path[:len(w.path)-1] }()
	if ck != "" {
		_, err := w.walkDir(ck, true)
		return err
	}
	// A file: {"": {length, pieces root, ...}} and nothing else.
	var leaf leafFields
	if t, err := w.dec.Token(); err != nil || t != bencode.Delim('d') {
		return fieldErr(field.String(), detail(ErrFileTree, "file entry is not a dictionary"))
	}
	if err := w.decodeLeafBody(&leaf); err != nil {
		return fieldErr(field.String(), bencodingErr(err))
	}
	if w.dec.More() {
		return fieldErr(field.String(), detail(ErrFileTree, "entry is both a file and a directory"))
	}
	if _, err := w.dec.Token(); err != nil {
		return fieldErr(field.String(), bencodingErr(err))
	}
	f, err := parseLeaf(&leaf, field)
	if err != nil {
		return err
	}
	f.path = slices.Clone(w.path)
	w.files = append(w.files, f)
	return nil
}

// decodeLeafBody reads the keys of a file dictionary whose 'd' was read,
// through its 'e'.
func (w *treeWalker) decodeLeafBody(leaf *leafFields) error {
	for w.dec.More() {
		t, err := w.dec.Token()
		if err != nil {
			return err
		}
		k, _ := t.([]byte)
		var dst *any
		switch string(k) {
		case "length":
			dst = &leaf.Length
		case "pieces root":
			dst = &leaf.Root
		case "attr":
			dst = &leaf.Attr
		case "symlink path":
			dst = &leaf.Symlink
		default:
			var skip bencode.RawMessage
			if err := w.dec.Decode(&skip); err != nil {
				return err
			}
			continue
		}
		if err := w.dec.Decode(dst); err != nil {
			return err
		}
	}
	_, err := w.dec.Token()
	return err
}

// treeFieldName names the file tree entry at path/k in errors.
type treeFieldName struct {
	path []string
	k    string
}

func (t treeFieldName) String() string {
	return fmt.Sprintf("info.file tree[%q]", joinPath(append(slices.Clip(t.path), t.k)))
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

func parseLeaf(m *leafFields, field treeFieldName) (rawFile, error) {
	var f rawFile
	if a, ok := m.Attr.(string); ok {
		f.attr = a
	}
	if hasAttr(f.attr, 'p') {
		return f, fieldErr(field.String()+".attr", ErrPadFile)
	}
	symlink := hasAttr(f.attr, 'l')
	switch l := m.Length.(type) {
	case int64:
		f.length = l
	case nil:
		if !symlink {
			return f, fieldErr(field.String()+".length", detail(ErrLength, "missing"))
		}
	default:
		if !symlink {
			return f, fieldErr(field.String()+".length", detail(ErrLength, "not an integer"))
		}
	}
	if symlink {
		f.length = 0
		p, err := stringList(m.Symlink)
		if err != nil {
			return f, fieldErr(field.String()+".symlink path", err)
		}
		f.symlink = p
	}
	if f.length < 0 || f.length > MaxV2FileLength {
		return f, fieldErr(field.String()+".length", detail(ErrLength, strconv.FormatInt(f.length, 10)))
	}
	if f.length > 0 {
		r, ok := m.Root.(string)
		if !ok || len(r) != len(HashV2{}) {
			return f, fieldErr(field.String()+".pieces root", ErrPiecesRoot)
		}
		copy(f.root[:], r)
		if f.root.IsZero() {
			return f, fieldErr(field.String()+".pieces root", detail(ErrPiecesRoot, "all zeros"))
		}
	}
	return f, nil
}
