package storage

import (
	"fmt"
	"path"
	"runtime"
	"sort"
	"strings"

	"github.com/bittern/bittern/metainfo"
)

// layout maps the torrent's byte space onto its files.
type layout struct {
	total     int64
	pieceLen  int64
	numPieces int
	files     []lfile
	nonEmpty  []int // indices into files of files with length > 0, in offset order
}

// lfile is one entry of the file list, resolved for storage.
type lfile struct {
	off, length int64
	pad         bool
	symlink     bool
	exec        bool   // BEP 47 'x': created executable
	name        string // slash-separated path relative to the download directory
	target      string // symlink target relative to the link's directory
}

// span is the part of one I/O request that falls into one file.
type span struct {
	file    int   // index into layout.files
	fileOff int64 // offset inside the file
	lo, hi  int   // the request's buffer range
}

// maxComponent bounds one path component, the limit of common filesystems.
const maxComponent = 255

// checkComponent reports whether c is safe as one path component.
func checkComponent(c string) error {
	switch {
	case c == "":
		return fmt.Errorf("%w: empty component", ErrUnsafePath)
	case c == "." || c == "..":
		return fmt.Errorf("%w: component %q", ErrUnsafePath, c)
	case len(c) > maxComponent:
		return fmt.Errorf("%w: component longer than %d bytes", ErrUnsafePath, maxComponent)
	case strings.ContainsAny(c, "/\\\x00"):
		return fmt.Errorf("%w: component %q contains a separator or NUL", ErrUnsafePath, c)
	}
	return nil
}

func checkComponents(file int, p []string) error {
	if len(p) == 0 {
		return &PathError{File: file, Path: p, Err: fmt.Errorf("%w: empty path", ErrUnsafePath)}
	}
	for _, c := range p {
		if err := checkComponent(c); err != nil {
			return &PathError{File: file, Path: p, Err: err}
		}
	}
	return nil
}

// newLayout builds the layout of info. Files are placed under name/ when
// the torrent is a multi-file one, directly under the root otherwise. It
// checks every offset and name itself rather than trusting the parser.
func newLayout(info *metainfo.Info) (*layout, error) {
	if info == nil {
		return nil, fmt.Errorf("%w: nil info", ErrBadLayout)
	}
	if info.PieceLength <= 0 {
		return nil, fmt.Errorf("%w: piece length %d", ErrBadLayout, info.PieceLength)
	}
	multi := isMultiFile(info)
	if multi {
		if err := checkComponents(-1, []string{info.Name}); err != nil {
			return nil, err
		}
	}
	l := &layout{pieceLen: info.PieceLength, files: make([]lfile, len(info.Files))}
	seen := make(map[string]int, len(info.Files))
	var off int64
	for i, f := range info.Files {
		if f.Length < 0 {
			return nil, fmt.Errorf("%w: file %d has negative length", ErrBadLayout, i)
		}
		if f.Offset != off {
			return nil, fmt.Errorf("%w: file %d at offset %d, want %d", ErrBadLayout, i, f.Offset, off)
		}
		if off+f.Length < off {
			return nil, fmt.Errorf("%w: total length overflows", ErrBadLayout)
		}
		lf := lfile{off: off, length: f.Length, pad: f.Pad, exec: f.Executable()}
		off += f.Length
		l.files[i] = lf
		if f.Pad {
			if f.Length > 0 {
				l.nonEmpty = append(l.nonEmpty, i)
			}
			continue // never touches the disk, so its path does not matter
		}
		if err := checkComponents(i, f.Path); err != nil {
			return nil, err
		}
		comps := f.Path
		if multi {
			comps = append([]string{info.Name}, f.Path...)
		}
		lf.name = joinNative(comps)
		if j, dup := seen[lf.name]; dup {
			return nil, &PathError{File: i, Path: f.Path, Err: fmt.Errorf("%w: same path as file %d", ErrUnsafePath, j)}
		}
		seen[lf.name] = i
		if f.IsSymlink() && len(f.Symlink) > 0 {
			if err := checkComponents(i, f.Symlink); err != nil {
				return nil, err
			}
			if f.Length != 0 {
				return nil, fmt.Errorf("%w: symlink file %d has length %d", ErrBadLayout, i, f.Length)
			}
			tcomps := f.Symlink
			if multi {
				tcomps = append([]string{info.Name}, f.Symlink...)
			}
			rel, err := relTarget(lf.name, joinNative(tcomps))
			if err != nil {
				return nil, &PathError{File: i, Path: f.Symlink, Err: err}
			}
			lf.symlink, lf.target = true, rel
		}
		l.files[i] = lf
		if f.Length > 0 {
			l.nonEmpty = append(l.nonEmpty, i)
		}
	}
	// A file may not also be a directory of another file ("a" and "a/b").
	for name, i := range seen {
		for d := path.Dir(name); d != "."; d = path.Dir(d) {
			if j, ok := seen[d]; ok {
				return nil, &PathError{File: j, Path: strings.Split(d, "/"), Err: fmt.Errorf("%w: is also the directory of file %d", ErrUnsafePath, i)}
			}
		}
	}
	l.total = off
	l.numPieces = int((off + l.pieceLen - 1) / l.pieceLen)
	return l, nil
}

