package bittern

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"testing/synctest"
	"time"

	"github.com/bittern/bittern/peerwire"
	"github.com/bittern/bittern/storage"
)

// isClosed reports whether ch is closed.
func isClosed(ch <-chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

// verifiedPieces lists the torrent's verified pieces.
func verifiedPieces(tor *Torrent) []int {
	var got []int
	for i := range tor.info.NumPieces() {
		if tor.verified.has(i) {
			got = append(got, i)
		}
	}
	return got
}

// A torrent with every file skipped, in storage.Dir: a Reader in the middle
// of a file fetches the pieces of its window only, whose bytes go to the
// part file (the file is not created) and read back correctly; moving it
// fetches the new window, closing it stops; completion never changes.
// Selecting the file afterwards moves the bytes into it.
func TestReaderSkippedFileDir(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := newPipeNet()
		const pl = 16 << 10
		// f1 is bytes 100,000-399,999: pieces 7-23 lie wholly inside it.
		mi, data := makeMultiTorrent(t, []int{100_000, 300_000, 100_000}, pl, 81)
		seeder := startSeeder(t, n, "10.0.0.1:6881", mi, data, nil)
		defer seeder.Close()
		dir := t.TempDir()
		leecher := newPipeSession(t, n, "10.0.1.1:6881", &Config{Storage: &storage.Dir{Root: dir}})
		defer leecher.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Hour)
		defer cancel()
		skip := []Priority{PrioritySkip, PrioritySkip, PrioritySkip}
		tor, err := leecher.AddTorrent(ctx, mi, &TorrentOptions{Peers: peersAt("10.0.0.1:6881"), FilePriorities: skip})
		if err != nil {
			t.Fatal(err)
		}
		events := leecher.Subscribe(16)
		defer events.Close()
		complete := tor.Complete()
		if !isClosed(complete) || !tor.Stats().Complete {
			t.Fatal("a torrent with every file skipped is not complete")
		}
		time.Sleep(time.Minute) // it meets the seeder and hangs up: both want nothing

		f := tor.Files()[1]
		r := f.NewReader()
		r.SetReadahead(2 * pl)
		buf := make([]byte, 20_000)
		// File offset 100,000 is torrent offset 200,000, in piece 12: the
		// windows are 12-14, then 13-14.
		if k, err := r.ReadAt(buf, 100_000); k != len(buf) || err != nil {
			t.Fatalf("ReadAt = %d, %v", k, err)
		}
		if !bytes.Equal(buf, data[200_000:220_000]) {
			t.Fatal("ReadAt returned wrong bytes")
		}
		time.Sleep(time.Minute)
		if got, want := verifiedPieces(tor), []int{12, 13, 14}; !slices.Equal(got, want) {
			t.Fatalf("verified pieces %v, want the window's %v", got, want)
		}
		if tor.Complete() != complete || !tor.Stats().Complete || tor.Stats().BytesLeft != 0 {
			t.Error("reading a skipped file changed completion")
		}

		// Moving the reader to file offset 250,000 (piece 21) fetches 21-23.
		if _, err := r.Seek(250_000, io.SeekStart); err != nil {
			t.Fatal(err)
		}
		if _, err := io.ReadFull(r, buf[:1000]); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(buf[:1000], data[350_000:351_000]) {
			t.Fatal("Read returned wrong bytes")
		}
		time.Sleep(time.Minute)
		if got, want := verifiedPieces(tor), []int{12, 13, 14, 21, 22, 23}; !slices.Equal(got, want) {
			t.Fatalf("verified pieces %v, want %v", got, want)
		}

		// Closed, it fetches nothing more.
		r.Close()
		time.Sleep(time.Hour)
		if got := len(verifiedPieces(tor)); got != 6 {
			t.Fatalf("%d pieces verified after the reader closed, want 6", got)
		}
		if tor.Complete() != complete || !tor.Stats().Complete {
			t.Error("completion changed")
		}
		for {
			select {
			case ev := <-events.C:
				if _, ok := ev.(TorrentCompleted); ok {
					t.Errorf("TorrentCompleted while reading skipped files")
				}
				continue
			default:
			}
			break
		}

		// The skipped file was not created: its bytes are in the part file,
		// and a new reader reads them back.
		checkFilesOnDisk(t, dir, mi, data, map[int]bool{})
		if _, err := os.Stat(filepath.Join(dir, "."+mi.InfoHash().String()+".parts")); err != nil {
			t.Errorf("part file: %v", err)
		}
		r2 := f.NewReader()
		defer r2.Close()
		r2.SetReadahead(0)
		got := make([]byte, 3*pl)
		if k, err := r2.ReadAt(got, 12*pl-100_000); k != len(got) || err != nil || !bytes.Equal(got, data[12*pl:15*pl]) {
			t.Fatalf("reading back pieces 12-14 = %d, %v (or wrong bytes)", k, err)
		}
		if got := len(verifiedPieces(tor)); got != 6 {
			t.Fatalf("reading verified pieces fetched more: %d verified", got)
		}

		// Selecting the file moves the kept bytes into it and fetches the rest.
		if err := f.SetPriority(PriorityNormal); err != nil {
			t.Fatal(err)
		}
		if err := tor.Wait(ctx); err != nil {
			t.Fatalf("%v; stats %+v", err, tor.Stats())
		}
		checkFilesOnDisk(t, dir, mi, data, map[int]bool{1: true})
	})
}

