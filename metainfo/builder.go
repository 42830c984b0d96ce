package metainfo

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/bittern/bittern/bencode"
)

// Version selects the kind of torrent a Builder makes. Hybrid torrents work
// with v1-only and v2 clients alike in principle, but some older clients
// cannot read them (Transmission 3.x rejects them; aria2 1.36 computes a
// wrong v1 info-hash): choose V1 for those.
type Version int

// Torrent versions.
const (
	Hybrid Version = iota // v1 and v2 in one torrent (BEP 52), the default
	V1                    // BEP 3 only
	V2                    // BEP 52 only
)

// String returns "hybrid", "v1" or "v2".
func (v Version) String() string {
	switch v {
	case Hybrid:
		return "hybrid"
	case V1:
		return "v1"
	case V2:
		return "v2"
	}
	return "Version(" + strconv.Itoa(int(v)) + ")"
}

// Builder errors.
var (
	ErrBuildNoFiles     = errors.New("metainfo: nothing to hash: no regular files")
	ErrBuildPieceLength = errors.New("metainfo: piece length must be a power of two of at least 16 KiB")
	ErrBuildChanged     = errors.New("metainfo: file changed while hashing")
)

// Builder creates .torrent files from a file or a directory. The zero value
// makes a hybrid torrent with an automatic piece length and the current
// time as creation date.
type Builder struct {
	// Version is the kind of torrent. If zero, Hybrid.
	Version Version
	// PieceLength in bytes: a power of two of at least 16 KiB. If zero, it
	// is chosen from the total size (AutoPieceLength).
	PieceLength int64
	// Name of the torrent. If empty, the base name of the path built.
	Name string
	// Trackers in BEP 12 tiers; the first URL also becomes "announce".
	Trackers [][]string
	// WebSeeds are BEP 19 "url-list" URLs.
	WebSeeds []string
	// Private sets the BEP 27 private flag.
	Private bool
	// Comment is stored as "comment" if not empty.
	Comment string
	// CreatedBy is stored as "created by". If empty, "bittern".
	CreatedBy string
	// CreationDate is stored as "creation date". If zero, the current time,
	// unless NoCreationDate is set.
	CreationDate time.Time
	// NoCreationDate omits "creation date", for reproducible output.
	NoCreationDate bool
	// Workers is the number of hashing goroutines. If zero, GOMAXPROCS.
	Workers int
	// Progress, if not nil, is called as data is hashed with the bytes done
	// so far and the total. Calls never overlap and done only grows.
	Progress func(done, total int64)
}

// AutoPieceLength returns the piece length the Builder picks for total
// bytes: the smallest power of two, from 16 KiB to 16 MiB, that keeps the
// torrent near or under 1500 pieces.
func AutoPieceLength(total int64) int64 {
	pl := int64(BlockSize)
	for pl < 16<<20 && total/pl > 1500 {
		pl <<= 1
	}
	return pl
}

// buildFile is one entry of the byte space being built.
type buildFile struct {
	path   []string // relative to the root (for a single file: [name])
	disk   string   // path on disk; "" for pad files
	length int64
	offset int64
	pad    bool
	exec   bool
	root   HashV2
	layer  []HashV2 // v2 piece hashes of a file longer than one piece
}

// Build hashes the file or directory at path and returns the torrent. In a
// directory, regular files are included in lexical path order (the order
// BEP 52 file trees imply); symbolic links and other special files are
// skipped, and empty directories are not represented. As BEP 52 reads a v2
// file tree holding a single file as a single-file torrent, a v2-only
// torrent of a directory holding one file is such a torrent, named after the
// file (libtorrent does the same); v1 and hybrid torrents keep the directory.
func (b *Builder) Build(ctx context.Context, path string) (*MetaInfo, error) {
	if b.Version < Hybrid || b.Version > V2 {
		return nil, fmt.Errorf("metainfo: unknown torrent version %d", b.Version)
	}
	st, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	name := b.Name
	if name == "" {
		abs, err := filepath.Abs(path) // so that "." is named after the directory
		if err != nil {
			return nil, err
		}
		name = filepath.Base(abs)
	}
	if sanitizeElement(name) != name {
		return nil, fmt.Errorf("%w: %q is not a safe torrent name", ErrName, name)
	}
	var files []buildFile
	single := !st.IsDir()
	if single {
		if !st.Mode().IsRegular() {
			return nil, fmt.Errorf("metainfo: %s is not a regular file or directory", path)
		}
		files = []buildFile{{path: []string{name}, disk: path, length: st.Size(), exec: st.Mode()&0o111 != 0}}
	} else if files, err = scanDir(path); err != nil {
		return nil, err
	}
	var total int64
	for _, f := range files {
		total += f.length
	}
	if total == 0 {
		return nil, ErrBuildNoFiles
	}
	pl := b.PieceLength
	if pl == 0 {
		pl = AutoPieceLength(total)
	}
	if pl < BlockSize || pl&(pl-1) != 0 || pl > MaxPieceLength {
		return nil, ErrBuildPieceLength
	}
	v1 := b.Version != V2
	v2 := b.Version != V1
	if v2 {
		files = alignFiles(files, pl)
	} else {
		var off int64
		for i := range files {
			files[i].offset = off
			off += files[i].length
		}
	}
	h := hasher{b: b, files: files, pieceLength: pl, v1: v1, v2: v2}
	if err := h.run(ctx); err != nil {
		return nil, err
	}
	data, err := b.encode(name, single, files, pl, h.pieces)
	if err != nil {
		return nil, err
	}
	return Parse(data)
}

