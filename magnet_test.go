package bittern

import (
	"bytes"
	"context"
	"errors"
	"net/netip"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/bittern/bittern/bencode"
	"github.com/bittern/bittern/metainfo"
	"github.com/bittern/bittern/peerwire"
	"github.com/bittern/bittern/storage"
	"github.com/bittern/bittern/tracker"
)

// startSeeder starts a session at addr seeding mi with data.
func startSeeder(t *testing.T, n *pipeNet, addr string, mi *metainfo.MetaInfo, data []byte, cfg *Config) *Session {
	t.Helper()
	var c Config
	if cfg != nil {
		c = *cfg
	}
	st := &storage.Memory{}
	fill(t, st, mi, data)
	c.Storage = st
	s := newPipeSession(t, n, addr, &c)
	if _, err := s.AddTorrent(context.Background(), mi, nil); err != nil {
		t.Fatal(err)
	}
	return s
}

// Metadata of several ut_metadata pieces comes from the x.pe peer; then the
// data does.
func TestMagnetFromPeer(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := newPipeNet()
		data := randomData(2<<20, 50)
		mi := makeTorrent(t, "magnet.bin", data, 1<<10) // 2048 pieces: 40 KB of metadata
		if np := peerwire.NumMetadataPieces(len(mi.InfoBytes)); np < 3 {
			t.Fatalf("metadata is %d pieces, want several", np)
		}
		seeder := startSeeder(t, n, "10.0.0.1:6881", mi, data, nil)
		defer seeder.Close()
		st := &storage.Memory{}
		leecher := newPipeSession(t, n, "10.0.1.1:6881", &Config{Storage: st})
		defer leecher.Close()
		ctx, cancel := context.WithTimeout(context.Background(), time.Hour)
		defer cancel()
		uri := "magnet:?xt=urn:btih:" + mi.InfoHash().String() + "&x.pe=10.0.0.1:6881"
		tor, err := leecher.AddMagnet(ctx, uri, nil)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(tor.MetaInfo().InfoBytes, mi.InfoBytes) {
			t.Fatal("fetched metadata differs")
		}
		if err := tor.Wait(ctx); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(contents(t, st, mi), data) {
			t.Fatal("data differs")
		}
		if _, err := leecher.AddMagnet(ctx, uri, nil); !errors.Is(err, ErrDuplicateTorrent) {
			t.Errorf("second AddMagnet = %v, want ErrDuplicateTorrent", err)
		}
	})
}

// The magnet's tr tracker gives the peers.
func TestMagnetThroughTracker(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := newPipeNet()
		srv := tracker.NewServer(nil)
		data := randomData(200<<10, 51)
		mi := withAnnounce(t, makeTorrent(t, "tr.bin", data, 16<<10), "http://tracker.test/announce")
		seeder := startSeeder(t, n, "10.0.0.1:6881", mi, data, &Config{Tracker: trackerConfig(srv, "10.0.0.1:6881")})
		defer seeder.Close()
		synctest.Wait()
		leecher := newPipeSession(t, n, "10.0.1.1:6881", &Config{Tracker: trackerConfig(srv, "10.0.1.1:6881")})
		defer leecher.Close()
		ctx, cancel := context.WithTimeout(context.Background(), time.Hour)
		defer cancel()
		m := &metainfo.Magnet{InfoHash: mi.InfoHash(), Trackers: []string{"http://tracker.test/announce"}}
		tor, err := leecher.AddMagnet(ctx, m.String(), nil)
		if err != nil {
			t.Fatal(err)
		}
		if err := tor.Wait(ctx); err != nil {
			t.Fatal(err)
		}
		if got := tor.MetaInfo().Trackers(); len(got) != 1 || got[0][0] != "http://tracker.test/announce" {
			t.Errorf("trackers %v", got)
		}
	})
}

// A peer announcing metadata above Config.MaxMetadataSize is not asked for
// it.
func TestMagnetSizeCap(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := newPipeNet()
		data := randomData(1<<20, 52)
		mi := makeTorrent(t, "big.bin", data, 1<<10) // 20 KB of metadata
		seeder := startSeeder(t, n, "10.0.0.1:6881", mi, data, nil)
		defer seeder.Close()
		leecher := newPipeSession(t, n, "10.0.1.1:6881", &Config{MaxMetadataSize: 16 << 10})
		defer leecher.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
		defer cancel()
		_, err := leecher.AddMagnet(ctx, "magnet:?xt=urn:btih:"+mi.InfoHash().String()+"&x.pe=10.0.0.1:6881", nil)
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("AddMagnet = %v, want the deadline", err)
		}
		if leecher.Torrent(mi.InfoHash()) != nil {
			t.Fatal("torrent added")
		}
	})
}

