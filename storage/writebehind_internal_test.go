package storage

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
)

func TestWriteBehindBookkeeping(t *testing.T) {
	w := newWriteBehind(450, 100, 2) // chunks [0,100) … [400,450)
	step := func(off, n int64, wantStart, wantDrop []byteRange) {
		t.Helper()
		start, drop := w.wrote(off, n, nil, nil)
		if !slices.Equal(start, wantStart) || !slices.Equal(drop, wantDrop) {
			t.Fatalf("wrote(%d, %d) = start %v, drop %v; want %v, %v", off, n, start, drop, wantStart, wantDrop)
		}
	}
	step(0, 60, nil, nil)
	step(150, 50, nil, nil) // second half of chunk 1, out of order
	step(60, 40, []byteRange{{0, 100}}, nil)
	step(100, 50, []byteRange{{100, 100}}, nil)
	// One write completing two chunks: the oldest falls behind the lag.
	step(200, 200, []byteRange{{200, 100}, {300, 100}}, []byteRange{{0, 100}, {100, 100}})
	step(400, 49, nil, nil)
	// The short last chunk; writes past the end are clipped.
	step(449, 10, []byteRange{{400, 50}}, []byteRange{{200, 100}})
	step(450, 10, nil, nil)
	step(-1, 10, nil, nil)
	if len(w.written) != 0 {
		t.Errorf("incomplete chunks left: %v", w.written)
	}
	if !slices.Equal(w.started, []int64{3, 4}) {
		t.Errorf("cached chunks %v, want [3 4]", w.started)
	}
}

// wbCall is one recorded write-behind call.
type wbCall struct {
	op   string // "start" or "drop"
	file string // base name
	r    byteRange
}

// wbRecorder is a writebackOps that records its calls.
type wbRecorder struct {
	mu    sync.Mutex
	calls []wbCall
}

func (r *wbRecorder) start(f *os.File, br byteRange) { r.add("start", f, br) }
func (r *wbRecorder) drop(f *os.File, br byteRange)  { r.add("drop", f, br) }

func (r *wbRecorder) add(op string, f *os.File, br byteRange) {
	r.mu.Lock()
	r.calls = append(r.calls, wbCall{op, filepath.Base(f.Name()), br})
	r.mu.Unlock()
}

// writeAllInBlocks writes the torrent's whole byte space in order, in
// blocks that straddle file boundaries.
func writeAllInBlocks(t *testing.T, tor *dirTorrent, data []byte, block int) {
	t.Helper()
	for off := 0; off < len(data); off += block {
		end := min(off+block, len(data))
		if _, err := tor.WriteAt(data[off:end], int64(off)); err != nil {
			t.Fatal(err)
		}
	}
}

func TestDirWriteBehindCalls(t *testing.T) {
	rec := &wbRecorder{}
	info := testInfo(512, 3000, 2500)
	tor := openT(t, &Dir{Root: t.TempDir(), WriteBehind: true, wbOps: rec, wbChunk: 1000, wbLag: 2}, info)
	defer tor.Close()
	writeAllInBlocks(t, tor, bytes.Repeat([]byte{9}, 5500), 700)
	want := []wbCall{
		{"start", "a", byteRange{0, 1000}},
		{"start", "a", byteRange{1000, 1000}},
		{"start", "a", byteRange{2000, 1000}},
		{"drop", "a", byteRange{0, 1000}},
		{"start", "b", byteRange{0, 1000}},
		{"start", "b", byteRange{1000, 1000}},
		{"start", "b", byteRange{2000, 500}},
		{"drop", "b", byteRange{0, 1000}},
	}
	if !slices.Equal(rec.calls, want) {
		t.Errorf("calls:\n%v\nwant:\n%v", rec.calls, want)
	}
}

func TestDirWriteBehindDisabled(t *testing.T) {
	rec := &wbRecorder{}
	info := testInfo(512, 3000, 2500)
	tor := openT(t, &Dir{Root: t.TempDir(), wbOps: rec, wbChunk: 1000, wbLag: 1}, info)
	defer tor.Close()
	writeAllInBlocks(t, tor, bytes.Repeat([]byte{9}, 5500), 700)
	if len(rec.calls) != 0 || tor.wb != nil {
		t.Errorf("write-behind off, yet %d calls: %v", len(rec.calls), rec.calls)
	}
}

// passOps records the calls and passes them on to the platform's.
type passOps struct{ wbRecorder }

func (p *passOps) start(f *os.File, r byteRange) {
	p.wbRecorder.start(f, r)
	defaultWritebackOps.start(f, r)
}

func (p *passOps) drop(f *os.File, r byteRange) {
	p.wbRecorder.drop(f, r)
	defaultWritebackOps.drop(f, r)
}

// TestDirWriteBehindSystem runs the platform's real calls, where it has
// them, and checks the data survives them.
func TestDirWriteBehindSystem(t *testing.T) {
	if defaultWritebackOps == nil {
		t.Skip("no write-behind on this platform")
	}
	info := testInfo(1<<14, 5<<14+123, 3<<14)
	ops := &passOps{}
	d := &Dir{Root: t.TempDir(), WriteBehind: true, wbOps: ops, wbChunk: 4096, wbLag: 1}
	tor := openT(t, d, info)
	data := make([]byte, info.TotalLength())
	for i := range data {
		data[i] = byte(i * 7)
	}
	writeAllInBlocks(t, tor, data, 1000)
	got := make([]byte, len(data))
	if _, err := tor.ReadAt(got, 0); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, data) {
		t.Error("data read back differs")
	}
	if err := tor.Close(); err != nil {
		t.Fatal(err)
	}
	onDisk, err := os.ReadFile(filepath.Join(d.Root, "t", "a"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(onDisk, data[:len(onDisk)]) {
		t.Errorf("file a differs on disk (%d bytes)", len(onDisk))
	}
	var drops int
	for _, c := range ops.calls {
		if c.op == "drop" {
			drops++
		}
	}
	if drops == 0 {
		t.Errorf("no page-cache drops among %d calls", len(ops.calls))
	}
}