// While a reader of a skipped file waits, the session is interested in a
// peer that has its piece and says upload_only: 0; it requests only the
// window's piece; once the piece is verified it says upload_only: 1 and not
// interested again.
func TestReaderSkippedInterestUploadOnly(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := newPipeNet()
		const pl = 32 << 10
		mi, data := makeMultiTorrent(t, []int{4 * pl, 4 * pl}, pl, 82)
		l := newPipeSession(t, n, "10.0.0.1:6881", &Config{Storage: &storage.Memory{}})
		defer l.Close()
		tor, err := l.AddTorrent(context.Background(), mi, &TorrentOptions{FilePriorities: []Priority{PrioritySkip, PrioritySkip}})
		if err != nil {
			t.Fatal(err)
		}
		p := dialRaw(t, n, "10.0.0.9", "10.0.0.1:6881", mi, rawID('w'), fastExt)
		if got := extUploadOnly(t, p.next()); got != 1 {
			t.Fatalf("upload_only = %d with every file skipped, want 1", got)
		}
		p.send(peerwire.HaveNone{})
		for _, i := range []uint32{2, 5, 6} {
			p.send(peerwire.Have{Index: i})
		}
		time.Sleep(time.Minute)

		r := tor.Files()[1].NewReader()
		defer r.Close()
		r.SetReadahead(0) // the window is the piece under the position: 5
		type result struct {
			b   []byte
			err error
		}
		done := make(chan result, 1)
		go func() {
			b := make([]byte, 1000)
			_, err := r.ReadAt(b, pl+100)
			done <- result{b, err}
		}()
		var interested, saidWant bool
		for {
			m := p.next()
			switch m := m.(type) {
			case *peerwire.Interested:
				interested = true
				p.send(peerwire.Unchoke{})
			case *peerwire.Request:
				if m.Index != 5 {
					t.Fatalf("request for piece %d, want only the window's piece 5", m.Index)
				}
				off := int(m.Index)*pl + int(m.Begin)
				p.send(peerwire.Piece{Index: m.Index, Begin: m.Begin, Block: data[off : off+int(m.Length)]})
			case *peerwire.Extended:
				if got := extUploadOnly(t, m); got == 0 {
					saidWant = true
					continue
				}
				if !interested || !saidWant {
					t.Fatalf("upload_only: 1 again, but interested %v, upload_only: 0 sent %v", interested, saidWant)
				}
				res := <-done
				if res.err != nil || !bytes.Equal(res.b, data[5*pl+100:5*pl+1100]) {
					t.Fatalf("ReadAt: %v (or wrong bytes)", res.err)
				}
				if got := verifiedPieces(tor); !slices.Equal(got, []int{5}) {
					t.Fatalf("verified pieces %v, want [5]", got)
				}
				if !isClosed(tor.Complete()) {
					t.Error("completion reopened")
				}
				return
			}
		}
	})
}
