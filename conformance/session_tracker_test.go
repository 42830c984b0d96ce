//go:build interop

package conformance

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/bittern/bittern"
	"github.com/bittern/bittern/metainfo"
	"github.com/bittern/bittern/tracker"
)

// sessionLTTracked is run by libtorrent: with the torrent argv[1] and save
// path argv[2], listening on argv[3], it finds peers only through the
// torrent's tracker; it prints "seeding" (or "finished" after downloading)
// and serves until killed (at most argv[4] seconds).
const sessionLTTracked = `
import sys, time, libtorrent as lt
tor, save, port, limit = sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4])
s = lt.session(` + sessionLTSettings + `)
atp = lt.add_torrent_params()
atp.ti = lt.torrent_info(tor)
atp.save_path = save
atp.flags &= ~(lt.torrent_flags.auto_managed | lt.torrent_flags.paused)
h = s.add_torrent(atp)
deadline = time.time() + limit
said = False
while time.time() < deadline:
    s.wait_for_alert(200)
    for a in s.pop_alerts():
        if isinstance(a, lt.torrent_error_alert):
            sys.exit("torrent error: " + a.message())
        if isinstance(a, (lt.tracker_error_alert, lt.tracker_reply_alert)):
            print("tracker:", a.message(), flush=True)
    st = h.status()
    if not said and st.is_seeding:
        print("seeding" if st.total_payload_download == 0 else "finished", flush=True)
        said = True
`

// sessionTrackerServer runs our tracker.Server over HTTP on loopback and
// returns its announce URL.
func sessionTrackerServer(t *testing.T) (string, *tracker.Server) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := tracker.NewServer(&tracker.ServerConfig{Interval: 30 * time.Second})
	hs := &http.Server{Handler: srv, ReadHeaderTimeout: 5 * time.Second}
	done := make(chan struct{})
	go func() {
		defer close(done)
		hs.Serve(ln)
	}()
	t.Cleanup(func() {
		hs.Close()
		<-done
	})
	return "http://" + ln.Addr().String() + "/announce", srv
}

// sessionBuildTracked makes a v1 torrent of path announcing to url.
func sessionBuildTracked(t *testing.T, path, out, url string) *metainfo.MetaInfo {
	t.Helper()
	mi, err := (&metainfo.Builder{Version: metainfo.V1, PieceLength: 64 << 10, NoCreationDate: true, Trackers: [][]string{{url}}}).Build(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(out, mustMarshal(t, mi), 0o644); err != nil {
		t.Fatal(err)
	}
	return mi
}

func mustMarshal(t *testing.T, mi *metainfo.MetaInfo) []byte {
	t.Helper()
	b, err := mi.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestSessionTrackerLeechFromLibtorrent: libtorrent seeds and announces to
// our tracker; our session finds it there and downloads; on Close the
// tracker is told "stopped".
func TestSessionTrackerLeechFromLibtorrent(t *testing.T) {
	dir := t.TempDir()
	url, srv := sessionTrackerServer(t)
	want := sessionWriteFile(t, filepath.Join(dir, "seed", "data.bin"), 3<<20+5, 21)
	torrent := filepath.Join(dir, "data.torrent")
	mi := sessionBuildTracked(t, filepath.Join(dir, "seed", "data.bin"), torrent, url)

	p := startPython(t, sessionLTTracked, torrent, filepath.Join(dir, "seed"), fmt.Sprint(freePort(t, "tcp")), "120")
	waitFor(t, 60*time.Second, "libtorrent to seed and announce", func() bool {
		return strings.Contains(p.Log(), "seeding") && srv.Stats().Seeders == 1
	})

	s, err := bittern.NewSession(&bittern.Config{ListenAddr: "127.0.0.1:0", DataDir: filepath.Join(dir, "leech")})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	tor, err := s.AddTorrent(ctx, mi, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := tor.Wait(ctx); err != nil {
		t.Fatalf("wait: %v; stats %+v", err, tor.Stats())
	}
	waitFor(t, 10*time.Second, "our completed announce", func() bool { return srv.Stats().Seeders == 2 })
	s.Close()
	if got := srv.Stats(); got.Peers != 1 {
		t.Errorf("after Close the tracker lists %d peers, want libtorrent only", got.Peers)
	}
	got, err := os.ReadFile(filepath.Join(dir, "leech", "data.bin"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatal("downloaded data differs")
	}
}

// TestSessionTrackerSeedToLibtorrent: our session seeds and announces to
// our tracker; libtorrent finds us there and downloads.
func TestSessionTrackerSeedToLibtorrent(t *testing.T) {
	dir := t.TempDir()
	url, srv := sessionTrackerServer(t)
	want := sessionWriteFile(t, filepath.Join(dir, "seed", "data.bin"), 2<<20+9, 22)
	torrent := filepath.Join(dir, "data.torrent")
	mi := sessionBuildTracked(t, filepath.Join(dir, "seed", "data.bin"), torrent, url)

	s, err := bittern.NewSession(&bittern.Config{ListenAddr: "127.0.0.1:0", DataDir: filepath.Join(dir, "seed")})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	tor, err := s.AddTorrent(ctx, mi, nil)
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "our announce", func() bool { return srv.Stats().Seeders == 1 })

	p := startPython(t, sessionLTTracked, torrent, filepath.Join(dir, "lt"), fmt.Sprint(freePort(t, "tcp")), "90")
	waitFor(t, 60*time.Second, "libtorrent to finish", func() bool { return strings.Contains(p.Log(), "finished") })
	got, err := os.ReadFile(filepath.Join(dir, "lt", "data.bin"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatal("libtorrent's data differs")
	}
	if up := tor.Stats().Uploaded; up < mi.Info().TotalLength() {
		t.Errorf("uploaded %d bytes, want at least %d", up, mi.Info().TotalLength())
	}
}
