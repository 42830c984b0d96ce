package bittern

import (
	"bytes"
	"context"
	"flag"
	"net/netip"
	"os"
	"path/filepath"
	"testing"
	"testing/synctest"
	"time"

	"github.com/bittern/bittern/metainfo"
	"github.com/bittern/bittern/storage"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	flag.Parse()
	if f := flag.Lookup("test.fuzz"); f != nil && f.Value.String() != "" {
		// While fuzzing, the engine's own goroutines may outlive m.Run;
		// each input runs in a synctest bubble, which fails on goroutines
		// left behind.
		os.Exit(m.Run())
	}
	goleak.VerifyTestMain(m)
}

func TestOneSeederOneLeecher(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := newPipeNet()
		data := randomData(4<<20+12345, 1)
		mi := makeTorrent(t, "file.bin", data, 256<<10)

		seedStore := &storage.Memory{}
		fill(t, seedStore, mi, data)
		seeder := newPipeSession(t, n, "10.0.0.1:6881", &Config{Storage: seedStore})
		defer seeder.Close()
		ctx := context.Background()
		st, err := seeder.AddTorrent(ctx, mi, nil)
		if err != nil {
			t.Fatal(err)
		}
		if s := st.Stats(); !s.Complete || s.PiecesHave != s.Pieces {
			t.Fatalf("seeder not complete after recheck: %+v", s)
		}

		leechStore := &storage.Memory{}
		leecher := newPipeSession(t, n, "10.0.0.2:6881", &Config{Storage: leechStore})
		defer leecher.Close()
		lt, err := leecher.AddTorrent(ctx, mi, &TorrentOptions{Peers: []netip.AddrPort{netip.MustParseAddrPort("10.0.0.1:6881")}})
		if err != nil {
			t.Fatal(err)
		}
		if s := lt.Stats(); s.Complete || s.PiecesHave != 0 {
			t.Fatalf("leecher starts with data: %+v", s)
		}
		wctx, cancel := context.WithTimeout(ctx, 10*time.Minute)
		defer cancel()
		if err := lt.Wait(wctx); err != nil {
			t.Fatalf("wait: %v; stats %+v", err, lt.Stats())
		}
		ls := lt.Stats()
		if !ls.Complete || ls.PiecesHave != ls.Pieces || ls.BytesHave != int64(len(data)) {
			t.Errorf("leecher stats %+v", ls)
		}
		if ls.Downloaded < int64(len(data)) {
			t.Errorf("downloaded %d < %d", ls.Downloaded, len(data))
		}
		leecher.Close()
		seeder.Close()
		if got := contents(t, leechStore, mi); !bytes.Equal(got, data) {
			t.Fatal("leecher's data differs from the seeder's")
		}
		if up := st.Stats().Uploaded; up < int64(len(data)) {
			t.Errorf("seeder uploaded %d < %d", up, len(data))
		}
	})
}

func TestOneSeederFiveLeechers(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := newPipeNet()
		data := randomData(3<<20+777, 2)
		mi := makeTorrent(t, "swarm.bin", data, 64<<10)
		ctx := context.Background()

		seedStore := &storage.Memory{}
		fill(t, seedStore, mi, data)
		seeder := newPipeSession(t, n, "10.0.0.1:6881", &Config{Storage: seedStore})
		defer seeder.Close()
		if _, err := seeder.AddTorrent(ctx, mi, nil); err != nil {
			t.Fatal(err)
		}
		addrs := []netip.AddrPort{netip.MustParseAddrPort("10.0.0.1:6881")}
		for i := range 5 {
			addrs = append(addrs, netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, 0, 1, byte(i + 1)}), 6881))
		}
		type leech struct {
			s   *Session
			st  *storage.Memory
			tor *Torrent
		}
		var ls []leech
		for i := range 5 {
			st := &storage.Memory{}
			s := newPipeSession(t, n, addrs[i+1].String(), &Config{Storage: st})
			defer s.Close()
			tor, err := s.AddTorrent(ctx, mi, &TorrentOptions{Peers: addrs})
			if err != nil {
				t.Fatal(err)
			}
			ls = append(ls, leech{s, st, tor})
		}
		wctx, cancel := context.WithTimeout(ctx, 30*time.Minute)
		defer cancel()
		var fromLeechers int64
		for i, l := range ls {
			if err := l.tor.Wait(wctx); err != nil {
				t.Fatalf("leecher %d: %v; stats %+v", i, err, l.tor.Stats())
			}
			fromLeechers += l.tor.Stats().Uploaded
		}
		for _, l := range ls {
			l.s.Close()
		}
		seeder.Close()
		for i, l := range ls {
			if got := contents(t, l.st, mi); !bytes.Equal(got, data) {
				t.Errorf("leecher %d: data differs", i)
			}
		}
		if fromLeechers == 0 {
			t.Error("leechers uploaded nothing to each other")
		}
	})
}

