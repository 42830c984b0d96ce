//go:build interop

package conformance

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/bittern/bittern"
	"github.com/bittern/bittern/metainfo"
)

// sessionLTSettings is the Python expression for a loopback-only
// libtorrent session listening on 127.0.0.1:port, TCP only, plaintext
// allowed, no DHT/LSD/UPnP.
const sessionLTSettings = `{"listen_interfaces": "127.0.0.1:" + port, "enable_dht": False, "enable_lsd": False,
 "enable_upnp": False, "enable_natpmp": False, "dht_bootstrap_nodes": "",
 "allow_multiple_connections_per_ip": True, "ssrf_mitigation": False,
 "enable_outgoing_utp": False, "enable_incoming_utp": False,
 "alert_mask": lt.alert.category_t.status_notification | lt.alert.category_t.error_notification | lt.alert.category_t.peer_notification}`

// sessionLTSeed is run by libtorrent: it seeds the torrent argv[1] from
// save path argv[2], listening on argv[3], prints "seeding" once its check
// passed, and serves until killed (at most argv[4] seconds).
const sessionLTSeed = `
import sys, time, libtorrent as lt
tor, save, port, limit = sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4])
s = lt.session(` + sessionLTSettings + `)
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
    for a in s.pop_alerts():
        if isinstance(a, lt.torrent_error_alert):
            sys.exit("torrent error: " + a.message())
    st = h.status()
    if not said and st.is_seeding:
        print("seeding", flush=True)
        said = True
    if said:
        print("uploaded", st.total_payload_upload, "peers", st.num_peers, flush=True)
`

// sessionLTLeech is run by libtorrent: it downloads the torrent argv[1]
// into argv[2], listening on argv[3], from the peer 127.0.0.1:argv[4], and
// prints "finished" once every piece is verified (failing after argv[5]
// seconds).
const sessionLTLeech = `
import sys, time, libtorrent as lt
tor, save, port, peer, limit = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), float(sys.argv[5])
s = lt.session(` + sessionLTSettings + `)
atp = lt.add_torrent_params()
atp.ti = lt.torrent_info(tor)
atp.save_path = save
atp.flags &= ~(lt.torrent_flags.auto_managed | lt.torrent_flags.paused)
h = s.add_torrent(atp)
h.replace_trackers([])
deadline = time.time() + limit
connected = 0
while time.time() < deadline:
    st = h.status()
    if st.is_seeding:
        print("finished", st.total_payload_download, flush=True)
        sys.exit(0)
    if st.num_peers == 0 and time.time() > connected + 2:
        h.connect_peer(("127.0.0.1", peer))
        connected = time.time()
    s.wait_for_alert(200)
    for a in s.pop_alerts():
        if isinstance(a, (lt.torrent_error_alert, lt.peer_error_alert, lt.peer_disconnected_alert)):
            print("alert:", a.message(), flush=True)
st = h.status()
sys.exit("not finished: progress %.3f, peers %d, state %s" % (st.progress, st.num_peers, st.state))
`

// sessionWriteFile writes n deterministic random bytes to path.
func sessionWriteFile(t *testing.T, path string, n int, seed uint64) []byte {
	t.Helper()
	r := rand.New(rand.NewPCG(seed, 11))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return b
}

// sessionBuildV1 makes a v1 torrent of path with our Builder and writes it
// to out.
func sessionBuildV1(t *testing.T, path, out string, pieceLen int64) *metainfo.MetaInfo {
	t.Helper()
	mi, err := (&metainfo.Builder{Version: metainfo.V1, PieceLength: pieceLen, NoCreationDate: true}).Build(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.Create(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := mi.Write(f); err != nil {
		t.Fatal(err)
	}
	return mi
}

// sessionStartTransmission starts transmission-daemon on loopback with the
// given peer and RPC ports, downloading into dir, and waits for its RPC.
func sessionStartTransmission(t *testing.T, dir string, peerPort, rpcPort int) *proc {
	t.Helper()
	requireBinary(t, "transmission-daemon")
	conf := filepath.Join(dir, "config")
	if err := os.MkdirAll(conf, 0o755); err != nil {
		t.Fatal(err)
	}
	settings := map[string]any{
		"bind-address-ipv4": "127.0.0.1", "bind-address-ipv6": "::1",
		"peer-port": peerPort, "peer-port-random-on-start": false, "port-forwarding-enabled": false,
		"dht-enabled": false, "lpd-enabled": false, "pex-enabled": false, "utp-enabled": false,
		"rpc-bind-address": "127.0.0.1", "rpc-port": rpcPort, "rpc-authentication-required": false,
		"rpc-whitelist": "127.0.0.1,::1", "rpc-whitelist-enabled": true, "rpc-host-whitelist-enabled": false,
		"ratio-limit-enabled": false, "encryption": 0, "download-dir": filepath.Join(dir, "downloads"),
		"incomplete-dir-enabled": false, "message-level": 2,
	}
	b, err := json.Marshal(settings)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(conf, "settings.json"), b, 0o644); err != nil {
		t.Fatal(err)
	}
	p := startProc(t, "transmission-daemon", "-f", "-g", conf)
	rpc := fmt.Sprintf("127.0.0.1:%d", rpcPort)
	waitFor(t, 30*time.Second, "transmission's RPC", func() bool {
		return runQuiet(5*time.Second, "transmission-remote", rpc, "-l") == nil
	})
	return p
}

// sessionTransmissionDone reports whether transmission's first torrent is
// 100% done.
func sessionTransmissionDone(t *testing.T, rpcPort int) bool {
	out, err := runBounded(10*time.Second, "transmission-remote", fmt.Sprintf("127.0.0.1:%d", rpcPort), "-t", "1", "-i")
	if err != nil {
		return false
	}
	return strings.Contains(string(out), "Percent Done: 100%")
}

// sessionLTMakeTorrent is run by libtorrent: it creates a torrent of kind
// argv[2] ("v1" or "hybrid") over argv[1] with piece length argv[3] and
// writes it to argv[4].
const sessionLTMakeTorrent = `
import os, sys, libtorrent as lt
src, kind, pl, out = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
fs = lt.file_storage()
lt.add_files(fs, src)
ct = lt.create_torrent(fs, pl, lt.create_torrent.v1_only if kind == "v1" else 0)
lt.set_piece_hashes(ct, os.path.dirname(src))
open(out, "wb").write(lt.bencode(ct.generate()))
`

// seedingSession starts a Session with cfg that seeds mi from data already
// in place: it fails the test unless the data checks complete. The session
// is closed when the test ends.
func seedingSession(t *testing.T, cfg *bittern.Config, mi *metainfo.MetaInfo) (*bittern.Session, *bittern.Torrent) {
	t.Helper()
	s, err := bittern.NewSession(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	tor, err := s.AddTorrent(ctx, mi, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !tor.Stats().Complete {
		t.Fatalf("our seed is not complete after its check: %+v", tor.Stats())
	}
	return s, tor
}
