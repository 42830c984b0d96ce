package storage

import (
	"bytes"
	"context"
	"encoding/binary"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/bittern/bittern/metainfo"
)

// fuzzInfo derives a file list from b: up to 10 files of up to 4 KiB,
// some empty, some pads, and a piece length of 1..4096 bytes.
func fuzzInfo(b []byte) (*metainfo.Info, []byte) {
	if len(b) < 2 {
		return nil, nil
	}
	info := &metainfo.Info{Name: "f", PieceLength: int64(binary.BigEndian.Uint16(b)%4096) + 1, MetaVersion: 1}
	b = b[2:]
	var off int64
	for i := 0; i < 10 && len(b) >= 2; i++ {
		v := binary.BigEndian.Uint16(b)
		b = b[2:]
		n := int64(v % 4097)
		f := metainfo.File{Path: []string{string(rune('a' + i))}, Length: n, Offset: off, Pad: v&0x8000 != 0 && i > 0}
		info.Files = append(info.Files, f)
		off += n
	}
	if len(info.Files) == 0 {
		return nil, nil
	}
	return info, b
}

// FuzzMapping checks the byte space of Memory and Dir against a flat
// reference buffer (zeros in pad files) under random reads and writes.
func FuzzMapping(f *testing.F) {
	f.Add([]byte{0x01, 0x00, 0x03, 0xe8, 0x00, 0x00, 0x80, 0x10, 0x07, 0xd0, 1, 2, 3, 4, 5, 6, 7, 8, 9})
	f.Add([]byte{0x00, 0x0f, 0x00, 0x01, 0x00, 0x01, 0x00, 0x01, 0xff, 0xff, 0, 0, 0, 0, 0, 0, 0})
	f.Add([]byte{0x40, 0x00, 0x10, 0x00, 0x90, 0x00, 0x10, 0x00, 0x00, 0x00, 0x05, 0x00, 200, 100, 50})
	f.Fuzz(func(t *testing.T, b []byte) {
		info, ops := fuzzInfo(b)
		if info == nil {
			return
		}
		var total int64
		for _, fl := range info.Files {
			total += fl.Length
		}
		if total == 0 {
			return
		}
		mem, err := new(Memory).Open(context.Background(), info, metainfo.Hash{1})
		if err != nil {
			t.Fatal(err)
		}
		defer mem.Close()
		dir, err := (&Dir{Root: t.TempDir(), MaxOpenFiles: 2}).Open(context.Background(), info, metainfo.Hash{1})
		if err != nil {
			t.Fatal(err)
		}
		defer dir.Close()
		if len(ops) > 0 && ops[0]&1 == 1 {
			// Deselect every other file so the part file is exercised.
			wanted := make([]bool, len(info.Files))
			for i := range wanted {
				wanted[i] = i%2 == 0
			}
			if err := dir.(FileSelector).SetWantedFiles(wanted); err != nil {
				t.Fatal(err)
			}
		}
		ref := make([]byte, total)
		isPad := make([]bool, total)
		for _, fl := range info.Files {
			if fl.Pad {
				for i := fl.Offset; i < fl.Offset+fl.Length; i++ {
					isPad[i] = true
				}
			}
		}
		for k := 0; len(ops) >= 5 && k < 20; k++ {
			off := int64(binary.BigEndian.Uint16(ops)) % (total + 10)
			n := int(binary.BigEndian.Uint16(ops[2:]) % 9000)
			write := ops[4]&1 == 1
			fill := ops[4]
			ops = ops[5:]
			for _, tor := range []Torrent{mem, dir} {
				if write {
					p := bytes.Repeat([]byte{fill}, n)
					m, err := tor.WriteAt(p, off)
					if off+int64(n) > total {
						if err == nil {
							t.Fatalf("WriteAt(%d at %d) past end %d succeeded", n, off, total)
						}
						continue
					}
					if err != nil || m != n {
						t.Fatalf("WriteAt(%d at %d) = %d, %v", n, off, m, err)
					}
					continue
				}
				p := make([]byte, n)
				m, err := tor.ReadAt(p, off)
				want := int64(n)
				if off >= total {
					want = 0
				} else if off+want > total {
					want = total - off
				}
				if int64(m) != want || (want < int64(n) && err != io.EOF) || (want == int64(n) && err != nil) {
					t.Fatalf("ReadAt(%d at %d) of %d = %d, %v", n, off, total, m, err)
				}
				if !bytes.Equal(p[:m], ref[off:off+int64(m)]) {
					t.Fatalf("ReadAt(%d at %d): content differs from the reference", n, off)
				}
			}
			if write && off+int64(n) <= total {
				for i := off; i < off+int64(n); i++ {
					if !isPad[i] {
						ref[i] = fill
					}
				}
			}
		}
		// Reselect everything; the Dir must still hold the reference.
		all := make([]bool, len(info.Files))
		for i := range all {
			all[i] = true
		}
		if err := dir.(FileSelector).SetWantedFiles(all); err != nil {
			t.Fatal(err)
		}
		got := make([]byte, total)
		if _, err := dir.ReadAt(got, 0); err != nil && err != io.EOF {
			t.Fatal(err)
		}
		if !bytes.Equal(got, ref) {
			t.Fatal("Dir content differs from the reference after reselecting")
		}
	})
}

