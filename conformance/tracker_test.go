//go:build interop

package conformance

import (
	"bytes"
	"context"
	"encoding/json"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/bittern/bittern/metainfo"
	"github.com/bittern/bittern/tracker"
)

// TestTrackerClientsOpentracker announces two peers to opentracker over
// HTTP and over UDP with our clients: each sees the other, and scrapes
// count them right.
func TestTrackerClientsOpentracker(t *testing.T) {
	ihHTTP := metainfo.HashBytes([]byte("bittern http swarm"))
	ihUDP := metainfo.HashBytes([]byte("bittern udp swarm"))
	httpURL, udpURL := startOpentracker(t, ihHTTP, ihUDP)
	loop4 := netip.MustParseAddr("127.0.0.1")
	for _, tc := range []struct {
		name, url string
		ih        metainfo.Hash
	}{{"http", httpURL, ihHTTP}, {"udp", udpURL, ihUDP}} {
		t.Run(tc.name, func(t *testing.T) {
			cl := twoPeerSwarm(t, tc.url, tc.ih, loop4, swarmQuirks{})
			// A swarm that is not whitelisted is refused with a reason (HTTP)
			// or not answered at all (opentracker drops such UDP announces).
			req := tracker.AnnounceRequest{InfoHash: metainfo.Hash{1}, PeerID: [20]byte{'A'}, Port: 40001}
			ctx, cancel := context.WithTimeout(t.Context(), 3*time.Second)
			defer cancel()
			if _, err := cl.Announce(ctx, req); err == nil {
				t.Fatal("announce for a non-whitelisted torrent succeeded")
			} else if tc.name == "http" {
				var fe *tracker.FailureError
				if !errorsAs(err, &fe) {
					t.Fatalf("want *FailureError, got %v", err)
				}
			}
		})
	}
}

// TestTrackerClientsWebtorrent runs the same swarm against a second,
// independent tracker, webtorrent's bittorrent-tracker (Node.js), over HTTP,
// UDP on IPv4 and UDP on IPv6. Its quirks: its "downloaded" is the number of
// seeders present, not of completed downloads; over UDP on IPv6 it returns no IPv6 peers (only
// counts); its HTTP scrape keys are UTF-8 encoded (our parser accepts that).
func TestTrackerClientsWebtorrent(t *testing.T) {
	httpURL, udp4URL, udp6URL := startWebtorrentTracker(t)
	for _, tc := range []struct {
		name, url string
		host      string
		quirks    swarmQuirks
	}{
		{"http", httpURL, "127.0.0.1", swarmQuirks{downloadedIsComplete: true}},
		{"udp4", udp4URL, "127.0.0.1", swarmQuirks{downloadedIsComplete: true}},
		{"udp6", udp6URL, "::1", swarmQuirks{downloadedIsComplete: true, noPeers: true}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// A hash with bytes >= 0x80, which the HTTP scrape quirk needs.
			ih := metainfo.HashBytes([]byte("webtorrent " + tc.name))
			ih[0] = 0xfe
			twoPeerSwarm(t, tc.url, ih, netip.MustParseAddr(tc.host), tc.quirks)
		})
	}
}

// swarmQuirks lists where a tracker legitimately differs from the counts
// twoPeerSwarm expects.
type swarmQuirks struct {
	downloadedIsComplete bool // "downloaded" reports the current seeders
	noPeers              bool // peer lists come back empty (counts only)
}