func TestResumeAfterRestart(t *testing.T) {
	dir := t.TempDir()
	synctest.Test(t, func(t *testing.T) {
		n := newPipeNet()
		n.rate = 4 << 20
		data := randomData(2<<20, 3)
		mi := makeTorrent(t, "resume.bin", data, 32<<10)
		ctx := context.Background()
		seedStore := &storage.Memory{}
		fill(t, seedStore, mi, data)
		seeder := newPipeSession(t, n, "10.0.0.1:6881", &Config{Storage: seedStore})
		defer seeder.Close()
		if _, err := seeder.AddTorrent(ctx, mi, nil); err != nil {
			t.Fatal(err)
		}
		peers := []netip.AddrPort{netip.MustParseAddrPort("10.0.0.1:6881")}
		total := mi.Info().NumPieces()

		// First run: stop once half the pieces are in.
		l1 := newPipeSession(t, n, "10.0.0.2:6881", &Config{DataDir: dir, Storage: &storage.Dir{Root: dir}})
		t1, err := l1.AddTorrent(ctx, mi, &TorrentOptions{Peers: peers})
		if err != nil {
			t.Fatal(err)
		}
		for t1.Stats().PiecesHave < total/2 {
			time.Sleep(10 * time.Millisecond)
		}
		l1.Close()
		had := t1.Stats().PiecesHave
		if had == total {
			t.Fatal("first run finished before the restart; make the torrent larger")
		}
		if err := t1.Wait(ctx); err != ErrClosed {
			t.Fatalf("Wait after Close = %v, want ErrClosed", err)
		}

		// Second run on the same directory: the verified pieces are kept.
		l2 := newPipeSession(t, n, "10.0.0.2:6881", &Config{Storage: &storage.Dir{Root: dir}})
		defer l2.Close()
		t2, err := l2.AddTorrent(ctx, mi, nil)
		if err != nil {
			t.Fatal(err)
		}
		if got := t2.Stats().PiecesHave; got < had {
			t.Fatalf("after restart %d pieces, had %d", got, had)
		}
		t2.AddPeers(peers...)
		wctx, cancel := context.WithTimeout(ctx, 10*time.Minute)
		defer cancel()
		if err := t2.Wait(wctx); err != nil {
			t.Fatalf("wait: %v; %+v", err, t2.Stats())
		}
		if d, max := t2.Stats().Downloaded, int64(total-had)*mi.Info().PieceLength+int64(mi.Info().PieceLength)*4; d > max {
			t.Errorf("second run downloaded %d bytes, want at most %d", d, max)
		}
		l2.Close()
		seeder.Close()
		got, err := os.ReadFile(filepath.Join(dir, "resume.bin"))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, data) {
			t.Fatal("data on disk differs")
		}
	})
}

func TestCloseDuringTransfer(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := newPipeNet()
		n.rate = 4 << 20
		data := randomData(4<<20, 4)
		mi := makeTorrent(t, "close.bin", data, 64<<10)
		ctx := context.Background()
		seedStore := &storage.Memory{}
		fill(t, seedStore, mi, data)
		seeder := newPipeSession(t, n, "10.0.0.1:6881", &Config{Storage: seedStore})
		if _, err := seeder.AddTorrent(ctx, mi, nil); err != nil {
			t.Fatal(err)
		}
		leecher := newPipeSession(t, n, "10.0.0.2:6881", nil)
		lt, err := leecher.AddTorrent(ctx, mi, &TorrentOptions{Peers: []netip.AddrPort{netip.MustParseAddrPort("10.0.0.1:6881")}})
		if err != nil {
			t.Fatal(err)
		}
		for lt.Stats().Downloaded < 1<<20 {
			time.Sleep(time.Millisecond)
		}
		// Close the seeder first, in the middle of the transfer, then the
		// leecher: both return with nothing left running (synctest.Test
		// fails on goroutines left blocked; TestMain runs goleak).
		seeder.Close()
		leecher.Close()
		if lt.Stats().Complete {
			t.Fatal("transfer finished before Close")
		}
		if err := lt.Wait(ctx); err != ErrClosed {
			t.Fatalf("Wait = %v, want ErrClosed", err)
		}
		if n := len(leecher.writeSlots); n != 0 {
			t.Fatalf("%d write slots still taken after Close", n)
		}
		if _, err := leecher.AddTorrent(ctx, mi, nil); err != ErrClosed {
			t.Fatalf("AddTorrent after Close = %v, want ErrClosed", err)
		}
	})
}