// fakeMetaPeer answers handshakes for ih at addr and serves info (which
// may be wrong) over ut_metadata. It returns a channel closed when the
// listener has stopped.
func fakeMetaPeer(t *testing.T, n *pipeNet, addr string, ih metainfo.Hash, info []byte) (stop func(), served *atomic.Int64) {
	l := n.listen(addr)
	done := make(chan struct{})
	served = new(atomic.Int64)
	go func() {
		defer close(done)
		for {
			conn, err := l.Accept()
			if err != nil {
				return
			}
			go func() {
				defer conn.Close()
				var id [20]byte
				copy(id[:], "-XX0001-fakefakefake")
				if _, err := peerwire.Answer(conn, func(h peerwire.Handshake) (peerwire.Handshake, bool) {
					return peerwire.Handshake{Reserved: ourReserved, InfoHash: ih, PeerID: id}, h.InfoHash == ih
				}); err != nil {
					return
				}
				fr := peerwire.NewFramer(conn, conn)
				// Read on a goroutine of its own: both ends send their
				// extended handshake first, and a net.Pipe has no buffer.
				pieces := make(chan int)
				go func() {
					defer close(pieces)
					for {
						m, err := fr.ReadMessage()
						if err != nil {
							return
						}
						ext, ok := m.(*peerwire.Extended)
						if !ok || ext.ExtendedID != 3 {
							continue
						}
						mm, err := peerwire.ParseMetadataMessage(ext.Payload)
						if err != nil {
							return
						}
						pieces <- mm.Piece
					}
				}()
				defer func() {
					conn.Close()
					for range pieces {
					}
				}()
				hs, _ := bencode.Marshal(extHandshake{M: map[string]int{peerwire.ExtMetadata: 3}, MetadataSize: len(info)})
				if fr.WriteExtended(0, hs) != nil {
					return
				}
				for piece := range pieces {
					begin := piece * peerwire.MetadataPieceSize
					end := min(begin+peerwire.MetadataPieceSize, len(info))
					reply := peerwire.MetadataMessage{Type: peerwire.MetadataData, Piece: piece, TotalSize: len(info), Data: info[begin:end]}
					if err := fr.WriteExtended(extIDMetadata, reply.AppendTo(nil)); err != nil {
						return
					}
					served.Add(1)
				}
			}()
		}
	}()
	return func() { l.Close(); <-done }, served
}

// A peer serving metadata that fails the info-hash check is dropped and
// not asked again; the metadata comes from an honest peer.
func TestMagnetBadMetadata(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := newPipeNet()
		data := randomData(300<<10, 53)
		mi := makeTorrent(t, "honest.bin", data, 16<<10)
		wrong := bytes.Clone(mi.InfoBytes)
		wrong[len(wrong)/2] ^= 1
		stopFake, served := fakeMetaPeer(t, n, "10.0.0.9:6881", mi.InfoHash(), wrong)
		defer stopFake()
		leecher := newPipeSession(t, n, "10.0.1.1:6881", nil)
		defer leecher.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		uri := "magnet:?xt=urn:btih:" + mi.InfoHash().String() + "&x.pe=10.0.0.9:6881"
		if _, err := leecher.AddMagnet(ctx, uri, nil); !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("AddMagnet from a liar = %v, want the deadline", err)
		}
		// 300 KiB of data in 16 KiB pieces: the info dict is one metadata
		// piece, served once; the liar is then never asked again.
		if got := served.Load(); got != 1 {
			t.Fatalf("the liar served %d metadata pieces, want 1", got)
		}
		seeder := startSeeder(t, n, "10.0.0.1:6881", mi, data, nil)
		defer seeder.Close()
		ctx2, cancel2 := context.WithTimeout(context.Background(), time.Hour)
		defer cancel2()
		tor, err := leecher.AddMagnet(ctx2, uri+"&x.pe=10.0.0.1:6881", nil)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(tor.MetaInfo().InfoBytes, mi.InfoBytes) {
			t.Fatal("metadata differs")
		}
		if err := tor.Wait(ctx2); err != nil {
			t.Fatal(err)
		}
	})
}

// Close ends an AddMagnet waiting for metadata.
func TestMagnetClose(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := newPipeNet()
		s := newPipeSession(t, n, "10.0.1.1:6881", nil)
		errc := make(chan error, 1)
		go func() {
			_, err := s.AddMagnet(context.Background(), "magnet:?xt=urn:btih:"+metainfo.Hash{1}.String()+"&x.pe=10.0.0.1:6881", nil)
			errc <- err
		}()
		time.Sleep(time.Minute)
		s.Close()
		if err := <-errc; !errors.Is(err, ErrClosed) {
			t.Fatalf("AddMagnet = %v, want ErrClosed", err)
		}
		if _, err := s.AddMagnet(context.Background(), "magnet:?xt=urn:btih:"+metainfo.Hash{1}.String(), nil); !errors.Is(err, ErrClosed) {
			t.Fatalf("AddMagnet after Close = %v", err)
		}
	})
}

func TestMagnetErrors(t *testing.T) {
	s, err := NewSession(&Config{NoListen: true, Storage: &storage.Memory{}})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := s.AddMagnet(context.Background(), "magnet:?dn=x", nil); err == nil {
		t.Error("a link without an info-hash was accepted")
	}
}

// A peer that connects to us while we fetch a magnet's metadata serves
// it: the leecher knows no peer, the seeder dials it.
func TestMagnetIncoming(t *testing.T) {
	for _, enc := range []Encryption{EncryptionAccept, EncryptionRequired} {
		t.Run(enc.String(), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				n := newPipeNet()
				data := randomData(200<<10, 54)
				mi := makeTorrent(t, "in.bin", data, 16<<10)
				leecher := newPipeSession(t, n, "10.0.1.1:6881", &Config{Encryption: enc})
				defer leecher.Close()
				ctx, cancel := context.WithTimeout(context.Background(), time.Hour)
				defer cancel()
				type result struct {
					tor *Torrent
					err error
				}
				res := make(chan result, 1)
				go func() {
					tor, err := leecher.AddMagnet(ctx, "magnet:?xt=urn:btih:"+mi.InfoHash().String(), nil)
					res <- result{tor, err}
				}()
				synctest.Wait()
				seeder := startSeeder(t, n, "10.0.0.1:6881", mi, data, &Config{Encryption: enc})
				defer seeder.Close()
				seeder.Torrent(mi.InfoHash()).AddPeers(netip.MustParseAddrPort("10.0.1.1:6881"))
				r := <-res
				if r.err != nil {
					t.Fatal(r.err)
				}
				if err := r.tor.Wait(ctx); err != nil {
					t.Fatal(err)
				}
			})
		})
	}
}