// twoPeerSwarm announces a seeder and a leecher to url with one of our
// clients and checks that each sees the other and that scrapes count them
// through completed and stopped. host is the address the tracker sees us
// at. The client is returned for further checks.
func twoPeerSwarm(t *testing.T, url string, ih metainfo.Hash, host netip.Addr, q swarmQuirks) tracker.Tracker {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	cl, err := tracker.New(url, &tracker.Config{UDPTimeout: 2 * time.Second, UDPRetries: 2})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cl.Close() })
	seed := tracker.AnnounceRequest{InfoHash: ih, PeerID: [20]byte{'A'}, Port: 40001, Left: 0, Event: tracker.EventStarted, NumWant: 50}
	leech := tracker.AnnounceRequest{InfoHash: ih, PeerID: [20]byte{'B'}, Port: 40002, Left: 1000, Event: tracker.EventStarted, NumWant: 50}
	if _, err := cl.Announce(ctx, seed); err != nil {
		t.Fatalf("seeder announce: %v", err)
	}
	r, err := cl.Announce(ctx, leech)
	if err != nil {
		t.Fatalf("leecher announce: %v", err)
	}
	seedAddr := netip.AddrPortFrom(host, 40001)
	leechAddr := netip.AddrPortFrom(host, 40002)
	if !q.noPeers && !slices.Contains(r.Peers, seedAddr) {
		t.Fatalf("leecher did not get the seeder: %+v", r)
	}
	if r.Seeders != 1 || r.Leechers != 1 || r.Interval <= 0 {
		t.Fatalf("leecher reply counts: %+v", r)
	}
	seed.Event = tracker.EventNone
	r, err = cl.Announce(ctx, seed)
	if err != nil {
		t.Fatal(err)
	}
	if !q.noPeers && !slices.Contains(r.Peers, leechAddr) {
		t.Fatalf("seeder did not get the leecher: %+v", r)
	}
	scrape := func(want tracker.ScrapeStats, what string) {
		t.Helper()
		st, err := cl.Scrape(ctx, ih)
		if err != nil {
			t.Fatalf("scrape %s: %v", what, err)
		}
		if got := st[ih]; got != want {
			t.Fatalf("scrape %s = %+v, want %+v", what, got, want)
		}
	}
	dl := func(complete, downloaded int) int {
		if q.downloadedIsComplete {
			return complete
		}
		return downloaded
	}
	scrape(tracker.ScrapeStats{Complete: 1, Incomplete: 1, Downloaded: dl(1, 0)}, "with a seeder and a leecher")
	leech.Event, leech.Left = tracker.EventCompleted, 0
	if _, err := cl.Announce(ctx, leech); err != nil {
		t.Fatal(err)
	}
	scrape(tracker.ScrapeStats{Complete: 2, Downloaded: dl(2, 1)}, "after completed")
	leech.Event = tracker.EventStopped
	if _, err := cl.Announce(ctx, leech); err != nil {
		t.Fatal(err)
	}
	scrape(tracker.ScrapeStats{Complete: 1, Downloaded: dl(1, 1)}, "after stopped")
	return cl
}

type swarmSummary struct {
	InfoHash   string         `json:"info_hash"`
	Replies    map[string]int `json:"replies"`
	Downloaded int64          `json:"downloaded"`
}

// TestTrackerServerLibtorrent: a libtorrent seeder and a libtorrent leecher
// announce to our tracker server, over HTTP and over UDP, find each other
// through it and complete a transfer.
func TestTrackerServerLibtorrent(t *testing.T) {
	for _, tc := range []struct{ proto, host string }{
		{"http", "127.0.0.1"}, {"udp", "127.0.0.1"}, {"http", "::1"}, {"udp", "::1"},
	} {
		proto := tc.proto
		t.Run(proto+"/"+tc.host, func(t *testing.T) {
			// Over ::1 both sessions listen on ::1 and our server answers
			// with IPv6 peers: "peers6" over HTTP, 18-byte entries over UDP.
			t.Setenv("LT_HOST", tc.host)
			ot := startOurTrackerOn(t, &tracker.ServerConfig{Interval: 30 * time.Second}, tc.host)
			url := ot.httpURL
			if proto == "udp" {
				url = ot.udpURL
			}
			work := t.TempDir()
			const size = 3<<20 + 12345
			ctx, cancel := context.WithTimeout(t.Context(), 100*time.Second)
			defer cancel()
			out := runPython(t, ctx, ltSwarmScript, work, url,
				strconv.Itoa(freePort(t, "tcp")), strconv.Itoa(freePort(t, "tcp")), strconv.Itoa(size), "90")
			var sum swarmSummary
			if err := json.Unmarshal(bytes.TrimSpace(out), &sum); err != nil {
				t.Fatalf("python output %q: %v", out, err)
			}
			if sum.Replies["seeder"] == 0 || sum.Replies["leecher"] == 0 {
				t.Fatalf("tracker replies: %v", sum.Replies)
			}
			compareFiles(t, filepath.Join(work, "seed", "payload.bin"), filepath.Join(work, "leech", "payload.bin"))
			ih, err := metainfo.ParseHash(sum.InfoHash)
			if err != nil {
				t.Fatal(err)
			}
			stats, err := scrapeOnce(t, url, ih)
			if err != nil {
				t.Fatal(err)
			}
			// Both sessions are seeders now (or have stopped on exit).
			if st := stats[ih]; st.Incomplete != 0 || st.Complete > 2 {
				t.Fatalf("scrape after transfer: %+v", st)
			}
			t.Logf("%s over %s: libtorrent replies %v, leecher downloaded %d bytes", proto, tc.host, sum.Replies, sum.Downloaded)
		})
	}
}

