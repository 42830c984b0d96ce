package bittern

import (
	"context"
	"crypto/sha1"
	"errors"
	"net/http"
	"net/netip"
	"reflect"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/bittern/bittern/bencode"
	"github.com/bittern/bittern/metainfo"
	"github.com/bittern/bittern/storage"
)

// makeNamedMultiTorrent builds a multi-file v1 torrent whose files have the
// given lengths, over data.
func makeNamedMultiTorrent(t testing.TB, name string, data []byte, lengths []int, pieceLen int) *metainfo.MetaInfo {
	t.Helper()
	var pieces []byte
	for off := 0; off < len(data); off += pieceLen {
		sum := sha1.Sum(data[off:min(off+pieceLen, len(data))])
		pieces = append(pieces, sum[:]...)
	}
	var files []map[string]any
	for i, n := range lengths {
		files = append(files, map[string]any{"length": n, "path": []string{"dir", string(rune('a' + i))}})
	}
	info := map[string]any{"name": name, "piece length": pieceLen, "pieces": pieces, "files": files}
	ib, err := bencode.Marshal(info)
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
	return mi
}

// nextEvent returns the next event of type E from sub, skipping others,
// or fails after a virtual hour.
func nextEvent[E Event](t *testing.T, sub *Subscription) E {
	t.Helper()
	timeout := time.After(time.Hour)
	for {
		select {
		case ev, ok := <-sub.C:
			if !ok {
				t.Fatalf("subscription closed before a %T", *new(E))
			}
			if e, ok := ev.(E); ok {
				return e
			}
		case <-timeout:
			t.Fatalf("no %T event", *new(E))
		}
	}
}

// A download gives one PieceVerified per piece, one FileCompleted per
// non-empty file (with its place in the torrent) and a TorrentCompleted,
// in that order for each file's last piece.
func TestEventsDownload(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := newPipeNet()
		lengths := []int{100_000, 0, 5, 300_000, 70_000}
		total := 0
		for _, l := range lengths {
			total += l
		}
		data := randomData(total, 60)
		mi := makeNamedMultiTorrent(t, "multi", data, lengths, 32<<10)
		seeder := startSeeder(t, n, "10.0.0.1:6881", mi, data, nil)
		defer seeder.Close()
		leecher := newPipeSession(t, n, "10.0.1.1:6881", nil)
		defer leecher.Close()
		sub := leecher.Subscribe(1000)
		defer sub.Close()
		tor, err := leecher.AddTorrent(context.Background(), mi, &TorrentOptions{Peers: seedAddr})
		if err != nil {
			t.Fatal(err)
		}
		pieces := make(map[int]bool)
		files := make(map[int]FileCompleted)
		for done := false; !done; {
			ev := <-sub.C
			if ev.Base().Torrent != tor || ev.Base().Time.IsZero() {
				t.Fatalf("event %#v: want the torrent and a time", ev)
			}
			switch ev := ev.(type) {
			case PieceVerified:
				if pieces[ev.Piece] {
					t.Errorf("piece %d verified twice", ev.Piece)
				}
				pieces[ev.Piece] = true
			case FileCompleted:
				if _, dup := files[ev.File]; dup {
					t.Errorf("file %d completed twice", ev.File)
				}
				// Every piece of the file came first.
				pl := mi.Info().PieceLength
				for p := ev.Offset / pl; p <= (ev.Offset+ev.Length-1)/pl; p++ {
					if !pieces[int(p)] {
						t.Errorf("file %d completed before its piece %d", ev.File, p)
					}
				}
				files[ev.File] = ev
			case TorrentCompleted:
				done = true
			default:
				t.Errorf("unexpected event %#v", ev)
			}
		}
		if len(pieces) != mi.Info().NumPieces() {
			t.Errorf("%d pieces verified, want %d", len(pieces), mi.Info().NumPieces())
		}
		for i, f := range mi.Info().Files {
			ev, ok := files[i]
			if f.Length == 0 {
				if ok {
					t.Errorf("empty file %d completed", i)
				}
				continue
			}
			want := FileCompleted{EventBase: ev.EventBase, File: i, Path: f.Path, Offset: f.Offset, Length: f.Length}
			if !reflect.DeepEqual(ev, want) {
				t.Errorf("file %d: %+v, want %+v", i, ev, want)
			}
		}
		if sub.Dropped() != 0 {
			t.Errorf("%d events dropped", sub.Dropped())
		}
	})
}

