//go:build interop

package main

import "testing"

// TestLibtorrent runs the libtorrent comparator (needs /usr/bin/python3 with
// python3-libtorrent): go test -tags interop ./examples/bench
func TestLibtorrent(t *testing.T) {
	rs := benchJSON(t, "-size", "3000000", "-impl", "libtorrent,bittern")
	if len(rs) != 2 {
		t.Fatalf("%d results, want 2", len(rs))
	}
	checkResult(t, rs[0], "libtorrent", 3000000)
	checkResult(t, rs[1], "bittern", 3000000)
}

// TestAnacrolix builds and runs the anacrolix/torrent comparator (the nested
// module needs its dependencies in the module cache or from the proxy).
func TestAnacrolix(t *testing.T) {
	rs := benchJSON(t, "-size", "3000000", "-impl", "anacrolix")
	if len(rs) != 1 {
		t.Fatalf("%d results, want 1", len(rs))
	}
	checkResult(t, rs[0], "anacrolix", 3000000)
}