func TestRemoveKeepsDataAndStats(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := newPipeNet()
		n.rate = 1 << 20
		data := randomData(2<<20, 15)
		mi := makeTorrent(t, "remove.bin", data, 32<<10)
		ctx := context.Background()
		seedStore := &storage.Memory{}
		fill(t, seedStore, mi, data)
		seeder := newPipeSession(t, n, "10.0.0.1:6881", &Config{Storage: seedStore})
		defer seeder.Close()
		if _, err := seeder.AddTorrent(ctx, mi, nil); err != nil {
			t.Fatal(err)
		}
		peers := []netip.AddrPort{netip.MustParseAddrPort("10.0.0.1:6881")}
		leecher := newPipeSession(t, n, "10.0.0.2:6881", nil)
		defer leecher.Close()
		lt, err := leecher.AddTorrent(ctx, mi, &TorrentOptions{Peers: peers})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := leecher.AddTorrent(ctx, mi, nil); err != ErrDuplicateTorrent {
			t.Fatalf("second AddTorrent = %v, want ErrDuplicateTorrent", err)
		}
		if eta := lt.Stats().ETA; eta != -1 {
			t.Errorf("ETA before any data = %v, want -1", eta)
		}
		time.Sleep(1500 * time.Millisecond) // past the first rate sample
		st := lt.Stats()
		if st.PiecesHave == 0 || st.Complete {
			t.Fatalf("after 1.5 s at 1 MiB/s: %+v", st)
		}
		if st.ETA <= 0 || st.DownloadRate <= 0 || st.Peers != 1 {
			t.Errorf("mid-transfer stats %+v: want a rate, an ETA and one peer", st)
		}
		if ss := leecher.Stats(); ss.Torrents != 1 || ss.Peers != 1 || ss.Downloaded != lt.Stats().Downloaded {
			t.Errorf("session stats %+v", ss)
		}
		leecher.Remove(lt)
		had := lt.Stats().PiecesHave
		if err := lt.Wait(ctx); err != ErrClosed {
			t.Fatalf("Wait after Remove = %v, want ErrClosed", err)
		}
		if leecher.Torrent(mi.InfoHash()) != nil || len(leecher.Torrents()) != 0 {
			t.Fatal("removed torrent still listed")
		}
		lt2, err := leecher.AddTorrent(ctx, mi, &TorrentOptions{Peers: peers})
		if err != nil {
			t.Fatal(err)
		}
		if got := lt2.Stats().PiecesHave; got < had {
			t.Fatalf("re-added torrent has %d pieces, had %d", got, had)
		}
		wctx, cancel := context.WithTimeout(ctx, 10*time.Minute)
		defer cancel()
		if err := lt2.Wait(wctx); err != nil {
			t.Fatal(err)
		}
		if st := lt2.Stats(); st.ETA != 0 || st.BytesHave != int64(len(data)) {
			t.Errorf("complete stats %+v", st)
		}
	})
}

