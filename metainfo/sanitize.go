package metainfo

import (
	"strconv"
	"strings"
	"unicode/utf8"
)

// maxElementLen is the longest path element kept; longer ones are truncated
// (keeping a short extension), as file systems limit names to 255 bytes.
const maxElementLen = 255

// sanitizeElement applies the path safety rule (see doc.go) to one path
// element. It returns "" when the element must be dropped.
func sanitizeElement(s string) string {
	if s == "" || s == "." || s == ".." {
		return ""
	}
	if isPlainElement(s) {
		return s
	}
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size <= 1:
			b.WriteByte('_') // invalid UTF-8
		case r == '/' || r == '\\':
			// separators would split the element: drop them
		case r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) ||
			r == 0x200e || r == 0x200f || (r >= 0x202a && r <= 0x202e) || (r >= 0x2066 && r <= 0x2069):
			// control and bidirectional-override characters
			b.WriteByte('_')
		default:
			b.WriteString(s[i : i+size])
		}
		i += size
	}
	out := b.String()
	switch out {
	case "", ".", "..":
		// only separators and dots: keep a placeholder so the file still
		// has a name of its own
		out = "_"
	}
	// A drive letter ("C:") would make the element absolute on Windows.
	if len(out) >= 2 && out[1] == ':' && isASCIILetter(out[0]) {
		out = out[:1] + "_" + out[2:]
	}
	return truncateElement(out)
}

func isASCIILetter(c byte) bool { return c|0x20 >= 'a' && c|0x20 <= 'z' }

// truncateElement shortens s to maxElementLen bytes at a rune boundary,
// keeping an extension of up to 16 bytes.
func truncateElement(s string) string {
	if len(s) <= maxElementLen {
		return s
	}
	ext := ""
	if i := strings.LastIndexByte(s, '.'); i > 0 && len(s)-i <= 16 {
		ext = s[i:]
		s = s[:i]
	}
	n := maxElementLen - len(ext)
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + ext
}

// sanitizePath sanitizes every element of p, dropping empty, "." and ".."
// ones. A path that ends up empty becomes []string{"_"}.
func sanitizePath(p []string) []string {
	plain := len(p) > 0
	for _, e := range p {
		plain = plain && e != "." && e != ".." && e != "" && isPlainElement(e)
	}
	if plain {
		return p // nothing to change: share the decoded slice
	}
	out := make([]string, 0, len(p))
	for _, e := range p {
		if s := sanitizeElement(e); s != "" {
			out = append(out, s)
		}
	}
	if len(out) == 0 {
		out = append(out, "_")
	}
	return out
}

// resolveDuplicates renames files whose sanitized paths collide (with each
// other or with a directory another file needs), appending ".1", ".2", …
// before the extension, as libtorrent does. Paths are compared without
// regard to case, so that no two files share a name on a case-insensitive
// file system. Pad files are exempt. Like libtorrent, it counts every
// candidate name found taken, over the whole torrent, and fails beyond
// MaxDuplicateNames.
func resolveDuplicates(files []File, single bool) error {
	if single {
		return nil
	}
	dirs := make(map[string]bool)
	for i := range files {
		if files[i].Pad {
			continue
		}
		p := files[i].Path
		for j := 1; j < len(p); j++ {
			dirs[strings.ToLower(strings.Join(p[:j], "/"))] = true
		}
	}
	seen := make(map[string]bool, len(files))
	taken := func(k string) bool { return seen[k] || dirs[k] }
	collisions := 0
	for i := range files {
		f := &files[i]
		if f.Pad {
			continue
		}
		key := strings.ToLower(strings.Join(f.Path, "/"))
		if !taken(key) {
			seen[key] = true
			continue
		}
		last := f.Path[len(f.Path)-1]
		base, ext := last, ""
		if j := strings.LastIndexByte(last, '.'); j > 0 {
			base, ext = last[:j], last[j:]
		}
		prefix := strings.Join(f.Path[:len(f.Path)-1], "/")
		if prefix != "" {
			prefix += "/"
		}
		for n := 1; ; n++ {
			name := base + "." + strconv.Itoa(n) + ext
			if k := strings.ToLower(prefix + name); !taken(k) {
				seen[k] = true
				p := append([]string(nil), f.Path[:len(f.Path)-1]...)
				f.Path = append(p, name)
				break
			}
			if collisions++; collisions > MaxDuplicateNames {
				return ErrTooManyDuplicates
			}
		}
	}
	return nil
}

// resolveSymlinks sets the sanitized Symlink target of every symlink in
// files from the raw targets. A target is relative to the torrent root
// (BEP 47); if it names no file or directory of the torrent but does when
// read relative to the link's own directory (as a file system would read
// it, with ".." clamped at the torrent root), that reading is used, as
// libtorrent does. Either way the target stays inside the torrent.
func resolveSymlinks(files []File, raw []rawFile) {
	var exists map[string]bool
	for i := range files {
		target := raw[i].symlink
		if target == nil {
			continue
		}
		if exists == nil {
			exists = make(map[string]bool)
			for _, f := range files {
				for j := 1; j <= len(f.Path); j++ {
					exists[strings.Join(f.Path[:j], "/")] = true
				}
			}
		}
		rootRel := sanitizePath(target)
		files[i].Symlink = rootRel
		if exists[strings.Join(rootRel, "/")] {
			continue
		}
		link := files[i].Path
		rel := append([]string(nil), link[:len(link)-1]...)
		for _, e := range target {
			switch e {
			case "", ".":
			case "..":
				if len(rel) > 0 {
					rel = rel[:len(rel)-1]
				}
			default:
				rel = append(rel, sanitizeElement(e))
			}
		}
		if len(rel) > 0 && exists[strings.Join(rel, "/")] {
			files[i].Symlink = rel
		}
	}
}

// isPlainElement reports whether s is printable ASCII without separators,
// short enough, not a drive letter: the common case, needing no change.
func isPlainElement(s string) bool {
	if len(s) > maxElementLen || (len(s) >= 2 && s[1] == ':' && isASCIILetter(s[0])) {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= 0x7f || c == '/' || c == '\\' {
			return false
		}
	}
	return true
}
