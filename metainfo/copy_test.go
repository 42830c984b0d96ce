package metainfo

import (
	"runtime"
	"testing"
)

// Loading a 4 GiB single-file torrent with 256 KiB pieces copies its
// 320 KiB pieces string once (into InfoBytes, which Info.Pieces then
// aliases), never twice.
func TestLoadCopiesPiecesOnce(t *testing.T) {
	data := bigSingleFileTorrent(t)
	mi, err := Parse(data)
	if err != nil {
		t.Fatal(err)
	}
	pieces := uint64(len(mi.Info().Pieces))
	if pieces != 20*16384 {
		t.Fatalf("pieces is %d bytes", pieces)
	}
	const runs = 20
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for range runs {
		if _, err := Parse(data); err != nil {
			t.Fatal(err)
		}
	}
	runtime.ReadMemStats(&after)
	got := (after.TotalAlloc - before.TotalAlloc) / runs
	t.Logf("%d bytes allocated per Parse for %d bytes of pieces", got, pieces)
	if got >= pieces+pieces/2 {
		t.Fatalf("%d bytes allocated per Parse: the %d-byte pieces string is copied more than once", got, pieces)
	}
}