// A seed dials the leechers it is told about (a leecher may not be
// reachable the other way), and a seed it reaches is dropped and not
// dialled again.
func TestSeederDialsLeecher(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := newPipeNet()
		data := randomData(1<<20, 16)
		mi := makeTorrent(t, "dial.bin", data, 64<<10)
		ctx := context.Background()
		seedStore := &storage.Memory{}
		fill(t, seedStore, mi, data)
		seeder := newPipeSession(t, n, "10.0.0.1:6881", &Config{Storage: seedStore, RetryBackoff: time.Second})
		defer seeder.Close()
		cd := &countingDialer{Dialer: seeder.cfg.Dialer}
		seeder.cfg.Dialer = cd
		st, err := seeder.AddTorrent(ctx, mi, nil)
		if err != nil {
			t.Fatal(err)
		}
		leechStore := &storage.Memory{}
		leecher := newPipeSession(t, n, "10.0.0.2:6881", &Config{Storage: leechStore})
		defer leecher.Close()
		lt, err := leecher.AddTorrent(ctx, mi, nil)
		if err != nil {
			t.Fatal(err)
		}
		st.AddPeers(netip.MustParseAddrPort("10.0.0.2:6881"))
		wctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
		defer cancel()
		if err := lt.Wait(wctx); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(contents(t, leechStore, mi), data) {
			t.Fatal("data differs")
		}
		// Now both are seeds: the connection goes, and is not redialled.
		time.Sleep(time.Hour)
		if p := st.Stats().Peers; p != 0 {
			t.Errorf("seed still has %d peers", p)
		}
		if d := cd.n.Load(); d != 1 {
			t.Errorf("seed dialled %d times, want 1", d)
		}
	})
}

// slowStorage makes every read take a millisecond of (virtual) time.
type slowStorage struct{ storage.Storage }

func (s slowStorage) Open(ctx context.Context, info *metainfo.Info, ih metainfo.Hash) (storage.Torrent, error) {
	t, err := s.Storage.Open(ctx, info, ih)
	return slowTorrent{t}, err
}

type slowTorrent struct{ storage.Torrent }

func (t slowTorrent) ReadAt(p []byte, off int64) (int, error) {
	time.Sleep(time.Millisecond)
	return t.Torrent.ReadAt(p, off)
}

// Close during AddTorrent's storage check cancels the check and waits for
// it: nothing is left running.
func TestCloseDuringAddTorrent(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := newPipeNet()
		data := randomData(4<<20, 18)
		mi := makeTorrent(t, "slow.bin", data, 16<<10)
		s := newPipeSession(t, n, "10.0.0.1:6881", &Config{Storage: slowStorage{&storage.Memory{}}})
		errc := make(chan error, 1)
		go func() {
			_, err := s.AddTorrent(context.Background(), mi, nil)
			errc <- err
		}()
		time.Sleep(20 * time.Millisecond)
		s.Close()
		if err := <-errc; err == nil {
			t.Fatal("AddTorrent succeeded on a session closed during its check")
		}
		if len(s.Torrents()) != 0 {
			t.Fatal("torrent registered after Close")
		}
	})
}

func TestPauseResume(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := newPipeNet()
		n.rate = 1 << 20
		data := randomData(2<<20, 19)
		mi := makeTorrent(t, "pause.bin", data, 32<<10)
		ctx := context.Background()
		seedStore := &storage.Memory{}
		fill(t, seedStore, mi, data)
		seeder := newPipeSession(t, n, "10.0.0.1:6881", &Config{Storage: seedStore})
		defer seeder.Close()
		if _, err := seeder.AddTorrent(ctx, mi, nil); err != nil {
			t.Fatal(err)
		}
		leechStore := &storage.Memory{}
		leecher := newPipeSession(t, n, "10.0.0.2:6881", &Config{Storage: leechStore})
		defer leecher.Close()
		lt, err := leecher.AddTorrent(ctx, mi, &TorrentOptions{Peers: []netip.AddrPort{netip.MustParseAddrPort("10.0.0.1:6881")}})
		if err != nil {
			t.Fatal(err)
		}
		time.Sleep(500 * time.Millisecond)
		lt.Pause()
		time.Sleep(time.Second)
		st := lt.Stats()
		if !st.Paused || st.Peers != 0 || st.Complete || st.Downloaded == 0 {
			t.Fatalf("paused stats %+v", st)
		}
		time.Sleep(time.Minute)
		if d := lt.Stats().Downloaded; d != st.Downloaded {
			t.Fatalf("downloaded %d bytes while paused", d-st.Downloaded)
		}
		lt.Resume()
		wctx, cancel := context.WithTimeout(ctx, 10*time.Minute)
		defer cancel()
		if err := lt.Wait(wctx); err != nil {
			t.Fatal(err)
		}
		if lt.Stats().Paused {
			t.Error("still paused after Resume")
		}
		leecher.Close()
		if !bytes.Equal(contents(t, leechStore, mi), data) {
			t.Fatal("data differs")
		}
	})
}

