package bittern

import (
	"context"
	"math"
	"net/netip"
	"testing"
	"testing/synctest"
	"time"

	"github.com/bittern/bittern/metainfo"
	"github.com/bittern/bittern/storage"
)

// rateWindow is the virtual time over which limited rates are measured,
// after rateSettle for the transfer to start.
const (
	rateWindow = 10 * time.Second
	rateSettle = 2 * time.Second
)

// seedTorrents starts a seeder at 10.0.0.1:6881 with the given torrents'
// data and returns it.
func seedTorrents(t *testing.T, n *pipeNet, cfg *Config, mis []*metainfo.MetaInfo, datas [][]byte) *Session {
	t.Helper()
	st := &storage.Memory{}
	for i, mi := range mis {
		fill(t, st, mi, datas[i])
	}
	var c Config
	if cfg != nil {
		c = *cfg
	}
	c.Storage = st
	s := newPipeSession(t, n, "10.0.0.1:6881", &c)
	for _, mi := range mis {
		if _, err := s.AddTorrent(context.Background(), mi, nil); err != nil {
			s.Close()
			t.Fatal(err)
		}
	}
	return s
}

// measure returns the bytes f counts over rateWindow, after rateSettle.
func measure(f func() int64) int64 {
	time.Sleep(rateSettle)
	start := f()
	time.Sleep(rateWindow)
	return f() - start
}

// checkRate fails unless got bytes over rateWindow are within 5% of limit
// bytes per second.
func checkRate(t *testing.T, what string, got int64, limit int) {
	t.Helper()
	want := float64(limit) * rateWindow.Seconds()
	dev := (float64(got) - want) / want
	t.Logf("%s: %d bytes in %v, %.0f B/s (limit %d B/s, %+.2f%%)", what, got, rateWindow, float64(got)/rateWindow.Seconds(), limit, 100*dev)
	if math.Abs(dev) > 0.05 {
		t.Errorf("%s: %d bytes in %v, want %.0f ±5%%", what, got, rateWindow, want)
	}
}

var seedAddr = []netip.AddrPort{netip.MustParseAddrPort("10.0.0.1:6881")}

func TestDownloadRateLimit(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := newPipeNet()
		data := randomData(16<<20, 40)
		mi := makeTorrent(t, "down.bin", data, 256<<10)
		seeder := seedTorrents(t, n, nil, []*metainfo.MetaInfo{mi}, [][]byte{data})
		defer seeder.Close()
		leecher := newPipeSession(t, n, "10.0.1.1:6881", nil)
		defer leecher.Close()
		const limit = 1 << 20
		tor, err := leecher.AddTorrent(context.Background(), mi, &TorrentOptions{Peers: seedAddr, DownloadRateLimit: limit})
		if err != nil {
			t.Fatal(err)
		}
		if d, u := tor.RateLimits(); d != limit || u != 0 {
			t.Errorf("RateLimits() = %d, %d; want %d, 0", d, u, limit)
		}
		got := measure(func() int64 { return tor.Stats().Downloaded })
		checkRate(t, "download", got, limit)
		st := tor.Stats()
		if st.Complete || math.Abs(st.DownloadRate-limit) > 0.05*limit {
			t.Errorf("stats under the limit: %+v", st)
		}
		// The ETA follows from the rate (verified bytes lag the received
		// ones by less than a piece).
		eta := time.Duration(float64(st.Length-st.BytesHave) / limit * float64(time.Second))
		if d := st.ETA - eta; d < -time.Second/2 || d > time.Second/2 {
			t.Errorf("ETA %v, want about %v", st.ETA, eta)
		}
	})
}

func TestUploadRateLimit(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := newPipeNet()
		data := randomData(16<<20, 41)
		mi := makeTorrent(t, "up.bin", data, 256<<10)
		const limit = 1 << 20
		seeder := seedTorrents(t, n, &Config{UploadRateLimit: limit}, []*metainfo.MetaInfo{mi}, [][]byte{data})
		defer seeder.Close()
		if d, u := seeder.RateLimits(); d != 0 || u != limit {
			t.Errorf("RateLimits() = %d, %d; want 0, %d", d, u, limit)
		}
		ls := startLeechers(t, n, mi, 3)
		defer ls.close()
		seed := seeder.Torrent(mi.InfoHash())
		got := measure(func() int64 { return seed.Stats().Uploaded })
		checkRate(t, "upload", got, limit)
	})
}

