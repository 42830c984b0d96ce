package tracker

import (
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/bittern/bittern/metainfo"
)

// Partial seeds (BEP 21) count as incomplete, and only the other leechers
// as downloaders; a peer is one while its announces say "paused".
func TestServerPartialSeeds(t *testing.T) {
	s := NewServer(nil)
	scrape := func() ScrapeStats {
		t.Helper()
		st, err := s.scrape([]metainfo.Hash{testIH})
		require.NoError(t, err)
		return st[testIH]
	}
	stats := func(complete, incomplete, downloaded, downloaders int) ScrapeStats {
		return ScrapeStats{Complete: complete, Incomplete: incomplete, Downloaded: downloaded,
			Downloaders: downloaders, HasDownloaders: true}
	}
	_, err := s.announce(ann(testIH, 1, "1.1.1.1:1", 0, EventStarted))
	require.NoError(t, err)
	_, err = s.announce(ann(testIH, 2, "2.2.2.2:2", 5, EventStarted))
	require.NoError(t, err)
	r, err := s.announce(ann(testIH, 3, "3.3.3.3:3", 5, EventPaused))
	require.NoError(t, err)
	require.Equal(t, 1, r.seeders)
	require.Equal(t, 2, r.leechers, "a partial seed is a leecher in announce replies")
	require.Equal(t, stats(1, 2, 0, 1), scrape())

	// Paused again changes nothing; a regular announce makes it a
	// downloader again, and paused a partial seed once more.
	_, _ = s.announce(ann(testIH, 3, "3.3.3.3:3", 5, EventPaused))
	require.Equal(t, stats(1, 2, 0, 1), scrape())
	_, _ = s.announce(ann(testIH, 3, "3.3.3.3:3", 7, EventNone))
	require.Equal(t, stats(1, 2, 0, 2), scrape())
	_, _ = s.announce(ann(testIH, 3, "3.3.3.3:3", 5, EventPaused))
	require.Equal(t, stats(1, 2, 0, 1), scrape())

	// Completed: a seeder, no longer a partial seed.
	_, _ = s.announce(ann(testIH, 3, "3.3.3.3:3", 0, EventCompleted))
	require.Equal(t, stats(2, 1, 1, 1), scrape())
	// "paused" with nothing left is a seeder's announce.
	_, _ = s.announce(ann(testIH, 3, "3.3.3.3:3", 0, EventPaused))
	require.Equal(t, stats(2, 1, 1, 1), scrape())

	// A partial seed that stops leaves the counts.
	_, _ = s.announce(ann(testIH, 2, "2.2.2.2:2", 5, EventPaused))
	require.Equal(t, stats(2, 1, 1, 0), scrape())
	_, _ = s.announce(ann(testIH, 2, "2.2.2.2:2", 5, EventStopped))
	require.Equal(t, stats(2, 0, 1, 0), scrape())
}

// A partial seed that expires leaves the counts too.
func TestServerPartialSeedExpiry(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := NewServer(&ServerConfig{Interval: time.Minute})
		_, _ = s.announce(ann(testIH, 1, "1.1.1.1:1", 5, EventPaused))
		_, _ = s.announce(ann(testIH, 2, "2.2.2.2:2", 5, EventStarted))
		time.Sleep(time.Minute)
		_, _ = s.announce(ann(testIH, 2, "2.2.2.2:2", 5, EventNone))
		time.Sleep(time.Minute)
		st, _ := s.scrape([]metainfo.Hash{testIH})
		require.Equal(t, ScrapeStats{Incomplete: 1, Downloaders: 1, HasDownloaders: true}, st[testIH])
	})
}

// "paused" arrives over HTTP and UDP (event 4); the HTTP scrape carries
// "downloaders", the UDP scrape has no room for it.
func TestServerPausedOverWire(t *testing.T) {
	srv := NewServer(nil)
	ts, udpURL := serveLoopback(t, srv, false)
	ctx := t.Context()
	ht, err := New(ts.URL+"/announce", nil)
	require.NoError(t, err)
	defer ht.Close()
	ut, err := New(udpURL, nil)
	require.NoError(t, err)
	defer ut.Close()
	_, err = ht.Announce(ctx, AnnounceRequest{InfoHash: testIH, PeerID: peerID(1), Port: 1111, Left: 5, Event: EventPaused})
	require.NoError(t, err)
	r, err := ut.Announce(ctx, AnnounceRequest{InfoHash: testIH, PeerID: peerID(2), Port: 2222, Left: 5, Event: EventPaused})
	require.NoError(t, err)
	require.Equal(t, 2, r.Leechers)
	_, err = ut.Announce(ctx, AnnounceRequest{InfoHash: testIH, PeerID: peerID(3), Port: 3333, Left: 5, Event: EventStarted})
	require.NoError(t, err)

	st, err := ht.Scrape(ctx, testIH)
	require.NoError(t, err)
	require.Equal(t, ScrapeStats{Incomplete: 3, Downloaders: 1, HasDownloaders: true}, st[testIH])
	body := httpGet(t, ts.URL+"/scrape?info_hash="+string(escapeBinary(nil, testIH[:])))
	require.Contains(t, string(body), "11:downloadersi1e")
	st, err = ut.Scrape(ctx, testIH)
	require.NoError(t, err)
	require.Equal(t, ScrapeStats{Incomplete: 3}, st[testIH])

	// An unknown UDP event is a regular announce: no longer paused.
	_, err = ut.Announce(ctx, AnnounceRequest{InfoHash: testIH, PeerID: peerID(2), Port: 2222, Left: 5, Event: Event(9)})
	require.NoError(t, err)
	st, err = ht.Scrape(ctx, testIH)
	require.NoError(t, err)
	require.Equal(t, 2, st[testIH].Downloaders)
}

func TestParseScrapeDownloaders(t *testing.T) {
	ih := string(testIH[:])
	for _, tc := range []struct {
		body string
		want ScrapeStats
	}{
		{"d5:filesd20:" + ih + "d8:completei1e10:incompletei3eeee", ScrapeStats{Complete: 1, Incomplete: 3}},
		{"d5:filesd20:" + ih + "d8:completei1e11:downloadersi2e10:incompletei3eeee",
			ScrapeStats{Complete: 1, Incomplete: 3, Downloaders: 2, HasDownloaders: true}},
		{"d5:filesd20:" + ih + "d11:downloadersi0eeee", ScrapeStats{HasDownloaders: true}},
		{"d5:filesd20:" + ih + "d11:downloadersi-1eeee", ScrapeStats{}},
		{"d5:filesd20:" + ih + "d11:downloaders1:xeee", ScrapeStats{}},
	} {
		got, err := ParseScrapeResponse([]byte(tc.body))
		require.NoError(t, err, tc.body)
		require.Equal(t, tc.want, got[testIH], tc.body)
	}
}

// checkSwarmCounts fails t if a swarm's seeder or partial seed count
// disagrees with its peers.
func checkSwarmCounts(t *testing.T, s *Server) {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	for ih, sw := range s.swarms {
		seeders, partials := 0, 0
		for _, p := range sw.list {
			if p.seeder() {
				seeders++
			}
			if p.partial {
				partials++
				if p.seeder() {
					t.Fatalf("swarm %x: a seeder is a partial seed", ih)
				}
			}
		}
		if seeders != sw.seeders || partials != sw.partials {
			t.Fatalf("swarm %x: counts %d seeders, %d partial seeds; peers say %d, %d", ih, sw.seeders, sw.partials, seeders, partials)
		}
	}
}