// A hybrid multi-file torrent (with BEP 47 pad files) moves through its v1
// swarm; the seeder reads the files from a directory.
func TestHybridMultiFile(t *testing.T) {
	dir := t.TempDir()
	files := map[string][]byte{
		"a.bin":     randomData(70000, 50),
		"sub/b.bin": randomData(1, 51),
		"sub/c.bin": randomData(200000, 52),
	}
	for name, b := range files {
		p := filepath.Join(dir, "tree", filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	mi, err := (&metainfo.Builder{PieceLength: 32 << 10}).Build(context.Background(), filepath.Join(dir, "tree"))
	if err != nil {
		t.Fatal(err)
	}
	if !mi.Info().IsHybrid() {
		t.Fatal("not hybrid")
	}
	pads := 0
	for _, f := range mi.Info().Files {
		if f.Pad {
			pads++
		}
	}
	if pads == 0 {
		t.Fatal("expected pad files")
	}
	synctest.Test(t, func(t *testing.T) {
		n := newPipeNet()
		seeder := newPipeSession(t, n, "10.0.0.1:6881", &Config{Storage: &storage.Dir{Root: dir}})
		defer seeder.Close()
		st, err := seeder.AddTorrent(context.Background(), mi, nil)
		if err != nil {
			t.Fatal(err)
		}
		if !st.Stats().Complete {
			t.Fatalf("seeder incomplete: %+v", st.Stats())
		}
		leechDir := filepath.Join(dir, "leech")
		leecher := newPipeSession(t, n, "10.0.0.2:6881", &Config{Storage: &storage.Dir{Root: leechDir}})
		defer leecher.Close()
		lt, err := leecher.AddTorrent(context.Background(), mi, &TorrentOptions{Peers: []netip.AddrPort{netip.MustParseAddrPort("10.0.0.1:6881")}})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		if err := lt.Wait(ctx); err != nil {
			t.Fatalf("wait: %v; %+v", err, lt.Stats())
		}
		leecher.Close()
		for name, want := range files {
			got, err := os.ReadFile(filepath.Join(leechDir, "tree", filepath.FromSlash(name)))
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("%s differs", name)
			}
		}
	})
}

// slowWriteStorage makes every write take 5 ms of (virtual) time.
type slowWriteStorage struct{ storage.Storage }

func (s slowWriteStorage) Open(ctx context.Context, info *metainfo.Info, ih metainfo.Hash) (storage.Torrent, error) {
	t, err := s.Storage.Open(ctx, info, ih)
	return slowWriteTorrent{t}, err
}

type slowWriteTorrent struct{ storage.Torrent }

func (t slowWriteTorrent) WriteAt(p []byte, off int64) (int, error) {
	time.Sleep(5 * time.Millisecond)
	return t.Torrent.WriteAt(p, off)
}

// With a slow disk and a session-wide write queue of two blocks, readers
// wait for the disk and the download still completes; every slot is given
// back.
func TestWriteQueueBound(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := newPipeNet()
		data := randomData(1<<20, 60)
		mi := makeTorrent(t, "slowdisk.bin", data, 64<<10)
		seedStore := &storage.Memory{}
		fill(t, seedStore, mi, data)
		seeder := newPipeSession(t, n, "10.0.0.1:6881", &Config{Storage: seedStore})
		defer seeder.Close()
		if _, err := seeder.AddTorrent(context.Background(), mi, nil); err != nil {
			t.Fatal(err)
		}
		mem := &storage.Memory{}
		leecher := newPipeSession(t, n, "10.0.0.2:6881", &Config{Storage: slowWriteStorage{mem}, MaxQueuedBlocks: 2})
		defer leecher.Close()
		lt, err := leecher.AddTorrent(context.Background(), mi, &TorrentOptions{Peers: []netip.AddrPort{netip.MustParseAddrPort("10.0.0.1:6881")}})
		if err != nil {
			t.Fatal(err)
		}
		time.Sleep(100 * time.Millisecond)
		if q := len(leecher.writeSlots); q > 2 {
			t.Fatalf("%d blocks queued, bound 2", q)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
		defer cancel()
		if err := lt.Wait(ctx); err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		if q := len(leecher.writeSlots); q != 0 {
			t.Fatalf("%d write slots taken after completion", q)
		}
		leecher.Close()
		if !bytes.Equal(contents(t, mem, mi), data) {
			t.Fatal("data differs")
		}
	})
}