// A session's limit is shared by its torrents.
func TestSessionRateLimitShared(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := newPipeNet()
		d1, d2 := randomData(16<<20, 42), randomData(16<<20, 43)
		m1, m2 := makeTorrent(t, "a.bin", d1, 256<<10), makeTorrent(t, "b.bin", d2, 256<<10)
		seeder := seedTorrents(t, n, nil, []*metainfo.MetaInfo{m1, m2}, [][]byte{d1, d2})
		defer seeder.Close()
		const limit = 1 << 20
		leecher := newPipeSession(t, n, "10.0.1.1:6881", &Config{DownloadRateLimit: limit})
		defer leecher.Close()
		var tors []*Torrent
		for _, mi := range []*metainfo.MetaInfo{m1, m2} {
			tor, err := leecher.AddTorrent(context.Background(), mi, &TorrentOptions{Peers: seedAddr})
			if err != nil {
				t.Fatal(err)
			}
			tors = append(tors, tor)
		}
		got := measure(func() int64 { return leecher.Stats().Downloaded })
		checkRate(t, "session download", got, limit)
		for i, tor := range tors {
			if st := tor.Stats(); st.Downloaded < limit || st.Complete {
				t.Errorf("torrent %d: %+v; want a share of the limit", i, st)
			}
		}
	})
}

// Limits change at run time: raised, then lifted.
func TestRateLimitChange(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := newPipeNet()
		data := randomData(24<<20, 44)
		mi := makeTorrent(t, "change.bin", data, 256<<10)
		seeder := seedTorrents(t, n, nil, []*metainfo.MetaInfo{mi}, [][]byte{data})
		defer seeder.Close()
		st := &storage.Memory{}
		leecher := newPipeSession(t, n, "10.0.1.1:6881", &Config{Storage: st})
		defer leecher.Close()
		tor, err := leecher.AddTorrent(context.Background(), mi, &TorrentOptions{Peers: seedAddr, DownloadRateLimit: 512 << 10})
		if err != nil {
			t.Fatal(err)
		}
		time.Sleep(3 * time.Second)
		const limit = 3 << 19 // 1.5 MiB/s
		tor.SetRateLimits(limit, 0)
		got := measure(func() int64 { return tor.Stats().Downloaded })
		checkRate(t, "raised download", got, limit)
		tor.SetRateLimits(0, 0)
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		if err := tor.Wait(ctx); err != nil {
			t.Fatalf("unlimited again: %v; %+v", err, tor.Stats())
		}
		if d, u := tor.RateLimits(); d != 0 || u != 0 {
			t.Errorf("RateLimits() = %d, %d; want 0, 0", d, u)
		}
	})
}

// A torrent's upload limit set at run time holds on MSE connections too
// (whose writes are coalesced rather than vectored).
func TestTorrentUploadRateLimitMSE(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := newPipeNet()
		data := randomData(8<<20, 45)
		mi := makeTorrent(t, "upmse.bin", data, 128<<10)
		seeder := seedTorrents(t, n, &Config{Encryption: EncryptionRequired}, []*metainfo.MetaInfo{mi}, [][]byte{data})
		defer seeder.Close()
		seed := seeder.Torrent(mi.InfoHash())
		const limit = 512 << 10
		seed.SetRateLimits(0, limit)
		leecher := newPipeSession(t, n, "10.0.1.1:6881", &Config{Encryption: EncryptionRequired})
		defer leecher.Close()
		tor, err := leecher.AddTorrent(context.Background(), mi, &TorrentOptions{Peers: seedAddr})
		if err != nil {
			t.Fatal(err)
		}
		got := measure(func() int64 { return seed.Stats().Uploaded })
		checkRate(t, "MSE upload", got, limit)
		if st := tor.Stats(); st.EncryptedPeers != 1 {
			t.Errorf("leecher stats %+v, want an MSE connection", st)
		}
	})
}

// BenchmarkUnlimitedChecks measures what the data path pays per block
// without limits: the reader's and the writer's checks.
func BenchmarkUnlimitedChecks(b *testing.B) {
	c := &peerConn{t: &Torrent{s: &Session{}}, done: make(chan struct{})}
	for b.Loop() {
		if !c.throttleDown(16<<10) || c.uploadLimited() {
			b.Fatal("limited")
		}
	}
}
