package bittern

import (
	"bytes"
	"context"
	"crypto/sha1"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/bittern/bittern/bencode"
	"github.com/bittern/bittern/metainfo"
	"github.com/bittern/bittern/storage"
)

// makeMultiTorrent builds a multi-file v1 torrent "multi" with files
// f0.bin, f1.bin, ... of the given sizes, and returns it with its data.
func makeMultiTorrent(t testing.TB, sizes []int, pieceLen int, seed uint64) (*metainfo.MetaInfo, []byte) {
	t.Helper()
	total := 0
	var files []any
	for i, n := range sizes {
		total += n
		files = append(files, map[string]any{"length": n, "path": []string{fmt.Sprintf("f%d.bin", i)}})
	}
	data := randomData(total, seed)
	var pieces []byte
	for off := 0; off < len(data); off += pieceLen {
		sum := sha1.Sum(data[off:min(off+pieceLen, len(data))])
		pieces = append(pieces, sum[:]...)
	}
	ib, err := bencode.Marshal(map[string]any{"name": "multi", "piece length": pieceLen, "pieces": pieces, "files": files})
	if err != nil {
		t.Fatal(err)
	}
	tb, err := bencode.Marshal(map[string]any{"info": bencode.RawMessage(ib)})
	if err != nil {
		t.Fatal(err)
	}
	mi, err := metainfo.Parse(tb)
	if err != nil {
		t.Fatal(err)
	}
	return mi, data
}

// checkFilesOnDisk checks that the selected files hold their bytes under
// dir and that the others do not exist.
func checkFilesOnDisk(t *testing.T, dir string, mi *metainfo.MetaInfo, data []byte, selected map[int]bool) {
	t.Helper()
	for i, f := range mi.Info().Files {
		name := filepath.Join(dir, "multi", filepath.Join(f.Path...))
		b, err := os.ReadFile(name)
		if !selected[i] {
			if !errors.Is(err, os.ErrNotExist) {
				t.Errorf("file %d (skipped): %v, want it not created", i, err)
			}
			continue
		}
		if err != nil {
			t.Errorf("file %d: %v", i, err)
			continue
		}
		if !bytes.Equal(b, data[f.Offset:f.Offset+f.Length]) {
			t.Errorf("file %d: data differs", i)
		}
	}
}

// Skipped files are not downloaded nor created (their boundary pieces'
// bytes go to the part file); selecting one later fetches the rest and
// moves the kept bytes into it.
func TestFileSelection(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := newPipeNet()
		// Files do not start on piece boundaries: f1 shares pieces with f0
		// and f2.
		mi, data := makeMultiTorrent(t, []int{100_000, 70_003, 200_000, 50_000}, 32<<10, 60)
		seeder := startSeeder(t, n, "10.0.0.1:6881", mi, data, nil)
		defer seeder.Close()
		dir := t.TempDir()
		leecher := newPipeSession(t, n, "10.0.1.1:6881", &Config{Storage: &storage.Dir{Root: dir}})
		defer leecher.Close()
		ctx, cancel := context.WithTimeout(context.Background(), time.Hour)
		defer cancel()
		prios := []Priority{PriorityNormal, PrioritySkip, PriorityHigh, PrioritySkip}
		tor, err := leecher.AddTorrent(ctx, mi, &TorrentOptions{Peers: peersAt("10.0.0.1:6881"), FilePriorities: prios})
		if err != nil {
			t.Fatal(err)
		}
		if err := tor.Wait(ctx); err != nil {
			t.Fatal(err)
		}
		files := tor.Files()
		if len(files) != 4 || files[1].Path() != "multi/f1.bin" || files[1].Offset() != 100_000 || files[1].Length() != 70_003 {
			t.Fatalf("files: %+v", files)
		}
		for i, f := range files {
			if f.Priority() != prios[i] {
				t.Errorf("file %d: priority %d, want %d", i, f.Priority(), prios[i])
			}
			if prios[i] > PrioritySkip && f.BytesCompleted() != f.Length() {
				t.Errorf("file %d: %d of %d bytes completed", i, f.BytesCompleted(), f.Length())
			}
		}
		// The last file's pieces (the last 50,000 bytes, less the piece
		// shared with f2) were not fetched.
		if got := files[3].BytesCompleted(); got == files[3].Length() {
			t.Errorf("skipped file 3 is complete")
		}
		st := tor.Stats()
		if !st.Complete || st.PiecesHave == st.Pieces {
			t.Errorf("stats: complete %v, %d of %d pieces; want complete with pieces missing", st.Complete, st.PiecesHave, st.Pieces)
		}
		if st.BytesLeft != 0 || st.ETA != 0 {
			t.Errorf("stats: %d bytes left, ETA %v once the selection is complete", st.BytesLeft, st.ETA)
		}
		checkFilesOnDisk(t, dir, mi, data, map[int]bool{0: true, 2: true})
		// f1's bytes in the pieces it shares with f0 and f2 are kept aside.
		if _, err := os.Stat(filepath.Join(dir, "."+mi.InfoHash().String()+".parts")); err != nil {
			t.Errorf("part file: %v", err)
		}
		if got := files[1].BytesCompleted(); got == 0 || got == files[1].Length() {
			t.Errorf("skipped file 1: %d of %d bytes in verified pieces, want its boundary pieces only", got, files[1].Length())
		}

		// Select f1: completion reopens, then the file arrives, with the
		// bytes of the boundary pieces moved out of the part file.
		if err := files[1].SetPriority(PriorityNormal); err != nil {
			t.Fatal(err)
		}
		if err := tor.Wait(ctx); err != nil {
			t.Fatal(err)
		}
		if files[1].BytesCompleted() != files[1].Length() {
			t.Errorf("file 1: %d of %d bytes", files[1].BytesCompleted(), files[1].Length())
		}
		checkFilesOnDisk(t, dir, mi, data, map[int]bool{0: true, 1: true, 2: true})

		if err := files[0].SetPriority(8); !errors.Is(err, ErrBadPriority) {
			t.Errorf("SetPriority(8) = %v, want ErrBadPriority", err)
		}
		if err := tor.SetFilePriorities([]Priority{1, 2, 9}); !errors.Is(err, ErrBadPriority) {
			t.Errorf("SetFilePriorities with 9 = %v, want ErrBadPriority", err)
		}
		if files[0].Priority() != PriorityNormal {
			t.Errorf("a failed SetFilePriorities changed priorities")
		}
		// Selecting everything finishes the torrent.
		if err := tor.SetFilePriorities(nil); err != nil {
			t.Fatal(err)
		}
		if err := tor.Wait(ctx); err != nil {
			t.Fatal(err)
		}
		checkFilesOnDisk(t, dir, mi, data, map[int]bool{0: true, 1: true, 2: true, 3: true})
	})
}