// windowsNames makes names safe for Windows file systems; set on Windows.
var windowsNames = runtime.GOOS == "windows"

// joinNative joins path components with '/', first mapping what the
// local file system cannot store.
func joinNative(comps []string) string {
	if !windowsNames {
		return strings.Join(comps, "/")
	}
	m := make([]string, len(comps))
	for i, c := range comps {
		m[i] = windowsComponent(c)
	}
	return strings.Join(m, "/")
}

// windowsComponent maps a component to one Windows can store: the
// characters it forbids (<>:"|?* and control characters) become '_',
// trailing dots and spaces are dropped (Windows would drop them silently,
// making two names collide unnoticed), and reserved device names (CON,
// NUL, COM1, ..., with or without an extension) get a '_' after the base.
func windowsComponent(c string) string {
	b := []byte(c)
	for i, ch := range b {
		if ch < 0x20 || strings.IndexByte(`<>:"|?*`, ch) >= 0 {
			b[i] = '_'
		}
	}
	c = strings.TrimRight(string(b), ". ")
	if c == "" {
		return "_"
	}
	base, ext, dot := strings.Cut(c, ".")
	switch strings.ToUpper(strings.TrimRight(base, " ")) {
	case "CON", "PRN", "AUX", "NUL", "CONIN$", "CONOUT$",
		"COM1", "COM2", "COM3", "COM4", "COM5", "COM6", "COM7", "COM8", "COM9",
		"LPT1", "LPT2", "LPT3", "LPT4", "LPT5", "LPT6", "LPT7", "LPT8", "LPT9":
		if dot {
			return base + "_." + ext
		}
		return base + "_"
	}
	return c
}

// isMultiFile reports whether info's files live under a directory named
// after the torrent.
func isMultiFile(info *metainfo.Info) bool {
	return !info.SingleFile
}

// relTarget returns the path of target relative to the directory holding
// link; both are slash paths relative to the download directory, already
// free of "." and "..", so the result stays inside it.
func relTarget(link, target string) (string, error) {
	if link == target {
		return "", fmt.Errorf("%w: symlink to itself", ErrUnsafePath)
	}
	from := strings.Split(path.Dir(link), "/")
	if from[0] == "." {
		from = nil
	}
	to := strings.Split(target, "/")
	i := 0
	for i < len(from) && i < len(to)-1 && from[i] == to[i] {
		i++
	}
	parts := make([]string, 0, len(from)-i+len(to)-i)
	for range from[i:] {
		parts = append(parts, "..")
	}
	parts = append(parts, to[i:]...)
	return strings.Join(parts, "/"), nil
}

// spans calls fn for each file segment of the request [off, off+n), which
// must lie inside the byte space. fn stops the walk by returning an error.
func (l *layout) spans(off int64, n int, fn func(s span) error) error {
	if n == 0 {
		return nil
	}
	// First non-empty file whose end is beyond off.
	k := sort.Search(len(l.nonEmpty), func(k int) bool {
		f := &l.files[l.nonEmpty[k]]
		return f.off+f.length > off
	})
	pos := 0
	for ; k < len(l.nonEmpty) && pos < n; k++ {
		i := l.nonEmpty[k]
		f := &l.files[i]
		fo := off + int64(pos) - f.off
		m := f.length - fo
		if m > int64(n-pos) {
			m = int64(n - pos)
		}
		if err := fn(span{file: i, fileOff: fo, lo: pos, hi: pos + int(m)}); err != nil {
			return err
		}
		pos += int(m)
	}
	return nil
}

// pieceRange returns the byte range of piece p.
func (l *layout) pieceRange(p int) (off, n int64) {
	off = int64(p) * l.pieceLen
	n = l.pieceLen
	if off+n > l.total {
		n = l.total - off
	}
	return off, n
}

// filePieces returns the pieces [first, last] that file i overlaps, or
// ok=false for an empty file.
func (l *layout) filePieces(i int) (first, last int, ok bool) {
	f := &l.files[i]
	if f.length == 0 {
		return 0, 0, false
	}
	return int(f.off / l.pieceLen), int((f.off + f.length - 1) / l.pieceLen), true
}
