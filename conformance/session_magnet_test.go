//go:build interop

package conformance

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/bittern/bittern"
	"github.com/bittern/bittern/metainfo"
)

// sessionLTMagnetSettings is sessionLTSettings for a session created with
// no default plugins: only ut_metadata is added (see INTEROP.md).
const sessionLTMagnetSession = `
s = lt.session(` + sessionLTSettings + `, 0)
s.add_extension("ut_metadata")
`

// sessionLTMagnetLeech is run by libtorrent: it adds the magnet link
// argv[1] (whose x.pe names our session), saving into argv[2], listening
// on argv[3]; it prints "metadata" when the info dictionary arrived and
// "finished" once every piece is verified (failing after argv[4] seconds).
const sessionLTMagnetLeech = `
import sys, time, libtorrent as lt
uri, save, port, limit = sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4])
` + sessionLTMagnetSession + `
atp = lt.parse_magnet_uri(uri)
atp.save_path = save
atp.flags &= ~(lt.torrent_flags.auto_managed | lt.torrent_flags.paused)
h = s.add_torrent(atp)
deadline = time.time() + limit
said = False
while time.time() < deadline:
    st = h.status()
    if not said and st.has_metadata:
        print("metadata", h.torrent_file().info_hashes().v1, flush=True)
        said = True
    if st.is_seeding:
        print("finished", st.total_payload_download, flush=True)
        sys.exit(0)
    s.wait_for_alert(200)
    for a in s.pop_alerts():
        if isinstance(a, (lt.torrent_error_alert, lt.metadata_failed_alert)):
            print("alert:", a.message(), flush=True)
st = h.status()
sys.exit("not finished: progress %.3f, peers %d, metadata %s" % (st.progress, st.num_peers, st.has_metadata))
`

// sessionLTMagnetSeed is sessionLTSeed with only ut_metadata as plugin.
const sessionLTMagnetSeed = `
import sys, time, libtorrent as lt
tor, save, port, limit = sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4])
` + sessionLTMagnetSession + `
atp = lt.add_torrent_params()
atp.ti = lt.torrent_info(tor)
atp.save_path = save
atp.flags &= ~(lt.torrent_flags.auto_managed | lt.torrent_flags.paused)
h = s.add_torrent(atp)
h.replace_trackers([])
deadline = time.time() + limit
said = False
while time.time() < deadline:
    s.wait_for_alert(200)
    s.pop_alerts()
    if not said and h.status().is_seeding:
        print("seeding", flush=True)
        said = True
`

// TestSessionMagnetFromLibtorrent: our session fetches the metadata (more
// than one ut_metadata piece) from libtorrent through a magnet link's x.pe
// hint, then the data.
func TestSessionMagnetFromLibtorrent(t *testing.T) {
	dir := t.TempDir()
	want := sessionWriteFile(t, filepath.Join(dir, "seed", "data.bin"), 20<<20+7, 31)
	torrent := filepath.Join(dir, "data.torrent")
	mi := sessionBuildV1(t, filepath.Join(dir, "seed", "data.bin"), torrent, 16<<10) // 1281 pieces: 2 metadata pieces
	port := freePort(t, "tcp")
	p := startPython(t, sessionLTMagnetSeed, torrent, filepath.Join(dir, "seed"), fmt.Sprint(port), "120")
	waitFor(t, 60*time.Second, "libtorrent to seed", func() bool { return strings.Contains(p.Log(), "seeding") })

	s, err := bittern.NewSession(&bittern.Config{ListenAddr: "127.0.0.1:0", DataDir: filepath.Join(dir, "leech")})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	m := &metainfo.Magnet{InfoHash: mi.InfoHash(), Name: "data.bin", Peers: []string{fmt.Sprintf("127.0.0.1:%d", port)}}
	tor, err := s.AddMagnet(ctx, m.String(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(tor.MetaInfo().InfoBytes, mi.InfoBytes) {
		t.Fatal("metadata from libtorrent differs")
	}
	if err := tor.Wait(ctx); err != nil {
		t.Fatalf("wait: %v; stats %+v", err, tor.Stats())
	}
	s.Close()
	got, err := os.ReadFile(filepath.Join(dir, "leech", "data.bin"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatal("downloaded data differs")
	}
}

// TestSessionMagnetToLibtorrent: libtorrent, given only a magnet link
// naming our session, fetches the metadata from us (ut_metadata served)
// and then the data.
func TestSessionMagnetToLibtorrent(t *testing.T) {
	dir := t.TempDir()
	want := sessionWriteFile(t, filepath.Join(dir, "seed", "data.bin"), 20<<20+3, 32)
	mi := sessionBuildV1(t, filepath.Join(dir, "seed", "data.bin"), filepath.Join(dir, "data.torrent"), 16<<10)

	s, err := bittern.NewSession(&bittern.Config{ListenAddr: "127.0.0.1:0", DataDir: filepath.Join(dir, "seed")})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	if _, err := s.AddTorrent(ctx, mi, nil); err != nil {
		t.Fatal(err)
	}
	m := &metainfo.Magnet{InfoHash: mi.InfoHash(), Peers: []string{s.Addr().(*net.TCPAddr).AddrPort().String()}}
	out := string(runPython(t, ctx, sessionLTMagnetLeech, m.String(), filepath.Join(dir, "lt"), fmt.Sprint(freePort(t, "tcp")), "90"))
	if !strings.Contains(out, "metadata "+mi.InfoHash().String()) || !strings.Contains(out, "finished") {
		t.Fatalf("libtorrent:\n%s", out)
	}
	got, err := os.ReadFile(filepath.Join(dir, "lt", "data.bin"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatal("libtorrent's data differs")
	}
}