// A full buffer drops the newest events and counts them; Close and the
// session's Close close C.
func TestEventsOverflowAndClose(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := newPipeNet()
		data := randomData(1<<20, 61)
		mi := makeTorrent(t, "overflow.bin", data, 16<<10) // 64 pieces
		seeder := startSeeder(t, n, "10.0.0.1:6881", mi, data, nil)
		defer seeder.Close()
		leecher := newPipeSession(t, n, "10.0.1.1:6881", nil)
		defer leecher.Close()
		small := leecher.Subscribe(2)
		closed := leecher.Subscribe(0)
		closed.Close()
		closed.Close()
		if _, ok := <-closed.C; ok {
			t.Error("a closed subscription delivered an event")
		}
		tor, err := leecher.AddTorrent(context.Background(), mi, &TorrentOptions{Peers: seedAddr})
		if err != nil {
			t.Fatal(err)
		}
		if err := tor.Wait(context.Background()); err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		// 64 PieceVerified, 1 FileCompleted, 1 TorrentCompleted.
		if got := small.Dropped(); got != 66-2 {
			t.Errorf("Dropped() = %d, want 64", got)
		}
		leecher.Close()
		var got []Event
		for ev := range small.C { // closed by the session's Close
			got = append(got, ev)
		}
		if len(got) != 2 {
			t.Fatalf("got %d events, want the 2 buffered", len(got))
		}
		if p, ok := got[0].(PieceVerified); !ok || p.Torrent != tor {
			t.Errorf("first event %#v, want the first PieceVerified", got[0])
		}
		if _, ok := <-leecher.Subscribe(1).C; ok {
			t.Error("a subscription to a closed session delivered an event")
		}
	})
}

// The liar is banned: PeerBanned names its address.
func TestEventsPeerBanned(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := newPipeNet()
		const pieceLen = 64 << 10
		data := randomData(8*pieceLen, 62)
		mi := makeTorrent(t, "ban.bin", data, pieceLen)
		mem := &storage.Memory{}
		fill(t, mem, mi, data)
		var on atomic.Bool
		liar := newPipeSession(t, n, "10.0.0.1:6881", &Config{Storage: lyingStorage{mem, 3 * pieceLen, 3*pieceLen + 1, &on}})
		defer liar.Close()
		if _, err := liar.AddTorrent(context.Background(), mi, nil); err != nil {
			t.Fatal(err)
		}
		on.Store(true)
		leecher := newPipeSession(t, n, "10.0.1.1:6881", nil)
		defer leecher.Close()
		sub := leecher.Subscribe(100)
		tor, err := leecher.AddTorrent(context.Background(), mi, &TorrentOptions{Peers: seedAddr})
		if err != nil {
			t.Fatal(err)
		}
		ev := nextEvent[PeerBanned](t, sub)
		if ev.Torrent != tor || ev.Addr != netip.MustParseAddr("10.0.0.1") || ev.PeerID != liar.PeerID() {
			t.Errorf("PeerBanned %+v, want the liar", ev)
		}
	})
}

// failingStorage fails writes (and reads, once failReads is set).
type failingStorage struct {
	storage.Storage
	failReads *atomic.Bool
}

var errDiskFull = errors.New("test: disk full")

func (s failingStorage) Open(ctx context.Context, info *metainfo.Info, ih metainfo.Hash) (storage.Torrent, error) {
	t, err := s.Storage.Open(ctx, info, ih)
	return failingTorrent{t, s}, err
}

type failingTorrent struct {
	storage.Torrent
	s failingStorage
}

func (t failingTorrent) WriteAt(p []byte, off int64) (int, error) { return 0, errDiskFull }

func (t failingTorrent) ReadAt(p []byte, off int64) (int, error) {
	if t.s.failReads != nil && t.s.failReads.Load() {
		return 0, errDiskFull
	}
	return t.Torrent.ReadAt(p, off)
}

