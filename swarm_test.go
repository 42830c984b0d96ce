package bittern

import (
	"bytes"
	"context"
	"net/netip"
	"testing"
	"testing/synctest"
	"time"

	"github.com/bittern/bittern/metainfo"
	"github.com/bittern/bittern/storage"
)

// leecherSet is a group of leeching sessions on a pipeNet.
type leecherSet struct {
	sessions []*Session
	stores   []*storage.Memory
	torrents []*Torrent
}

// startLeechers starts n leechers at 10.0.1.1... that know the seeder at
// 10.0.0.1:6881 and each other.
func startLeechers(t *testing.T, n *pipeNet, mi *metainfo.MetaInfo, count int) *leecherSet {
	t.Helper()
	addrs := []netip.AddrPort{netip.MustParseAddrPort("10.0.0.1:6881")}
	for i := range count {
		addrs = append(addrs, netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, 0, 1, byte(i + 1)}), 6881))
	}
	ls := &leecherSet{}
	for i := range count {
		st := &storage.Memory{}
		s := newPipeSession(t, n, addrs[i+1].String(), &Config{Storage: st})
		tor, err := s.AddTorrent(context.Background(), mi, &TorrentOptions{Peers: addrs})
		if err != nil {
			t.Fatal(err)
		}
		ls.sessions = append(ls.sessions, s)
		ls.stores = append(ls.stores, st)
		ls.torrents = append(ls.torrents, tor)
	}
	return ls
}

func (ls *leecherSet) close() {
	for _, s := range ls.sessions {
		s.Close()
	}
}

// waitAll waits for every leecher to complete and checks its bytes.
func (ls *leecherSet) waitAll(t *testing.T, mi *metainfo.MetaInfo, data []byte, timeout time.Duration) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	for i, tor := range ls.torrents {
		if err := tor.Wait(ctx); err != nil {
			t.Fatalf("leecher %d: %v; %+v", i, err, tor.Stats())
		}
	}
	for i, st := range ls.stores {
		if !bytes.Equal(contents(t, st, mi), data) {
			t.Fatalf("leecher %d: data differs", i)
		}
	}
}

// havePieces asks the torrent's owner which pieces it has verified.
func havePieces(tor *Torrent) []bool {
	ch := make(chan []bool, 1)
	tor.inbox.post(func() {
		have := make([]bool, tor.picker.NumPieces())
		for i := range have {
			have[i] = tor.picker.HasPiece(i)
		}
		ch <- have
	})
	select {
	case h := <-ch:
		return h
	case <-tor.closed:
		return nil
	}
}

func TestOneSeederTwentyLeechers(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := newPipeNet()
		data := randomData(1<<20+999, 30)
		mi := makeTorrent(t, "twenty.bin", data, 32<<10)
		st := &storage.Memory{}
		fill(t, st, mi, data)
		seeder := newPipeSession(t, n, "10.0.0.1:6881", &Config{Storage: st})
		defer seeder.Close()
		seed, err := seeder.AddTorrent(context.Background(), mi, nil)
		if err != nil {
			t.Fatal(err)
		}
		ls := startLeechers(t, n, mi, 20)
		defer ls.close()
		ls.waitAll(t, mi, data, 30*time.Minute)
		var fromLeechers int64
		for _, tor := range ls.torrents {
			fromLeechers += tor.Stats().Uploaded
		}
		// The swarm shares: the seeder did not upload 20 copies.
		if up := seed.Stats().Uploaded; up >= 20*int64(len(data)) || fromLeechers == 0 {
			t.Errorf("seeder uploaded %d bytes, leechers %d: want the leechers to share", up, fromLeechers)
		}
	})
}

// The seeder leaves once the leechers hold every piece between them; they
// finish from each other.
func TestSeederLeavesHalfway(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := newPipeNet()
		n.rate = 1 << 20
		data := randomData(2<<20, 31)
		mi := makeTorrent(t, "leave.bin", data, 32<<10)
		st := &storage.Memory{}
		fill(t, st, mi, data)
		seeder := newPipeSession(t, n, "10.0.0.1:6881", &Config{Storage: st, UploadSlots: 1})
		defer seeder.Close() // also on failure, so the bubble can end
		if _, err := seeder.AddTorrent(context.Background(), mi, nil); err != nil {
			t.Fatal(err)
		}
		ls := startLeechers(t, n, mi, 4)
		defer ls.close()
		covered := func() bool {
			union := make([]bool, mi.Info().NumPieces())
			for _, tor := range ls.torrents {
				for i, ok := range havePieces(tor) {
					union[i] = union[i] || ok
				}
			}
			for _, ok := range union {
				if !ok {
					return false
				}
			}
			return true
		}
		// Virtual time: polling often costs nothing and catches the
		// moment the pieces are covered, before the leechers finish.
		for !covered() {
			time.Sleep(time.Millisecond)
		}
		complete := 0
		for _, tor := range ls.torrents {
			if tor.Stats().Complete {
				complete++
			}
		}
		if complete == len(ls.torrents) {
			t.Fatal("every leecher finished before the seeder left")
		}
		seeder.Close()
		t.Logf("seeder left with %d of %d leechers complete", complete, len(ls.torrents))
		ls.waitAll(t, mi, data, 10*time.Minute)
	})
}
