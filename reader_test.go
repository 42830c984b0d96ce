package bittern

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"testing/synctest"
	"time"

	"github.com/bittern/bittern/storage"
)

// A reader of a complete torrent: Seek, Read and ReadAt semantics, for the
// whole torrent and for one file.
func TestReaderSeekReadAt(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := newPipeNet()
		mi, data := makeMultiTorrent(t, []int{50_000, 30_001, 20_000}, 16<<10, 70)
		s := startSeeder(t, n, "10.0.0.1:6881", mi, data, nil)
		defer s.Close()
		tor := s.Torrents()[0]

		r := tor.NewReader()
		defer r.Close()
		if end, err := r.Seek(0, io.SeekEnd); err != nil || end != int64(len(data)) || r.Size() != end {
			t.Fatalf("Seek(0, SeekEnd) = %d, %v; want %d", end, err, len(data))
		}
		if pos, err := r.Seek(-10, io.SeekCurrent); err != nil || pos != int64(len(data))-10 {
			t.Fatalf("Seek(-10, SeekCurrent) = %d, %v", pos, err)
		}
		b, err := io.ReadAll(r)
		if err != nil || !bytes.Equal(b, data[len(data)-10:]) {
			t.Fatalf("ReadAll of the last 10 bytes = %d bytes, %v", len(b), err)
		}
		if k, err := r.Read(make([]byte, 1)); k != 0 || err != io.EOF {
			t.Errorf("Read at the end = %d, %v; want io.EOF", k, err)
		}
		if _, err := r.Seek(-1, io.SeekStart); !errors.Is(err, ErrNegativeOffset) {
			t.Errorf("Seek(-1) = %v, want ErrNegativeOffset", err)
		}
		if _, err := r.Seek(0, 7); err == nil {
			t.Error("Seek with whence 7 succeeded")
		}
		if pos, _ := r.Seek(int64(len(data))+5, io.SeekStart); pos != int64(len(data))+5 {
			t.Errorf("Seek past the end = %d", pos)
		}
		if k, err := r.Read(make([]byte, 1)); k != 0 || err != io.EOF {
			t.Errorf("Read past the end = %d, %v; want io.EOF", k, err)
		}
		// Read from the start spans pieces.
		r.Seek(0, io.SeekStart)
		all, err := io.ReadAll(r)
		if err != nil || !bytes.Equal(all, data) {
			t.Fatalf("ReadAll = %d bytes, %v", len(all), err)
		}

		// ReadAt fills the buffer across pieces, or reports io.EOF.
		p := make([]byte, 40_000)
		if k, err := r.ReadAt(p, 1000); k != len(p) || err != nil || !bytes.Equal(p, data[1000:41_000]) {
			t.Errorf("ReadAt(40000, 1000) = %d, %v", k, err)
		}
		if k, err := r.ReadAt(p, int64(len(data))-100); k != 100 || err != io.EOF || !bytes.Equal(p[:k], data[len(data)-100:]) {
			t.Errorf("ReadAt at the end = %d, %v; want 100, io.EOF", k, err)
		}
		if _, err := r.ReadAt(p, -1); !errors.Is(err, ErrNegativeOffset) {
			t.Errorf("ReadAt(-1) = %v, want ErrNegativeOffset", err)
		}

		// A file's reader sees only the file.
		f := tor.Files()[1]
		fr := f.NewReader()
		defer fr.Close()
		if end, _ := fr.Seek(0, io.SeekEnd); end != f.Length() {
			t.Errorf("file size %d, want %d", end, f.Length())
		}
		fr.Seek(0, io.SeekStart)
		fb, err := io.ReadAll(fr)
		if err != nil || !bytes.Equal(fb, data[50_000:80_001]) {
			t.Errorf("file ReadAll = %d bytes, %v", len(fb), err)
		}

		// A closed reader fails.
		r.Close()
		if _, err := r.Read(p); !errors.Is(err, ErrReaderClosed) {
			t.Errorf("Read after Close = %v, want ErrReaderClosed", err)
		}
		if _, err := r.ReadAt(p, 0); !errors.Is(err, ErrReaderClosed) {
			t.Errorf("ReadAt after Close = %v, want ErrReaderClosed", err)
		}
	})
}

// Reads waiting for data end with an error when the reader is closed, the
// context ends, or the torrent is closed.
func TestReaderUnblocks(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := newPipeNet()
		data := randomData(100_000, 71)
		mi := makeTorrent(t, "none.bin", data, 16<<10)
		s := newPipeSession(t, n, "10.0.1.1:6881", nil) // no peers: nothing arrives
		defer s.Close()
		tor, err := s.AddTorrent(context.Background(), mi, nil)
		if err != nil {
			t.Fatal(err)
		}
		buf := make([]byte, 100)

		r := tor.NewReader()
		errc := make(chan error, 1)
		go func() {
			_, err := r.Read(buf)
			errc <- err
		}()
		synctest.Wait()
		r.Close()
		if err := <-errc; !errors.Is(err, ErrReaderClosed) {
			t.Errorf("Read blocked at Close = %v, want ErrReaderClosed", err)
		}

		r2 := tor.NewReader()
		defer r2.Close()
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if _, err := r2.ReadContext(ctx, buf); !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("ReadContext = %v, want DeadlineExceeded", err)
		}
		ctx2, cancel2 := context.WithCancel(context.Background())
		r2.SetContext(ctx2)
		go func() {
			_, err := r2.ReadAt(buf, 50_000)
			errc <- err
		}()
		synctest.Wait()
		cancel2()
		if err := <-errc; !errors.Is(err, context.Canceled) {
			t.Errorf("ReadAt with a cancelled context = %v, want Canceled", err)
		}

		r3 := tor.NewReader()
		defer r3.Close()
		go func() {
			_, err := r3.Read(buf)
			errc <- err
		}()
		synctest.Wait()
		s.Remove(tor)
		if err := <-errc; !errors.Is(err, ErrClosed) {
			t.Errorf("Read at torrent removal = %v, want ErrClosed", err)
		}
	})
}

