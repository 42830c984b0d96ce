//go:build interop

package conformance

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/bittern/bittern"
)

// sessionLTPEXSession makes a libtorrent session with only the ut_metadata
// and ut_pex plugins.
const sessionLTPEXSession = `
s = lt.session(` + sessionLTSettings + `, 0)
s.add_extension("ut_metadata")
s.add_extension("ut_pex")
`

// sessionLTPEXSeed seeds argv[1] from argv[2] on port argv[3] for at most
// argv[4] seconds, uploading at most argv[5] bytes/s so that leechers stay
// leechers, and prints "seeding".
const sessionLTPEXSeed = `
import sys, time, libtorrent as lt
tor, save, port, limit, rate = sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4]), int(sys.argv[5])
` + sessionLTPEXSession + `
atp = lt.add_torrent_params()
atp.ti = lt.torrent_info(tor)
atp.save_path = save
atp.flags &= ~(lt.torrent_flags.auto_managed | lt.torrent_flags.paused)
h = s.add_torrent(atp)
h.replace_trackers([])
h.set_upload_limit(rate)
deadline = time.time() + limit
said = False
while time.time() < deadline:
    s.wait_for_alert(200)
    s.pop_alerts()
    if not said and h.status().is_seeding:
        print("seeding", flush=True)
        said = True
`

// sessionLTPEXLeech downloads argv[1] into argv[2] on port argv[3],
// connecting only to 127.0.0.1:argv[4]; every half second it prints the
// ports of its peers ("peers P1 P2 …") for at most argv[5] seconds.
const sessionLTPEXLeech = `
import sys, time, libtorrent as lt
tor, save, port, peer, limit = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), float(sys.argv[5])
` + sessionLTPEXSession + `
atp = lt.add_torrent_params()
atp.ti = lt.torrent_info(tor)
atp.save_path = save
atp.flags &= ~(lt.torrent_flags.auto_managed | lt.torrent_flags.paused)
h = s.add_torrent(atp)
h.replace_trackers([])
deadline = time.time() + limit
connected = 0
while time.time() < deadline:
    if h.status().num_peers == 0 and time.time() > connected + 2:
        h.connect_peer(("127.0.0.1", peer))
        connected = time.time()
    s.wait_for_alert(500)
    for a in s.pop_alerts():
        if isinstance(a, (lt.peer_error_alert, lt.peer_disconnected_alert, lt.torrent_error_alert)):
            print("alert:", a.message(), flush=True)
    print("peers", " ".join(str(p.ip[1]) for p in h.get_peer_info()), flush=True)
`

// TestSessionPEXWithLibtorrent: two of our leechers connected to a
// libtorrent seed learn of each other from its ut_pex messages (receive),
// and a libtorrent leecher that knows only one of ours meets further peers
// through our ut_pex messages (send).
func TestSessionPEXWithLibtorrent(t *testing.T) {
	dir := t.TempDir()
	sessionWriteFile(t, filepath.Join(dir, "seed", "data.bin"), 32<<20, 51)
	torrent := filepath.Join(dir, "data.torrent")
	mi := sessionBuildV1(t, filepath.Join(dir, "seed", "data.bin"), torrent, 256<<10)
	ltPort := freePort(t, "tcp")
	seed := startPython(t, sessionLTPEXSeed, torrent, filepath.Join(dir, "seed"), fmt.Sprint(ltPort), "150", "50000")
	waitFor(t, 60*time.Second, "libtorrent to seed", func() bool { return strings.Contains(seed.Log(), "seeding") })

	ltAddr := netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), uint16(ltPort))
	ctx, cancel := context.WithTimeout(context.Background(), 150*time.Second)
	defer cancel()
	var ours []*bittern.Torrent
	var sessions []*bittern.Session
	for i := range 2 {
		s, err := bittern.NewSession(&bittern.Config{ListenAddr: "127.0.0.1:0", DataDir: filepath.Join(dir, fmt.Sprint("ours", i))})
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		tor, err := s.AddTorrent(ctx, mi, &bittern.TorrentOptions{Peers: []netip.AddrPort{ltAddr}})
		if err != nil {
			t.Fatal(err)
		}
		ours = append(ours, tor)
		sessions = append(sessions, s)
	}

	// Send: libtorrent knows only ours[0].
	ours0 := sessions[0].Addr().(*net.TCPAddr).Port
	leech := startPython(t, sessionLTPEXLeech, torrent, filepath.Join(dir, "lt"), fmt.Sprint(freePort(t, "tcp")), fmt.Sprint(ours0), "120")
	peersLine := regexp.MustCompile(`(?m)^peers (.*)$`)
	// The leecher was given only ours[0]. Any further peer reached it
	// through our ut_pex: we told it of the seed (or of ours[1]), or told
	// the seed or ours[1] of it, and one side dialled the other (so the
	// port seen may be an ephemeral one).
	connected := func() bool {
		for _, m := range peersLine.FindAllStringSubmatch(leech.Log(), -1) {
			if len(strings.Fields(m[1])) >= 2 {
				return true
			}
		}
		return false
	}
	for deadline := time.Now().Add(90 * time.Second); !connected(); time.Sleep(200 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the libtorrent leecher met no peer beyond the one it was given; its log:\n%s\nours: %+v", tail(leech.Log(), 20), ours[0].Stats())
		}
	}

	// Receive: libtorrent sends ut_pex once a minute.
	waitFor(t, 100*time.Second, "our leechers to take peers from libtorrent's PEX", func() bool {
		return ours[0].Stats().PEXPeers > 0 && ours[1].Stats().PEXPeers > 0
	})
	for i, tor := range ours {
		t.Logf("ours[%d]: %+v", i, tor.Stats())
	}
}
