package metainfo

import (
	"errors"
	"slices"
	"strconv"
	"strings"
	"testing"
)

func TestSanitizeElement(t *testing.T) {
	for _, tt := range []struct{ in, want string }{
		{"", ""},
		{".", ""},
		{"..", ""},
		{"normal.txt", "normal.txt"},
		{"/", "_"},
		{"\\", "_"},
		{"//..//", "_"},
		{"/etc", "etc"},
		{"a/../b", "a..b"},
		{"temp/../../abc", "temp....abc"},
		{"C:", "C_"},
		{"c:\\windows", "c_windows"},
		{"x:y", "x_y"},
		{"ab:c", "ab:c"},
		{"\x82est", "_est"},
		{"tab\there", "tab_here"},
		{"del\x7f", "del_"},
		{"rtl\u202eexe.txt", "rtl_exe.txt"},
		{"héllo wörld", "héllo wörld"},
		{"trailing ", "trailing "},
		{"...", "..."},
		{strings.Repeat("a", 300) + ".mkv", strings.Repeat("a", 251) + ".mkv"},
		{strings.Repeat("é", 200), strings.Repeat("é", 127)},
	} {
		if got := sanitizeElement(tt.in); got != tt.want {
			t.Errorf("sanitizeElement(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestSanitizePath(t *testing.T) {
	for _, tt := range []struct{ in, want []string }{
		{[]string{"..", "..", "etc", "passwd"}, []string{"etc", "passwd"}},
		{[]string{"", ""}, []string{"_"}},
		{[]string{"."}, []string{"_"}},
		{[]string{"a", "/", "b"}, []string{"a", "_", "b"}},
		{nil, []string{"_"}},
	} {
		if got := sanitizePath(tt.in); !slices.Equal(got, tt.want) {
			t.Errorf("sanitizePath(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestResolveDuplicates(t *testing.T) {
	mk := func(paths ...string) []File {
		var fs []File
		for _, p := range paths {
			fs = append(fs, File{Path: strings.Split(p, "/"), Pad: strings.HasPrefix(p, ".pad/")})
		}
		return fs
	}
	files := mk("a/b.txt", "a/b.txt", "a/b.txt", "a", ".pad/5", ".pad/5", "noext", "noext", "A/B.TXT", "Case", "case")
	if err := resolveDuplicates(files, false); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, f := range files {
		got = append(got, strings.Join(f.Path, "/"))
	}
	want := []string{"a/b.txt", "a/b.1.txt", "a/b.2.txt", "a.1", ".pad/5", ".pad/5", "noext", "noext.1", "A/B.3.TXT", "Case", "case.1"}
	if !slices.Equal(got, want) {
		t.Errorf("got %q, want %q", got, want)
	}

	// The collision budget is shared by the whole torrent.
	var many []string
	for range 40 {
		many = append(many, "same")
	}
	if err := resolveDuplicates(mk(many...), false); !errors.Is(err, ErrTooManyDuplicates) {
		t.Errorf("40 identical names: %v, want ErrTooManyDuplicates", err)
	}
	var distinct []string
	for i := range 1000 {
		distinct = append(distinct, "f"+strconv.Itoa(i))
	}
	if err := resolveDuplicates(mk(distinct...), false); err != nil {
		t.Errorf("distinct names: %v", err)
	}
}

func TestSymlinkTargetsStayInside(t *testing.T) {
	files := []File{
		{Path: []string{"dir", "real"}, Length: 1},
		{Path: []string{"dir", "link1"}, Attr: "l"},
		{Path: []string{"dir", "link2"}, Attr: "l"},
		{Path: []string{"link3"}, Attr: "l"},
	}
	raw := []rawFile{
		{},
		{symlink: []string{"..", "..", "..", "etc", "passwd"}},
		{symlink: []string{"real"}}, // relative to its directory
		{symlink: []string{"/", "abs"}},
	}
	resolveSymlinks(files, raw)
	for i, want := range [][]string{nil, {"etc", "passwd"}, {"dir", "real"}, {"_", "abs"}} {
		if !slices.Equal(files[i].Symlink, want) {
			t.Errorf("file %d: symlink %q, want %q", i, files[i].Symlink, want)
		}
	}
}
