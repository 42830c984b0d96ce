package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bittern/bittern/metainfo"
)

func TestCreate(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "src")
	if err := os.MkdirAll(filepath.Join(src, "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(src, "a.txt"), bytes.Repeat([]byte("a"), 50000), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(src, "sub", "b.txt"), []byte("hello"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		flag   string
		v1, v2 bool
	}{{"-v1", true, false}, {"-v2", false, true}, {"-hybrid", true, true}, {"", true, true}} {
		out := filepath.Join(dir, "out"+tt.flag+".torrent")
		args := []string{"-piece-length", "32K", "-tracker", "http://t1/announce", "-tracker", "udp://t2:80",
			"-webseed", "http://ws/", "-private", "-comment", "c", "-no-date", "-o", out, src}
		if tt.flag != "" {
			args = append([]string{tt.flag}, args...)
		}
		var o, e bytes.Buffer
		if code := run(context.Background(), args, &o, &e); code != 0 {
			t.Fatalf("%s: exit %d: %s", tt.flag, code, e.String())
		}
		mi, err := metainfo.LoadFile(out)
		if err != nil {
			t.Fatal(err)
		}
		info := mi.Info()
		if info.IsV1() != tt.v1 || info.IsV2() != tt.v2 {
			t.Errorf("%s: v1=%v v2=%v", tt.flag, info.IsV1(), info.IsV2())
		}
		if info.PieceLength != 32<<10 || !info.Private || mi.Comment != "c" || mi.CreationDate != 0 {
			t.Errorf("%s: options not applied: %+v", tt.flag, mi)
		}
		if tr := mi.Trackers(); len(tr) != 2 || tr[0][0] != "http://t1/announce" || tr[1][0] != "udp://t2:80" {
			t.Errorf("%s: trackers %v", tt.flag, tr)
		}
		if len(mi.URLList) != 1 {
			t.Errorf("%s: web seeds %v", tt.flag, mi.URLList)
		}
		if !strings.Contains(o.String(), "wrote "+out) {
			t.Errorf("%s: stdout %q", tt.flag, o.String())
		}
		if !strings.Contains(e.String(), "hashing: 100.0%") {
			t.Errorf("%s: no progress on stderr: %q", tt.flag, e.String())
		}
	}
}

func TestCreateErrors(t *testing.T) {
	dir := t.TempDir()
	for _, args := range [][]string{
		{"-v1", "-v2", "-o", filepath.Join(dir, "x.torrent"), dir},
		{"-piece-length", "1000", "-o", filepath.Join(dir, "x.torrent"), dir},
		{"-piece-length", "abc", "-o", filepath.Join(dir, "x.torrent"), dir},
		{"-o", filepath.Join(dir, "x.torrent"), filepath.Join(dir, "missing")},
		{"-o", filepath.Join(dir, "x.torrent"), dir}, // empty directory
	} {
		var o, e bytes.Buffer
		if code := run(context.Background(), args, &o, &e); code != 1 {
			t.Errorf("%q: exit %d, want 1 (%s)", args, code, e.String())
		} else if !strings.HasPrefix(e.String(), "torrent-create: ") {
			t.Errorf("%q: stderr %q", args, e.String())
		}
	}
	var o, e bytes.Buffer
	if code := run(context.Background(), []string{dir}, &o, &e); code != 2 {
		t.Errorf("missing -o: exit %d, want 2", code)
	}
}