// FuzzResumeRecord feeds arbitrary bytes as a completion record: it must
// be rejected or yield a well-formed Resume, never panic, and a record is
// only accepted if its checksum holds.
func FuzzResumeRecord(f *testing.F) {
	info := testInfo(16<<10, 20000, 45000)
	dir := f.TempDir()
	tor, err := (&Dir{Root: dir}).Open(context.Background(), info, metainfo.Hash{7})
	if err != nil {
		f.Fatal(err)
	}
	dt := tor.(*dirTorrent)
	f.Add(dt.encodeResume([]bool{true, false, true, true}, dt.stats()))
	f.Add(dt.encodeResume(make([]bool, 4), dt.stats()))
	f.Add([]byte(resumeMagic))
	tor.Close()
	f.Fuzz(func(t *testing.T, rec []byte) {
		root := t.TempDir()
		tor, err := (&Dir{Root: root}).Open(context.Background(), info, metainfo.Hash{7})
		if err != nil {
			t.Fatal(err)
		}
		defer tor.Close()
		if err := os.WriteFile(filepath.Join(root, "."+metainfo.Hash{7}.String()+".resume"), rec, 0o644); err != nil {
			t.Fatal(err)
		}
		r, err := tor.(CompletionStore).LoadCompletion(context.Background())
		if err != nil {
			return
		}
		if len(r.Verified) != 4 || len(r.Recheck) != 4 {
			t.Fatalf("accepted record gives %d/%d entries", len(r.Verified), len(r.Recheck))
		}
		if len(rec) < 32 {
			t.Fatal("accepted a record too short to carry a checksum")
		}
	})
}

// FuzzPartFile feeds arbitrary bytes as a part file: reads and writes
// through it must never panic, and a broken table is discarded.
func FuzzPartFile(f *testing.F) {
	info := testInfo(16<<10, 10000, 30000, 20000)
	dir := f.TempDir()
	tor, err := (&Dir{Root: dir}).Open(context.Background(), info, metainfo.Hash{7})
	if err != nil {
		f.Fatal(err)
	}
	_ = tor.(FileSelector).SetWantedFiles([]bool{true, false, true})
	_, _ = tor.WriteAt(bytes.Repeat([]byte{3}, 60000), 0)
	_ = tor.(Flusher).Flush()
	seed, _ := os.ReadFile(filepath.Join(dir, "."+metainfo.Hash{7}.String()+".parts"))
	tor.Close()
	f.Add(seed[:min(len(seed), 5000)])
	f.Add([]byte(partMagic))
	f.Fuzz(func(t *testing.T, b []byte) {
		root := t.TempDir()
		if err := os.WriteFile(filepath.Join(root, "."+metainfo.Hash{7}.String()+".parts"), b, 0o644); err != nil {
			t.Fatal(err)
		}
		tor, err := (&Dir{Root: root}).Open(context.Background(), info, metainfo.Hash{7})
		if err != nil {
			t.Fatal(err)
		}
		defer tor.Close()
		if err := tor.(FileSelector).SetWantedFiles([]bool{true, false, true}); err != nil {
			t.Fatal(err)
		}
		buf := make([]byte, 60000)
		if _, err := tor.ReadAt(buf, 0); err != nil && err != io.EOF {
			t.Fatal(err)
		}
		if _, err := tor.WriteAt(buf[:100], 15000); err != nil {
			t.Fatal(err)
		}
		if err := tor.(FileSelector).SetWantedFiles([]bool{true, true, true}); err != nil {
			t.Fatal(err)
		}
	})
}

// FuzzLayoutNames feeds arbitrary names, paths and symlink targets to the
// layout: it must reject them or map them to names that stay inside the
// download directory.
func FuzzLayoutNames(f *testing.F) {
	f.Add("name", "a/b", "c", "a/b", false)
	f.Add("..", "../../etc/passwd", "x", "", true)
	f.Add("n", "a\x00b", "/abs", "..", false)
	f.Add("n", "a", "a/b", "", false)
	f.Fuzz(func(t *testing.T, name, p1, p2, target string, single bool) {
		split := func(s string) []string {
			if s == "" {
				return nil
			}
			return splitSlash(s)
		}
		info := &metainfo.Info{Name: name, PieceLength: 16 << 10, SingleFile: single, Files: []metainfo.File{
			{Path: split(p1), Length: 5},
			{Path: split(p2), Length: 0, Attr: "l", Symlink: split(target), Offset: 5},
		}}
		l, err := newLayout(info)
		if err != nil {
			return
		}
		for _, lf := range l.files {
			for _, c := range splitSlash(lf.name) {
				if c == "" || c == "." || c == ".." {
					t.Fatalf("accepted name %q", lf.name)
				}
			}
			if lf.symlink {
				// The target, resolved from the link's directory, stays
				// inside the root.
				depth := len(splitSlash(lf.name)) - 1
				for _, c := range splitSlash(lf.target) {
					if c == ".." {
						depth--
					} else {
						depth++
					}
					if depth < 0 {
						t.Fatalf("symlink %q -> %q escapes", lf.name, lf.target)
					}
				}
			}
		}
	})
}

func splitSlash(s string) []string {
	var out []string
	for {
		i := bytes.IndexByte([]byte(s), '/')
		if i < 0 {
			return append(out, s)
		}
		out = append(out, s[:i])
		s = s[i+1:]
	}
}
