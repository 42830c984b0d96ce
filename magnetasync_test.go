package bittern

import (
	"bytes"
	"context"
	"crypto/sha1"
	"errors"
	"net/netip"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/bittern/bittern/bencode"
	"github.com/bittern/bittern/metainfo"
	"github.com/bittern/bittern/peerwire"
	"github.com/bittern/bittern/storage"
)

func magnetURI(ih metainfo.Hash) string { return "magnet:?xt=urn:btih:" + ih.String() }

// StartMagnet returns at once; the torrent has no info (and says so in
// Stats) until a peer given later with AddPeers serves the metadata; then
// it downloads as usual.
func TestStartMagnet(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := newPipeNet()
		data := randomData(300<<10, 80)
		mi := makeTorrent(t, "async.bin", data, 16<<10)
		seeder := startSeeder(t, n, "10.0.0.1:6881", mi, data, nil)
		defer seeder.Close()
		st := &storage.Memory{}
		leecher := newPipeSession(t, n, "10.0.1.1:6881", &Config{Storage: st})
		defer leecher.Close()
		sub := leecher.Subscribe(0)
		tor, err := leecher.StartMagnet(magnetURI(mi.InfoHash()), nil)
		if err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Minute)
		select {
		case <-tor.GotInfo():
			t.Fatal("GotInfo closed without a peer")
		default:
		}
		if tor.Info() != nil || tor.MetaInfo() != nil {
			t.Error("Info or MetaInfo before the metadata")
		}
		if st := tor.Stats(); st.HasInfo || st.Pieces != 0 || st.Length != 0 || st.ETA != -1 || st.Complete {
			t.Errorf("pending stats %+v", st)
		}
		if ss := leecher.Stats(); ss.Torrents != 1 {
			t.Errorf("session stats %+v, want the pending torrent", ss)
		}
		if leecher.Torrent(mi.InfoHash()) != tor {
			t.Error("the pending torrent is not in the session")
		}
		if _, err := leecher.StartMagnet(magnetURI(mi.InfoHash()), nil); !errors.Is(err, ErrDuplicateTorrent) {
			t.Errorf("second StartMagnet = %v", err)
		}
		if _, err := leecher.AddTorrent(context.Background(), mi, nil); !errors.Is(err, ErrDuplicateTorrent) {
			t.Errorf("AddTorrent of the pending torrent = %v", err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Millisecond)
		if err := tor.WaitInfo(ctx); !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("WaitInfo = %v, want the deadline", err)
		}
		cancel()

		tor.AddPeers(seedAddr...)
		ctx, cancel = context.WithTimeout(context.Background(), time.Hour)
		defer cancel()
		if err := tor.WaitInfo(ctx); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(tor.MetaInfo().InfoBytes, mi.InfoBytes) || tor.Info().NumPieces() != mi.Info().NumPieces() {
			t.Fatal("fetched metadata differs")
		}
		if err := tor.Wait(ctx); err != nil {
			t.Fatal(err)
		}
		if st := tor.Stats(); !st.HasInfo || !st.Complete || st.PiecesHave != st.Pieces || st.ETA != 0 {
			t.Errorf("stats %+v", st)
		}
		if !bytes.Equal(contents(t, st, mi), data) {
			t.Fatal("data differs")
		}
		if ev := nextEvent[MetadataReceived](t, sub); ev.Torrent != tor {
			t.Errorf("MetadataReceived %+v", ev)
		}
	})
}

