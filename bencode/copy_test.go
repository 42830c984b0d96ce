package bencode

import (
	"runtime"
	"testing"
)

// bytesPerRun returns the heap bytes f allocates per call, averaged over n
// calls (runtime.MemStats.TotalAlloc counts every allocation, collected or
// not).
func bytesPerRun(n int, f func()) uint64 {
	f() // warm caches and pools
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for range n {
		f()
	}
	runtime.ReadMemStats(&after)
	return (after.TotalAlloc - before.TotalAlloc) / uint64(n)
}

// Decoding input (a), a 4 GiB single-file torrent with 256 KiB pieces,
// copies its 320 KiB pieces string once, from the input into the []byte
// field, and never a second time (no intermediate string or buffer).
func TestPiecesCopiedOnce(t *testing.T) {
	in := benchTorrentSingle()
	var v torrent
	if err := Unmarshal(in, &v); err != nil {
		t.Fatal(err)
	}
	pieces := uint64(len(v.Info.Pieces))
	if pieces != 20*16384 {
		t.Fatalf("pieces is %d bytes", pieces)
	}
	got := bytesPerRun(20, func() {
		var v torrent
		if err := Unmarshal(in, &v); err != nil {
			t.Fatal(err)
		}
	})
	t.Logf("%d bytes allocated per decode for %d bytes of pieces", got, pieces)
	if got < pieces || got >= pieces+pieces/2 {
		t.Fatalf("%d bytes allocated per decode, want one copy of the %d-byte pieces string plus a little", got, pieces)
	}
}

// keep is an Unmarshaler that keeps the data it is given.
type keep []byte

func (k *keep) UnmarshalBencode(data []byte) error { *k = data; return nil }

// Unmarshal hands an Unmarshaler a subslice of its input (the documented
// contract metainfo relies on to alias an info dictionary's fields).
func TestUnmarshalerDataAliasesInput(t *testing.T) {
	in := []byte("d1:al4:spamee")
	var v map[string]keep
	if err := Unmarshal(in, &v); err != nil {
		t.Fatal(err)
	}
	if string(v["a"]) != "l4:spame" || &v["a"][0] != &in[4] {
		t.Fatalf("value %q does not alias the input", v["a"])
	}
}