// BytesLeft counts the pieces of the selected files only, exactly.
func TestBytesLeft(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := newPipeNet()
		mi, _ := makeMultiTorrent(t, []int{100_000, 70_003, 200_000, 50_000}, 32<<10, 61)
		s := newPipeSession(t, n, "10.0.1.1:6881", &Config{Storage: &storage.Memory{}})
		defer s.Close()
		prios := []Priority{PrioritySkip, PrioritySkip, PrioritySkip, PriorityNormal}
		tor, err := s.AddTorrent(context.Background(), mi, &TorrentOptions{FilePriorities: prios})
		if err != nil {
			t.Fatal(err)
		}
		// f3 spans bytes 370,003..420,002: pieces 11 (from 360,448) to 12,
		// the last, 420,003-393,216 = 26,787 bytes long.
		if got, want := tor.Stats().BytesLeft, int64(32<<10+26_787); got != want {
			t.Errorf("f3 selected: %d bytes left, want %d", got, want)
		}
		if err := tor.SetFilePriorities(nil); err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		if st := tor.Stats(); st.BytesLeft != st.Length || st.ETA != -1 {
			t.Errorf("all selected: %d bytes left of %d, ETA %v", st.BytesLeft, st.Length, st.ETA)
		}
	})
}

// A leecher is not interested in a seed of the selected files only.
func TestSelectionInterest(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := newPipeNet()
		mi, data := makeMultiTorrent(t, []int{64 << 10, 64 << 10}, 32<<10, 61)
		// The "seeder" fetches only the first file's pieces from a source.
		st := &storage.Memory{}
		seeder := newPipeSession(t, n, "10.0.0.1:6881", &Config{Storage: st})
		defer seeder.Close()
		half, err := seeder.AddTorrent(context.Background(), mi, &TorrentOptions{FilePriorities: []Priority{PriorityNormal, PrioritySkip}})
		if err != nil {
			t.Fatal(err)
		}
		src := startSeeder(t, n, "10.0.0.2:6881", mi, data, nil)
		defer src.Close()
		half.AddPeers(peersAt("10.0.0.2:6881")...)
		ctx, cancel := context.WithTimeout(context.Background(), time.Hour)
		defer cancel()
		if err := half.Wait(ctx); err != nil {
			t.Fatal(err)
		}
		src.Close()
		if st := half.Stats(); st.PiecesHave != 2 {
			t.Fatalf("partial seed has %d pieces, want 2", st.PiecesHave)
		}
		// A leecher wanting only the second file gets nothing from it and
		// is not interested in it.
		leecher := newPipeSession(t, n, "10.0.1.1:6881", &Config{Storage: &storage.Memory{}})
		defer leecher.Close()
		tor, err := leecher.AddTorrent(ctx, mi, &TorrentOptions{Peers: peersAt("10.0.0.1:6881"), FilePriorities: []Priority{PrioritySkip, PriorityNormal}})
		if err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Minute)
		interested := make(chan int, 1)
		tor.inbox.post(func() {
			k := 0
			for c := range tor.conns {
				if c.amInterested {
					k++
				}
			}
			interested <- k
		})
		if k := <-interested; k != 0 || tor.Stats().Peers != 1 {
			t.Errorf("interested in %d of %d peers, want 0 of 1", k, tor.Stats().Peers)
		}
		// Selecting the first file makes the peer interesting.
		if err := tor.SetFilePriorities([]Priority{PriorityNormal, PriorityNormal}); err != nil {
			t.Fatal(err)
		}
		for tor.Stats().PiecesHave < 2 {
			time.Sleep(10 * time.Millisecond)
		}
	})
}