// Remove and Close end a fetch in progress; WaitInfo says ErrClosed.
func TestStartMagnetRemoveClose(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := newPipeNet()
		s := newPipeSession(t, n, "10.0.1.1:6881", nil)
		defer s.Close()
		a, err := s.StartMagnet(magnetURI(metainfo.Hash{1})+"&x.pe=10.0.0.9:6881", nil)
		if err != nil {
			t.Fatal(err)
		}
		b, err := s.StartMagnet(magnetURI(metainfo.Hash{2}), nil)
		if err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Minute)
		if err := s.RemoveAndDelete(context.Background(), a); err != nil {
			t.Errorf("RemoveAndDelete = %v", err)
		}
		if err := a.WaitInfo(context.Background()); !errors.Is(err, ErrClosed) {
			t.Errorf("WaitInfo after Remove = %v", err)
		}
		if got := s.Torrents(); len(got) != 1 || got[0] != b {
			t.Errorf("Torrents() = %v, want only the second", got)
		}
		s.Close()
		if err := b.WaitInfo(context.Background()); !errors.Is(err, ErrClosed) {
			t.Errorf("WaitInfo after Close = %v", err)
		}
		if err := b.Wait(context.Background()); !errors.Is(err, ErrClosed) {
			t.Errorf("Wait after Close = %v", err)
		}
		if _, err := s.StartMagnet(magnetURI(metainfo.Hash{3}), nil); !errors.Is(err, ErrClosed) {
			t.Errorf("StartMagnet after Close = %v", err)
		}
		if _, err := s.StartMagnet("magnet:?dn=x", nil); err == nil {
			t.Error("a link without an info-hash was accepted")
		}
	})
}

// A peer that connects to the pending torrent serves the metadata.
func TestStartMagnetIncoming(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := newPipeNet()
		data := randomData(200<<10, 81)
		mi := makeTorrent(t, "in.bin", data, 16<<10)
		leecher := newPipeSession(t, n, "10.0.1.1:6881", nil)
		defer leecher.Close()
		tor, err := leecher.StartMagnet(magnetURI(mi.InfoHash()), &TorrentOptions{DownloadRateLimit: 1 << 20})
		if err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		seeder := startSeeder(t, n, "10.0.0.1:6881", mi, data, nil)
		defer seeder.Close()
		seeder.Torrent(mi.InfoHash()).AddPeers(netip.MustParseAddrPort("10.0.1.1:6881"))
		ctx, cancel := context.WithTimeout(context.Background(), time.Hour)
		defer cancel()
		if err := tor.Wait(ctx); err != nil {
			t.Fatal(err)
		}
		if d, _ := tor.RateLimits(); d != 1<<20 {
			t.Errorf("download limit %d, want the option's", d)
		}
	})
}

// Metadata that arrives intact but cannot be used (a v2-only info
// dictionary) ends WaitInfo and Wait with the reason; the torrent stays in
// the session until removed.
func TestStartMagnetUnusableMetadata(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := newPipeNet()
		dir := t.TempDir()
		path := filepath.Join(dir, "f.bin")
		if err := os.WriteFile(path, randomData(100_000, 82), 0o644); err != nil {
			t.Fatal(err)
		}
		mi, err := (&metainfo.Builder{Version: metainfo.V2}).Build(context.Background(), path)
		if err != nil {
			t.Fatal(err)
		}
		ih := metainfo.Hash(sha1.Sum(mi.InfoBytes))
		stop := serveMetadata(t, n, "10.0.0.1:6881", ih, mi.InfoBytes)
		defer stop()
		s := newPipeSession(t, n, "10.0.1.1:6881", nil)
		defer s.Close()
		tor, err := s.StartMagnet(magnetURI(ih)+"&x.pe=10.0.0.1:6881", nil)
		if err != nil {
			t.Fatal(err)
		}
		if err := tor.WaitInfo(context.Background()); !errors.Is(err, ErrUnsupported) {
			t.Errorf("WaitInfo = %v, want ErrUnsupported", err)
		}
		if err := tor.Wait(context.Background()); !errors.Is(err, ErrUnsupported) {
			t.Errorf("Wait = %v, want ErrUnsupported", err)
		}
		if tor.Info() != nil || tor.Stats().HasInfo {
			t.Error("the unusable metadata is exposed")
		}
		if s.Torrent(ih) != tor {
			t.Error("the torrent left the session")
		}
		s.Remove(tor)
		s.Close()
	})
}

