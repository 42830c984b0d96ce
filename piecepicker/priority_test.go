package piecepicker

import (
	"errors"
	"slices"
	"testing"
)

// bruteForce maps file priorities onto pieces byte by byte.
func bruteForce(files []File, pieceStarts []int64) []Priority {
	n := len(pieceStarts) - 1
	prios := make([]Priority, n)
	for _, f := range files {
		for off := f.Offset; off < f.Offset+f.Length; off++ {
			i := searchPiece(pieceStarts, off)
			prios[i] = max(prios[i], f.Priority)
		}
	}
	return prios
}

func TestPiecePriorities(t *testing.T) {
	files := []File{
		{Offset: 0, Length: 0, Priority: High}, // empty: affects nothing
		{Offset: 0, Length: 100, Priority: Low},
		{Offset: 100, Length: 100, Priority: Skip},
		{Offset: 200, Length: 1, Priority: High},
		{Offset: 201, Length: 99, Priority: Normal},
	}
	got, err := PiecePriorities(files, 100, 300)
	if err != nil {
		t.Fatal(err)
	}
	if want := []Priority{Low, Skip, High}; !slices.Equal(got, want) {
		t.Fatalf("got %v want %v", got, want)
	}
	for _, bad := range [][]File{
		{{Offset: -1, Length: 1}},
		{{Offset: 0, Length: 301}},
		{{Offset: 301, Length: 0}},
		{{Offset: 0, Length: -1}},
		{{Offset: 0, Length: 1, Priority: 8}},
	} {
		_, err := PiecePriorities(bad, 100, 300)
		if !errors.Is(err, ErrFileRange) && !errors.Is(err, ErrBadPriority) {
			t.Errorf("%v: %v", bad, err)
		}
	}
	if _, err := PiecePriorities(nil, 0, 10); !errors.Is(err, ErrConfig) {
		t.Fatal(err)
	}
	p := newTest(t, Config{NumPieces: 3, PieceLength: 100})
	if err := p.SetPriorities([]Priority{1}); !errors.Is(err, ErrPrioritiesLen) {
		t.Fatal(err)
	}
	if err := p.SetPriorities([]Priority{1, 2, 9}); !errors.Is(err, ErrBadPriority) || p.Priority(0) != Normal {
		t.Fatal("invalid priorities partly applied", err)
	}
}

// FuzzPiecePriorities checks the file-to-piece mapping against a byte-by-byte oracle, for
// uniform pieces and for BEP 52 style per-piece lengths.
func FuzzPiecePriorities(f *testing.F) {
	f.Add(uint8(100), uint8(3), []byte{0, 100, 1, 100, 100, 0, 200, 1, 7})
	f.Add(uint8(7), uint8(9), []byte{0, 0, 4, 3, 20, 2, 60, 3, 1})
	f.Fuzz(func(t *testing.T, pl, lastShort uint8, spec []byte) {
		pieceLen := int64(pl%64) + 1
		total := pieceLen*int64(1+len(spec)%7) - int64(lastShort)%pieceLen
		var files []File
		for i := 0; i+2 < len(spec) && len(files) < 16; i += 3 {
			off := int64(spec[i]) % (total + 1)
			length := int64(spec[i+1]) % (total - off + 1)
			files = append(files, File{Offset: off, Length: length, Priority: Priority(spec[i+2] % 8)})
		}
		got, err := PiecePriorities(files, pieceLen, total)
		if err != nil {
			t.Fatal(err)
		}
		n := len(got)
		starts := make([]int64, n+1)
		for i := range n {
			starts[i+1] = min(starts[i]+pieceLen, total)
		}
		if want := bruteForce(files, starts); !slices.Equal(got, want) {
			t.Fatalf("files %v: got %v want %v", files, got, want)
		}
		// Non-uniform lengths: every third piece is short.
		lens := make([]int, 0, n)
		var sum int64
		for i := range n {
			l := int(pieceLen)
			if i%3 == 1 {
				l = max(1, l/2)
			}
			lens = append(lens, l)
			sum += int64(l)
		}
		if n == 0 {
			return
		}
		p, err := New(Config{NumPieces: n, PieceLengths: func(i int) int { return lens[i] }})
		if err != nil {
			t.Fatal(err)
		}
		var clipped []File
		for _, f := range files {
			off := min(f.Offset, sum)
			clipped = append(clipped, File{Offset: off, Length: min(f.Length, sum-off), Priority: f.Priority})
		}
		if err := p.SetFilePriorities(clipped); err != nil {
			t.Fatal(err)
		}
		starts = starts[:1]
		for _, l := range lens {
			starts = append(starts, starts[len(starts)-1]+int64(l))
		}
		want := bruteForce(clipped, starts)
		for i := range n {
			if p.Priority(i) != want[i] {
				t.Fatalf("v2 lengths %v files %v: piece %d got %d want %d", lens, clipped, i, p.Priority(i), want[i])
			}
		}
	})
}
