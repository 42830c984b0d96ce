package metainfo

// Info is a parsed and validated info dictionary. Files always describes the
// torrent's whole byte space in order: for v2-only torrents pad entries are
// synthesized so that every non-empty file starts on a piece boundary, so v1,
// v2 and hybrid torrents can be treated alike; piece i covers the bytes
// [i*PieceLength, min((i+1)*PieceLength, TotalLength())).
type Info struct {
	Name        string // sanitized; never empty, "." or ".."
	PieceLength int64
	Pieces      []byte // v1 concatenated SHA-1 hashes (nil for v2-only)
	Private     bool   // BEP 27
	MetaVersion int    // 1 or 2 (hybrid: 2 with Pieces non-nil)
	Files       []File // the torrent's whole byte space in order, pad files included

	// SingleFile reports a single-file torrent: Files holds one file whose
	// Path is []string{Name}, stored directly in the download directory.
	// Otherwise the files live under a directory called Name.
	SingleFile bool

	// Similar and Collections are the BEP 38 keys found inside the info
	// dictionary (MetaInfo merges them with the top-level ones).
	Similar     []Hash
	Collections []string

	totalLength int64
}

// File is one entry of the torrent's byte space.
type File struct {
	// Path holds sanitized components, never "", ".", ".." nor absolute.
	// For a single-file torrent it is []string{Name}; multi-file paths do not
	// include Name.
	Path       []string
	Length     int64
	Offset     int64    // start in the torrent's byte space
	Pad        bool     // BEP 47 pad file: never written to disk, reads as zeros
	Attr       string   // BEP 47 attribute letters, e.g. "x", "h", "l", "p"
	Symlink    []string // for attr 'l': sanitized target, relative to the torrent root
	PiecesRoot HashV2   // v2 merkle root (zero for empty files and v1-only torrents)
}

// Executable reports BEP 47 attribute 'x'.
func (f *File) Executable() bool { return hasAttr(f.Attr, 'x') }

// Hidden reports BEP 47 attribute 'h'.
func (f *File) Hidden() bool { return hasAttr(f.Attr, 'h') }

// IsSymlink reports BEP 47 attribute 'l'; the target is in Symlink.
func (f *File) IsSymlink() bool { return hasAttr(f.Attr, 'l') }

func hasAttr(attr string, c byte) bool {
	for i := 0; i < len(attr); i++ {
		if attr[i] == c {
			return true
		}
	}
	return false
}

// IsV1 reports whether the torrent has v1 piece hashes (v1-only or hybrid).
func (info *Info) IsV1() bool { return info.Pieces != nil }

// IsV2 reports whether the torrent has a BEP 52 file tree (v2-only or hybrid).
func (info *Info) IsV2() bool { return info.MetaVersion == 2 }

// IsHybrid reports whether the torrent is both v1 and v2.
func (info *Info) IsHybrid() bool { return info.IsV1() && info.IsV2() }

// TotalLength returns the sum of all file lengths, pad files included.
// It is cached for a parsed Info and computed from Files for one built as a
// literal.
func (info *Info) TotalLength() int64 {
	if info.totalLength > 0 {
		return info.totalLength
	}
	var n int64
	for i := range info.Files {
		n += info.Files[i].Length
	}
	return n
}

// NumPieces returns the number of pieces in the torrent's byte space.
func (info *Info) NumPieces() int {
	if info.PieceLength <= 0 {
		return 0
	}
	return int((info.TotalLength() + info.PieceLength - 1) / info.PieceLength)
}

// PieceSize returns the length of piece i; the last piece may be shorter.
// It returns 0 for an index out of range.
func (info *Info) PieceSize(i int) int64 {
	n := info.NumPieces()
	if i < 0 || i >= n {
		return 0
	}
	if i == n-1 {
		return info.TotalLength() - int64(i)*info.PieceLength
	}
	return info.PieceLength
}

// PieceHash returns the v1 SHA-1 hash of piece i; ok is false for a v2-only
// torrent or an index out of range.
func (info *Info) PieceHash(i int) (h Hash, ok bool) {
	if i < 0 || (i+1)*len(h) > len(info.Pieces) {
		return h, false
	}
	copy(h[:], info.Pieces[i*len(h):])
	return h, true
}

// FileIndex returns the index in Files of the file holding byte offset off
// (pad files included), or -1 if off is outside the torrent. Empty files are
// never returned.
func (info *Info) FileIndex(off int64) int {
	lo, hi := 0, len(info.Files)
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		f := &info.Files[m]
		switch {
		case off < f.Offset:
			hi = m
		case off >= f.Offset+f.Length:
			lo = m + 1
		default:
			return m
		}
	}
	return -1
}

// numRealFiles counts the files that are not pad files.
func (info *Info) numRealFiles() int {
	n := 0
	for i := range info.Files {
		if !info.Files[i].Pad {
			n++
		}
	}
	return n
}
