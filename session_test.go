package bittern

import (
	"bytes"
	"context"
	"net/netip"
	"testing"
	"testing/synctest"
	"time"

	"github.com/bittern/bittern/storage"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

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