// scanDir lists the regular files under dir in lexical order.
func scanDir(dir string) ([]buildFile, error) {
	var files []buildFile
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.Type().IsRegular() {
			return nil // directories are walked; links and devices skipped
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			return err
		}
		parts := splitPath(rel)
		for _, e := range parts {
			if sanitizeElement(e) != e {
				return fmt.Errorf("%w: %q cannot be stored safely in a torrent", ErrPath, rel)
			}
		}
		files = append(files, buildFile{path: parts, disk: p, length: info.Size(), exec: info.Mode()&0o111 != 0})
		return nil
	})
	if err != nil {
		return nil, err
	}
	if len(files) == 0 {
		return nil, ErrBuildNoFiles
	}
	return files, nil
}

func splitPath(rel string) []string {
	var parts []string
	for rel != "" && rel != "." {
		dir, file := filepath.Split(rel)
		parts = append([]string{file}, parts...)
		rel = filepath.Clean(dir)
		if rel == string(filepath.Separator) {
			break
		}
	}
	return parts
}

// alignFiles lays files out with pad files so that every non-empty file
// starts on a piece boundary (BEP 47 / BEP 52).
func alignFiles(files []buildFile, pl int64) []buildFile {
	out := make([]buildFile, 0, 2*len(files))
	var off int64
	for _, f := range files {
		if r := off % pl; f.length > 0 && r != 0 {
			out = append(out, buildFile{path: []string{".pad", strconv.FormatInt(pl-r, 10)}, length: pl - r, offset: off, pad: true})
			off += pl - r
		}
		f.offset = off
		out = append(out, f)
		off += f.length
	}
	return out
}

type v1FileEntry struct {
	Attr   string   `bencode:"attr,omitempty"`
	Length int64    `bencode:"length"`
	Path   []string `bencode:"path"`
}

type infoDict struct {
	FileTree    map[string]any `bencode:"file tree,omitempty"`
	Files       []v1FileEntry  `bencode:"files,omitempty"`
	Length      *int64         `bencode:"length,omitempty"`
	MetaVersion int            `bencode:"meta version,omitempty"`
	Name        string         `bencode:"name"`
	PieceLength int64          `bencode:"piece length"`
	Pieces      []byte         `bencode:"pieces,omitempty"`
	Private     int            `bencode:"private,omitempty"`
}

func attrOf(f *buildFile) string {
	switch {
	case f.pad:
		return "p"
	case f.exec:
		return "x"
	}
	return ""
}

// encode writes the .torrent for hashed files.
func (b *Builder) encode(name string, single bool, files []buildFile, pl int64, pieces []byte) ([]byte, error) {
	v1 := b.Version != V2
	v2 := b.Version != V1
	info := infoDict{Name: name, PieceLength: pl}
	if b.Private {
		info.Private = 1
	}
	layers := map[string][]byte{}
	if v1 {
		info.Pieces = pieces
		if single {
			n := files[0].length
			info.Length = &n
		} else {
			for i := range files {
				f := &files[i]
				info.Files = append(info.Files, v1FileEntry{Attr: attrOf(f), Length: f.length, Path: f.path})
			}
		}
	}
	if v2 {
		info.MetaVersion = 2
		info.FileTree = map[string]any{}
		for i := range files {
			f := &files[i]
			if f.pad {
				continue
			}
			leaf := map[string]any{"length": f.length}
			if f.length > 0 {
				leaf["pieces root"] = f.root[:]
			}
			if f.exec {
				leaf["attr"] = "x"
			}
			dir := info.FileTree
			for _, e := range f.path[:len(f.path)-1] {
				sub, ok := dir[e].(map[string]any)
				if !ok {
					sub = map[string]any{}
					dir[e] = sub
				}
				dir = sub
			}
			dir[f.path[len(f.path)-1]] = map[string]any{"": leaf}
			if len(f.layer) > 0 {
				l := make([]byte, 0, 32*len(f.layer))
				for _, h := range f.layer {
					l = append(l, h[:]...)
				}
				layers[string(f.root[:])] = l
			}
		}
	}
	infoBytes, err := bencode.Marshal(&info)
	if err != nil {
		return nil, err
	}
	t := torrentFile{Info: infoBytes, Comment: b.Comment, CreatedBy: b.CreatedBy, URLList: b.WebSeeds}
	if t.CreatedBy == "" {
		t.CreatedBy = "bittern"
	}
	if !b.NoCreationDate {
		if b.CreationDate.IsZero() {
			t.CreationDate = time.Now().Unix()
		} else {
			t.CreationDate = b.CreationDate.Unix()
		}
	}
	for _, tier := range b.Trackers {
		if len(tier) > 0 {
			t.AnnounceList = append(t.AnnounceList, tier)
		}
	}
	if len(t.AnnounceList) > 0 {
		t.Announce = t.AnnounceList[0][0]
		if len(t.AnnounceList) == 1 && len(t.AnnounceList[0]) == 1 {
			t.AnnounceList = nil // a lone tracker needs no BEP 12 list
		}
	}
	if len(layers) > 0 {
		t.PieceLayers = layers
	}
	return bencode.Marshal(&t)
}
