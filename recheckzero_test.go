package bittern

import (
	"bytes"
	"context"
	"errors"
	"slices"
	"testing"
)

// Pieces that read as zeros are not hashed unless zeros are their data;
// pieces with data, failed reads and pieces outside the selection keep
// their place.
func TestSkipZeroPieces(t *testing.T) {
	const pl = 64 << 10
	data := randomData(5*pl+1000, 7)
	copy(data[pl:2*pl], make([]byte, pl))              // piece 1: real zeros
	mi := makeTorrent(t, "z", data, pl)                // hashes of the real data
	disk := make([]byte, len(data))                    // a new download: all zeros
	copy(disk[3*pl:4*pl], bytes.Repeat([]byte{1}, pl)) // piece 3: some (wrong) data
	disk[5*pl+999] = 9                                 // piece 5: one byte at the end
	got, err := skipZeroPieces(context.Background(), mi.Info(), bytes.NewReader(disk), nil)
	if err != nil {
		t.Fatal(err)
	}
	want := []bool{false, true, false, true, false, true}
	if !slices.Equal(got, want) {
		t.Fatalf("selection %v, want %v", got, want)
	}
	only := []bool{true, false, true, true, true, false}
	got, err = skipZeroPieces(context.Background(), mi.Info(), bytes.NewReader(disk), only)
	if err != nil {
		t.Fatal(err)
	}
	if want := []bool{false, false, false, true, false, false}; !slices.Equal(got, want) {
		t.Fatalf("with only: selection %v, want %v", got, want)
	}
	// A short read (the data ends early) leaves pieces to the recheck.
	got, _ = skipZeroPieces(context.Background(), mi.Info(), bytes.NewReader(disk[:2*pl+10]), nil)
	if !got[2] || !got[4] || got[0] {
		t.Fatalf("short data: selection %v", got)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := skipZeroPieces(ctx, mi.Info(), bytes.NewReader(disk), nil); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled: err %v", err)
	}
}