// Failed reads (a seeder's) and writes (a leecher's) give StorageErrors.
func TestEventsStorageError(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := newPipeNet()
		data := randomData(256<<10, 63)
		mi := makeTorrent(t, "disk.bin", data, 32<<10)
		mem := &storage.Memory{}
		fill(t, mem, mi, data)
		var failReads atomic.Bool
		badSeeder := newPipeSession(t, n, "10.0.0.1:6881", &Config{Storage: failingStorage{mem, &failReads}})
		defer badSeeder.Close()
		seed, err := badSeeder.AddTorrent(context.Background(), mi, nil)
		if err != nil {
			t.Fatal(err)
		}
		failReads.Store(true) // it passed its own recheck
		seedSub := badSeeder.Subscribe(100)
		l1 := newPipeSession(t, n, "10.0.1.1:6881", nil)
		defer l1.Close()
		if _, err := l1.AddTorrent(context.Background(), mi, &TorrentOptions{Peers: seedAddr}); err != nil {
			t.Fatal(err)
		}
		rev := nextEvent[StorageError](t, seedSub)
		if rev.Torrent != seed || rev.Op != "read" || rev.Piece < 0 || !errors.Is(rev.Err, errDiskFull) {
			t.Errorf("seeder: %+v, want a read error", rev)
		}

		good := startSeeder(t, n, "10.0.0.2:6881", mi, data, nil)
		defer good.Close()
		l2 := newPipeSession(t, n, "10.0.1.2:6881", &Config{Storage: failingStorage{&storage.Memory{}, nil}})
		defer l2.Close()
		sub := l2.Subscribe(100)
		tor, err := l2.AddTorrent(context.Background(), mi, &TorrentOptions{Peers: []netip.AddrPort{netip.MustParseAddrPort("10.0.0.2:6881")}})
		if err != nil {
			t.Fatal(err)
		}
		ev := nextEvent[StorageError](t, sub)
		if ev.Torrent != tor || ev.Op != "write" || ev.Piece < 0 || !errors.Is(ev.Err, errDiskFull) {
			t.Errorf("leecher: %+v, want a write error", ev)
		}
	})
}

// failingSource is a PeerSource whose lookups fail.
type failingSource struct{ err error }

func (f *failingSource) FindPeers(ctx context.Context, ih metainfo.Hash, found func(netip.AddrPort)) error {
	return f.err
}

// A tracker answering 500 gives TrackerError; a failing DHT gives
// DHTError, another failing peer source gives none.
func TestEventsTrackerAndDHTErrors(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := newPipeNet()
		data := randomData(64<<10, 64)
		mi := withAnnounce(t, makeTorrent(t, "errs.bin", data, 32<<10), "http://tracker.test/announce")
		broken := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			http.Error(w, "down", http.StatusInternalServerError)
		})
		errDHT := errors.New("test: dht down")
		s := newPipeSession(t, n, "10.0.1.1:6881", &Config{
			Tracker:     trackerConfig(broken, "10.0.1.1:6881"),
			DHT:         &failingSource{errDHT},
			PeerSources: []PeerSource{&failingSource{errors.New("test: other")}},
		})
		defer s.Close()
		sub := s.Subscribe(100)
		tor, err := s.AddTorrent(context.Background(), mi, nil)
		if err != nil {
			t.Fatal(err)
		}
		synctest.Wait() // the first announce and lookups have failed
		var trackerErrs, dhtErrs int
		for len(sub.C) > 0 {
			switch e := (<-sub.C).(type) {
			case TrackerError:
				trackerErrs++
				if e.Torrent != tor || e.Err == nil {
					t.Errorf("TrackerError %+v", e)
				}
			case DHTError:
				dhtErrs++
				if e.Torrent != tor || !errors.Is(e.Err, errDHT) {
					t.Errorf("DHTError %+v", e)
				}
			default:
				t.Errorf("unexpected %#v", e)
			}
		}
		if trackerErrs != 1 {
			t.Errorf("%d TrackerErrors, want 1", trackerErrs)
		}
		if dhtErrs != 1 {
			t.Errorf("%d DHTErrors, want 1 (the other source's error is not one)", dhtErrs)
		}
	})
}

// A magnet's metadata arriving gives MetadataReceived.
func TestEventsMetadataReceived(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := newPipeNet()
		data := randomData(64<<10, 65)
		mi := makeTorrent(t, "meta.bin", data, 16<<10)
		seeder := startSeeder(t, n, "10.0.0.1:6881", mi, data, nil)
		defer seeder.Close()
		leecher := newPipeSession(t, n, "10.0.1.1:6881", nil)
		defer leecher.Close()
		sub := leecher.Subscribe(100)
		tor, err := leecher.AddMagnet(context.Background(), "magnet:?xt=urn:btih:"+mi.InfoHash().String()+"&x.pe=10.0.0.1:6881", nil)
		if err != nil {
			t.Fatal(err)
		}
		if ev := nextEvent[MetadataReceived](t, sub); ev.Torrent != tor {
			t.Errorf("MetadataReceived %+v, want the torrent", ev)
		}
	})
}
