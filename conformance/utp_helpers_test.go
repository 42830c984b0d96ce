//go:build interop

package conformance

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"testing"
	"time"

	"github.com/bittern/bittern/utp"
)

// utpPeer is run by libtorrent with TCP off and uTP on, on
// 127.0.0.1:argv[3]. It makes a v1 torrent of argv[2]/data.bin with
// 256 KiB pieces. argv[1] "seed" seeds it from argv[2]; "leech" downloads
// it into argv[2]/out from the peer 127.0.0.1:argv[4], which it adds with
// connect_peer, and prints "DONE" once it has every piece (libtorrent
// checks each piece's hash). Both print "READY <info-hash> <pieces>"
// first, then alerts.
const utpPeer = `
import sys, time, libtorrent as lt
mode, d, port, peer = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
fs = lt.file_storage()
lt.add_files(fs, d + "/data.bin")
ct = lt.create_torrent(fs, 262144, lt.create_torrent.v1_only)
lt.set_piece_hashes(ct, d)
ti = lt.torrent_info(ct.generate())
s = lt.session({"listen_interfaces": "127.0.0.1:" + port, "enable_dht": False, "enable_lsd": False,
                "enable_upnp": False, "enable_natpmp": False, "dht_bootstrap_nodes": "",
                "allow_multiple_connections_per_ip": True,
                "enable_outgoing_tcp": False, "enable_incoming_tcp": False,
                "enable_outgoing_utp": True, "enable_incoming_utp": True,
                "out_enc_policy": lt.enc_policy.disabled, "in_enc_policy": lt.enc_policy.disabled,
                "alert_mask": lt.alert.category_t.status_notification | lt.alert.category_t.error_notification | lt.alert.category_t.peer_notification | lt.alert.category_t.connect_notification})
atp = lt.add_torrent_params()
atp.ti = ti
atp.save_path = d if mode == "seed" else d + "/out"
atp.flags &= ~(lt.torrent_flags.auto_managed | lt.torrent_flags.paused)
h = s.add_torrent(atp)
end = time.time() + 60
if mode == "seed":
    while time.time() < end and not h.status().is_seeding:
        s.wait_for_alert(200)
        for a in s.pop_alerts():
            if isinstance(a, lt.torrent_error_alert):
                sys.exit("torrent error: " + a.message())
    if not h.status().is_seeding:
        sys.exit("not seeding")
print("READY", str(ti.info_hashes().v1)[:40], ti.num_pieces(), flush=True)
if mode == "leech":
    h.connect_peer(("127.0.0.1", peer))
done = False
end = time.time() + 90
while time.time() < end:
    s.wait_for_alert(200)
    for a in s.pop_alerts():
        print(a.what(), a.message(), flush=True)
    st = h.status()
    if mode == "leech" and not done and st.is_seeding:
        done = True
        print("DONE", st.total_payload_download, flush=True)
`

// utpLT is a libtorrent peer started for a uTP test.
type utpLT struct {
	proc      *proc
	port      int
	dir       string
	data      []byte
	infoHash  [20]byte
	numPieces int
}

const utpPieceLen = 256 << 10

var utpReadyRE = regexp.MustCompile(`READY ([0-9a-f]{40}) (\d+)`)

// startUTPPeer writes size random bytes to data.bin and starts libtorrent
// in mode "seed" or "leech" (from 127.0.0.1:peerPort).
func startUTPPeer(t *testing.T, mode string, size, peerPort int) *utpLT {
	t.Helper()
	p := &utpLT{dir: t.TempDir(), port: freePort(t, "udp"), data: make([]byte, size)}
	rand.Read(p.data)
	pwMust(t, os.WriteFile(filepath.Join(p.dir, "data.bin"), p.data, 0o644))
	if mode == "leech" {
		pwMust(t, os.MkdirAll(filepath.Join(p.dir, "out"), 0o755))
	}
	p.proc = startPython(t, utpPeer, mode, p.dir, strconv.Itoa(p.port), strconv.Itoa(peerPort))
	var m []string
	waitFor(t, 60*time.Second, "libtorrent READY", func() bool {
		m = utpReadyRE.FindStringSubmatch(p.proc.Log())
		return m != nil
	})
	ih, err := hex.DecodeString(m[1])
	pwMust(t, err)
	copy(p.infoHash[:], ih)
	p.numPieces, err = strconv.Atoi(m[2])
	pwMust(t, err)
	return p
}

// newUTPSocket is a uTP socket on a fresh UDP port of 127.0.0.1, closed at
// cleanup.
func newUTPSocket(t *testing.T) *utp.Socket {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	pwMust(t, err)
	s := utp.NewSocket(pc, nil)
	t.Cleanup(func() { s.Close() })
	return s
}

// boundedContext is a context that ends after d, cancelled at cleanup.
func boundedContext(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}