// serveMetadata listens at addr on n as a peer that has only the info
// dictionary info of ih and serves it over ut_metadata. It reads and
// writes on separate goroutines, as both ends of a net.Pipe write their
// extended handshakes at once. It returns a function that stops it.
func serveMetadata(t *testing.T, n *pipeNet, addr string, ih metainfo.Hash, info []byte) func() {
	t.Helper()
	l := n.listen(addr)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			conn, err := l.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer conn.Close()
				var id [20]byte
				copy(id[:], "-XX0001-servemetadat")
				if _, err := peerwire.Answer(conn, func(h peerwire.Handshake) (peerwire.Handshake, bool) {
					return peerwire.Handshake{Reserved: ourReserved, InfoHash: ih, PeerID: id}, h.InfoHash == ih
				}); err != nil {
					return
				}
				fr := peerwire.NewFramer(conn, conn)
				reqs := make(chan int, 64)
				go func() {
					defer close(reqs)
					for {
						m, err := fr.ReadMessage()
						if err != nil {
							return
						}
						if ext, ok := m.(*peerwire.Extended); ok && ext.ExtendedID == 3 {
							if mm, err := peerwire.ParseMetadataMessage(ext.Payload); err == nil && mm.Type == peerwire.MetadataRequest {
								reqs <- mm.Piece
							}
						}
					}
				}()
				hs, _ := bencode.Marshal(extHandshake{M: map[string]int{peerwire.ExtMetadata: 3}, MetadataSize: len(info)})
				if fr.WriteExtended(0, hs) != nil {
					conn.Close()
				}
				for p := range reqs {
					begin := p * peerwire.MetadataPieceSize
					end := min(begin+peerwire.MetadataPieceSize, len(info))
					reply := peerwire.MetadataMessage{Type: peerwire.MetadataData, Piece: p, TotalSize: len(info), Data: info[begin:end]}
					if fr.WriteExtended(extIDMetadata, reply.AppendTo(nil)) != nil {
						conn.Close()
					}
				}
			}()
		}
	}()
	return func() { l.Close(); wg.Wait() }
}

// Before the metadata, the file API says there is nothing yet; after it,
// a BEP 53 "so=" selection applies as with AddMagnet.
func TestStartMagnetFilesAndSelectOnly(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := newPipeNet()
		mi, data := makeMultiTorrent(t, []int{100_000, 60_000, 90_000}, 16<<10, 83)
		seeder := startSeeder(t, n, "10.0.0.1:6881", mi, data, nil)
		defer seeder.Close()
		leecher := newPipeSession(t, n, "10.0.1.1:6881", nil)
		defer leecher.Close()
		tor, err := leecher.StartMagnet(magnetURI(mi.InfoHash())+"&so=1", nil)
		if err != nil {
			t.Fatal(err)
		}
		if fs := tor.Files(); fs != nil {
			t.Errorf("Files() = %v before the metadata", fs)
		}
		if err := tor.SetFilePriorities([]Priority{PriorityHigh}); !errors.Is(err, ErrNoInfo) {
			t.Errorf("SetFilePriorities = %v, want ErrNoInfo", err)
		}
		if r := tor.NewReader(); r.Size() != 0 {
			t.Errorf("reader of %d bytes before the metadata", r.Size())
		}
		tor.AddPeers(seedAddr...)
		ctx, cancel := context.WithTimeout(context.Background(), time.Hour)
		defer cancel()
		if err := tor.Wait(ctx); err != nil {
			t.Fatal(err)
		}
		fs := tor.Files()
		if len(fs) != 3 {
			t.Fatalf("%d files", len(fs))
		}
		for i, f := range fs {
			want := PrioritySkip
			if i == 1 {
				want = PriorityNormal
			}
			if f.Priority() != want {
				t.Errorf("file %d: priority %v, want %v", i, f.Priority(), want)
			}
		}
		if got := fs[1].BytesCompleted(); got != fs[1].Length() {
			t.Errorf("selected file: %d of %d bytes", got, fs[1].Length())
		}
		if r := tor.NewReader(); r.Size() != int64(len(data)) {
			t.Errorf("reader of %d bytes, want %d", r.Size(), len(data))
		}
	})
}
