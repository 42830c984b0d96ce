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

	"github.com/bittern/bittern/metainfo"
	"github.com/bittern/bittern/storage"
)

// lyingStorage serves corrupted bytes in [lo, hi) once on is set.
type lyingStorage struct {
	storage.Storage
	lo, hi int64
	on     *atomic.Bool
}

func (s lyingStorage) Open(ctx context.Context, info *metainfo.Info, ih metainfo.Hash) (storage.Torrent, error) {
	t, err := s.Storage.Open(ctx, info, ih)
	return lyingTorrent{t, s}, err
}

type lyingTorrent struct {
	storage.Torrent
	s lyingStorage
}

func (t lyingTorrent) ReadAt(p []byte, off int64) (int, error) {
	n, err := t.Torrent.ReadAt(p, off)
	if t.s.on.Load() {
		for i := range p[:n] {
			if o := off + int64(i); o >= t.s.lo && o < t.s.hi {
				p[i] ^= 0x5a
			}
		}
	}
	return n, err
}

// A piece that fails its hash check is not announced and goes back to the
// picker; the peer that sent all of it is banned and not dialled again;
// the piece completes from an honest peer.
func TestHashFailureBansAndRetries(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := newPipeNet()
		n.rate = 8 << 20
		const pieceLen = 64 << 10
		data := randomData(16*pieceLen, 10)
		mi := makeTorrent(t, "bad.bin", data, pieceLen)
		ctx := context.Background()

		mem := &storage.Memory{}
		fill(t, mem, mi, data)
		var on atomic.Bool
		const bad = 5
		liar := newPipeSession(t, n, "10.0.0.1:6881", &Config{Storage: lyingStorage{mem, bad*pieceLen + 100, bad*pieceLen + 101, &on}})
		defer liar.Close()
		liarTorrent, err := liar.AddTorrent(ctx, mi, nil)
		if err != nil {
			t.Fatal(err)
		}
		on.Store(true) // it passed its own recheck; now it lies

		leechStore := &storage.Memory{}
		leecher := newPipeSession(t, n, "10.0.0.2:6881", &Config{Storage: leechStore})
		defer leecher.Close()
		lt, err := leecher.AddTorrent(ctx, mi, &TorrentOptions{Peers: []netip.AddrPort{netip.MustParseAddrPort("10.0.0.1:6881")}})
		if err != nil {
			t.Fatal(err)
		}
		wctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
		defer cancel()
		if err := lt.Wait(wctx); !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("Wait = %v, want the deadline: piece %d can never verify", err, bad)
		}
		st := lt.Stats()
		if st.Complete || st.HashFailures != 1 || st.Wasted < pieceLen || st.BannedPeers != 1 || st.Peers != 0 {
			t.Fatalf("stats %+v: want one hash failure, the liar banned and gone", st)
		}
		// Banned: not dialled again, even when offered.
		lt.AddPeers(netip.MustParseAddrPort("10.0.0.1:6881"))
		time.Sleep(time.Minute)
		if p := liarTorrent.Stats().Peers; p != 0 {
			t.Fatalf("the banned liar has %d peers", p)
		}

		// An honest seeder joins: the piece completes from it.
		honestStore := &storage.Memory{}
		fill(t, honestStore, mi, data)
		honest := newPipeSession(t, n, "10.0.0.3:6881", &Config{Storage: honestStore})
		defer honest.Close()
		if _, err := honest.AddTorrent(ctx, mi, nil); err != nil {
			t.Fatal(err)
		}
		liar.Close() // without banning, the liar would keep winning the race
		lt.AddPeers(netip.MustParseAddrPort("10.0.0.3:6881"))
		wctx2, cancel2 := context.WithTimeout(ctx, 10*time.Minute)
		defer cancel2()
		if err := lt.Wait(wctx2); err != nil {
			t.Fatalf("Wait = %v; %+v", err, lt.Stats())
		}
		leecher.Close()
		if !bytes.Equal(contents(t, leechStore, mi), data) {
			t.Fatal("data differs")
		}
	})
}