// Higher-priority files are fetched first.
func TestFilePriorityOrder(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := newPipeNet()
		n.rate = 1 << 20
		const pl = 32 << 10
		mi, data := makeMultiTorrent(t, []int{20 * pl, 20 * pl, 20 * pl}, pl, 62)
		seeder := startSeeder(t, n, "10.0.0.1:6881", mi, data, nil)
		defer seeder.Close()
		leecher := newPipeSession(t, n, "10.0.1.1:6881", &Config{Storage: &storage.Memory{}, RequestQueueDepth: 4})
		defer leecher.Close()
		ctx, cancel := context.WithTimeout(context.Background(), time.Hour)
		defer cancel()
		prios := []Priority{PriorityLow, PriorityHigh, PriorityNormal}
		tor, err := leecher.AddTorrent(ctx, mi, &TorrentOptions{Peers: peersAt("10.0.0.1:6881"), FilePriorities: prios})
		if err != nil {
			t.Fatal(err)
		}
		order := verifyOrder(t, tor)
		// Files in priority order: the high one (pieces 20-39), the normal
		// one (40-59), then the low one (0-19). A piece or two may come
		// early: allowed-fast pieces are asked for while choked.
		for k, file := range []int{1, 2, 0} {
			in := 0
			for _, p := range order[k*20 : k*20+20] {
				if p/20 == file {
					in++
				}
			}
			if in < 18 {
				t.Errorf("verified %d..%d: %d pieces of file %d, want 18 or more; order %v", k*20, k*20+19, in, file, order)
			}
		}
	})
}

// verifyOrder polls the torrent until it completes and returns its pieces
// in the order they were verified (several verified between two polls
// come in index order).
func verifyOrder(t *testing.T, tor *Torrent) []int {
	t.Helper()
	seen := make(map[int]bool)
	var order []int
	for {
		have := havePieces(tor)
		if have == nil {
			t.Fatal("torrent closed")
		}
		for i, ok := range have {
			if ok && !seen[i] {
				seen[i] = true
				order = append(order, i)
			}
		}
		if len(order) == len(have) {
			return order
		}
		time.Sleep(time.Millisecond)
	}
}

// BEP 53: a magnet's so= selects the files when the metadata arrives.
func TestMagnetSelectOnly(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := newPipeNet()
		mi, data := makeMultiTorrent(t, []int{40_000, 90_000, 30_000, 70_000}, 16<<10, 63)
		seeder := startSeeder(t, n, "10.0.0.1:6881", mi, data, nil)
		defer seeder.Close()
		dir := t.TempDir()
		leecher := newPipeSession(t, n, "10.0.1.1:6881", &Config{Storage: &storage.Dir{Root: dir}})
		defer leecher.Close()
		ctx, cancel := context.WithTimeout(context.Background(), time.Hour)
		defer cancel()
		uri := "magnet:?xt=urn:btih:" + mi.InfoHash().String() + "&x.pe=10.0.0.1:6881&so=1,3"
		tor, err := leecher.AddMagnet(ctx, uri, nil)
		if err != nil {
			t.Fatal(err)
		}
		if err := tor.Wait(ctx); err != nil {
			t.Fatal(err)
		}
		for i, f := range tor.Files() {
			want := PrioritySkip
			if i == 1 || i == 3 {
				want = PriorityNormal
			}
			if f.Priority() != want {
				t.Errorf("file %d: priority %d, want %d", i, f.Priority(), want)
			}
		}
		checkFilesOnDisk(t, dir, mi, data, map[int]bool{1: true, 3: true})
	})
}

// peersAt parses peer addresses.
func peersAt(addrs ...string) []netip.AddrPort {
	var out []netip.AddrPort
	for _, a := range addrs {
		out = append(out, netip.MustParseAddrPort(a))
	}
	return out
}

// magnetPriorities agrees with Magnet.Selected, and ranges far past the
// files cost nothing.
func TestMagnetPriorities(t *testing.T) {
	info := &metainfo.Info{Files: make([]metainfo.File, 7)}
	for _, so := range []string{"0", "1,3", "2-4,6", "5-1000000000", "0-2,1-3", "9", "6,0"} {
		m, err := metainfo.ParseMagnet("magnet:?xt=urn:btih:" + strings.Repeat("ab", 20) + "&so=" + so)
		if err != nil {
			t.Fatal(err)
		}
		got := magnetPriorities(m, info)
		for i := range info.Files {
			want := PrioritySkip
			if m.Selected(i) {
				want = PriorityNormal
			}
			if got[i] != want {
				t.Errorf("so=%s: file %d priority %d, want %d", so, i, got[i], want)
			}
		}
	}
	m, _ := metainfo.ParseMagnet("magnet:?xt=urn:btih:" + strings.Repeat("ab", 20))
	if p := magnetPriorities(m, info); p != nil {
		t.Errorf("no so=: %v, want nil", p)
	}
}