// TestTrackerServerAria2: aria2 downloads from a libtorrent seeder, finding
// it through our HTTP tracker.
func TestTrackerServerAria2(t *testing.T) {
	requireBinary(t, "aria2c")
	ot := startOurTracker(t, &tracker.ServerConfig{Interval: 30 * time.Second})
	work := t.TempDir()
	const size = 2<<20 + 777
	seeder := startPython(t, ltSeederScript, work, ot.httpURL, strconv.Itoa(freePort(t, "tcp")), strconv.Itoa(size), "90")
	ready := regexp.MustCompile(`READY (\S+) ([0-9a-f]{40})`)
	var m []string
	waitFor(t, 60*time.Second, "libtorrent seeder to announce", func() bool {
		m = ready.FindStringSubmatch(seeder.Log())
		return m != nil
	})
	out := filepath.Join(work, "aria2")
	aria := startProc(t, "aria2c", "--enable-dht=false", "--enable-dht6=false", "--bt-enable-lpd=false",
		"--enable-peer-exchange=false", "--listen-port="+strconv.Itoa(freePort(t, "tcp")), "--seed-time=0",
		"--file-allocation=none", "--summary-interval=0", "--bt-stop-timeout=60", "-d", out, m[1])
	ctx, cancel := context.WithTimeout(t.Context(), 80*time.Second)
	defer cancel()
	if err := aria.Wait(ctx); err != nil {
		t.Fatalf("aria2c: %v\n%s", err, tail(aria.Log(), 3000))
	}
	compareFiles(t, filepath.Join(work, "seed", "payload.bin"), filepath.Join(out, "payload.bin"))
}

func compareFiles(t *testing.T, want, got string) {
	t.Helper()
	a, err := os.ReadFile(want)
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(got)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(a, b) {
		t.Fatalf("%s (%d bytes) differs from %s (%d bytes)", got, len(b), want, len(a))
	}
}

func scrapeOnce(t *testing.T, url string, ih metainfo.Hash) (map[metainfo.Hash]tracker.ScrapeStats, error) {
	cl, err := tracker.New(url, &tracker.Config{UDPTimeout: time.Second, UDPRetries: 2})
	if err != nil {
		return nil, err
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	return cl.Scrape(ctx, ih)
}

// TestTrackerServerTransmission: Transmission seeds and announces to our
// tracker, over HTTP and over UDP; a libtorrent leecher finds it there and
// downloads from it (Transmission never dials loopback peers itself, but
// accepts them).
func TestTrackerServerTransmission(t *testing.T) {
	for _, proto := range []string{"http", "udp"} {
		t.Run(proto, func(t *testing.T) {
			ot := startOurTracker(t, &tracker.ServerConfig{Interval: 30 * time.Second})
			url := ot.httpURL
			if proto == "udp" {
				url = ot.udpURL
			}
			work := t.TempDir()
			const size = 1<<20 + 4321
			ctx, cancel := context.WithTimeout(t.Context(), 100*time.Second)
			defer cancel()
			tpath := string(bytes.TrimSpace(runPython(t, ctx, ltMakeTorrentScript, work, url, strconv.Itoa(size))))
			rpc, peerPort := startTransmission(t)
			if out, err := exec.CommandContext(ctx, "transmission-remote", rpc, "-a", tpath, "-w", filepath.Join(work, "seed")).CombinedOutput(); err != nil {
				t.Fatalf("transmission-remote -a: %v\n%s", err, out)
			}
			// Transmission verifies the data, then announces as a seeder.
			ih := torrentInfoHash(t, tpath)
			want := netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), uint16(peerPort))
			waitFor(t, 60*time.Second, "Transmission to announce as a seeder", func() bool {
				st, err := scrapeOnce(t, ot.httpURL, ih)
				return err == nil && st[ih].Complete == 1
			})
			out := runPython(t, ctx, ltLeechScript, tpath, filepath.Join(work, "leech"), strconv.Itoa(freePort(t, "tcp")), "90")
			t.Logf("libtorrent leecher over %s: %s (Transmission at %v)", proto, bytes.TrimSpace(out), want)
			compareFiles(t, filepath.Join(work, "seed", "payload.bin"), filepath.Join(work, "leech", "payload.bin"))
		})
	}
}

func torrentInfoHash(t *testing.T, path string) metainfo.Hash {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	out := runPython(t, ctx, `import sys, libtorrent as lt; print(lt.torrent_info(sys.argv[1]).info_hashes().v1)`, path)
	h, err := metainfo.ParseHash(string(bytes.TrimSpace(out)))
	if err != nil {
		t.Fatal(err)
	}
	return h
}