// A reader in the middle of a file gets its region first: the download
// follows its position.
func TestReaderStreamsFromMiddle(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := newPipeNet()
		n.rate = 1 << 20
		const pl = 32 << 10
		data := randomData(64*pl, 72)
		mi := makeTorrent(t, "stream.bin", data, pl)
		seeder := startSeeder(t, n, "10.0.0.1:6881", mi, data, nil)
		defer seeder.Close()
		leecher := newPipeSession(t, n, "10.0.1.1:6881", &Config{Storage: &storage.Memory{}, RequestQueueDepth: 4})
		defer leecher.Close()
		tor, err := leecher.AddTorrent(context.Background(), mi, &TorrentOptions{Peers: peersAt("10.0.0.1:6881")})
		if err != nil {
			t.Fatal(err)
		}
		r := tor.Files()[0].NewReader()
		defer r.Close()
		r.SetReadahead(4 * pl)
		const from, count = 40, 8 // pieces
		if _, err := r.Seek(from*pl+100, io.SeekStart); err != nil {
			t.Fatal(err)
		}
		got := make([]byte, count*pl-100)
		if _, err := io.ReadFull(r, got); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, data[from*pl+100:(from+count)*pl]) {
			t.Fatal("data read differs")
		}
		others := 0
		for i, ok := range havePieces(tor) {
			if ok && (i < from || i >= from+count) {
				others++
			}
		}
		// The region is an eighth of the torrent; without the reader it
		// would be done about last, with 56 other pieces.
		if others > 8 {
			t.Errorf("%d other pieces verified before the reader's 8", others)
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Hour)
		defer cancel()
		if err := tor.Wait(ctx); err != nil {
			t.Fatal(err)
		}
	})
}

// Two readers of one torrent: both windows are served.
func TestTwoReaders(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := newPipeNet()
		n.rate = 1 << 20
		const pl = 32 << 10
		data := randomData(64*pl, 73)
		mi := makeTorrent(t, "two.bin", data, pl)
		seeder := startSeeder(t, n, "10.0.0.1:6881", mi, data, nil)
		defer seeder.Close()
		leecher := newPipeSession(t, n, "10.0.1.1:6881", &Config{Storage: &storage.Memory{}, RequestQueueDepth: 4})
		defer leecher.Close()
		tor, err := leecher.AddTorrent(context.Background(), mi, &TorrentOptions{Peers: peersAt("10.0.0.1:6881")})
		if err != nil {
			t.Fatal(err)
		}
		errc := make(chan error, 2)
		for _, at := range []int{10, 50} {
			go func() {
				r := tor.NewReader()
				defer r.Close()
				r.SetReadahead(2 * pl)
				b := make([]byte, 4*pl)
				_, err := r.ReadAt(b, int64(at*pl))
				if err == nil && !bytes.Equal(b, data[at*pl:(at+4)*pl]) {
					err = errors.New("data differs")
				}
				errc <- err
			}()
		}
		for range 2 {
			if err := <-errc; err != nil {
				t.Fatal(err)
			}
		}
		others := 0
		for i, ok := range havePieces(tor) {
			if ok && (i < 10 || i >= 14) && (i < 50 || i >= 54) {
				others++
			}
		}
		if others > 8 {
			t.Errorf("%d other pieces verified before the readers' 8", others)
		}
	})
}

// http.ServeContent serves a Range request from a torrent still
// downloading.
func TestReaderServeContent(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := newPipeNet()
		n.rate = 1 << 20
		const pl = 32 << 10
		mi, data := makeMultiTorrent(t, []int{10 * pl, 40*pl + 123}, pl, 74)
		seeder := startSeeder(t, n, "10.0.0.1:6881", mi, data, nil)
		defer seeder.Close()
		leecher := newPipeSession(t, n, "10.0.1.1:6881", &Config{Storage: &storage.Memory{}, RequestQueueDepth: 4})
		defer leecher.Close()
		tor, err := leecher.AddTorrent(context.Background(), mi, &TorrentOptions{Peers: peersAt("10.0.0.1:6881")})
		if err != nil {
			t.Fatal(err)
		}
		f := tor.Files()[1]
		req := httptest.NewRequest("GET", "/1/f1.bin", nil)
		req.Header.Set("Range", "bytes=600000-700000")
		rec := httptest.NewRecorder()
		r := f.NewReader()
		r.SetContext(req.Context())
		http.ServeContent(rec, req, "f1.bin", time.Time{}, r)
		r.Close()
		if tor.Stats().Complete {
			t.Error("the torrent completed before the range was served")
		}
		res := rec.Result()
		body, _ := io.ReadAll(res.Body)
		want := data[10*pl+600_000 : 10*pl+700_001]
		if res.StatusCode != http.StatusPartialContent || !bytes.Equal(body, want) {
			t.Fatalf("status %d, %d bytes (want 206, %d bytes equal to the file's)", res.StatusCode, len(body), len(want))
		}
		if cr := res.Header.Get("Content-Range"); cr != "bytes 600000-700000/1310843" {
			t.Errorf("Content-Range %q", cr)
		}
	})
}
