//go:build interop

package conformance

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bittern/bittern/metainfo"
	"github.com/bittern/bittern/tracker"
)

// startOpentracker runs opentracker on loopback serving the given
// info-hashes (its Debian build only tracks whitelisted ones) and returns
// its HTTP and UDP announce URLs once it answers.
func startOpentracker(t *testing.T, hashes ...metainfo.Hash) (httpURL, udpURL string) {
	t.Helper()
	dir := t.TempDir()
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	var list []byte
	for _, h := range hashes {
		list = append(list, h.String()+"\n"...)
	}
	if err := os.WriteFile(filepath.Join(dir, "whitelist.txt"), list, 0o644); err != nil {
		t.Fatal(err)
	}
	hp, up := freePort(t, "tcp"), freePort(t, "udp")
	p := startProc(t, "opentracker", "-i", "127.0.0.1", "-p", strconv.Itoa(hp), "-P", strconv.Itoa(up),
		"-d", dir, "-w", "/whitelist.txt", "-A", "127.0.0.1")
	httpURL = fmt.Sprintf("http://127.0.0.1:%d/announce", hp)
	udpURL = fmt.Sprintf("udp://127.0.0.1:%d/announce", up) // with BEP 41 URL data
	waitFor(t, 10*time.Second, "opentracker to answer", func() bool {
		select {
		case <-p.done:
			t.Fatalf("opentracker exited: %v\n%s", p.err, p.Log())
		default:
		}
		resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/stats", hp))
		if err != nil {
			return false
		}
		resp.Body.Close()
		return true
	})
	return httpURL, udpURL
}

// ourTracker runs a tracker.Server on loopback HTTP and UDP until the test
// ends.
type ourTracker struct {
	srv     *tracker.Server
	httpURL string
	udpURL  string
}

func startOurTracker(t *testing.T, cfg *tracker.ServerConfig) *ourTracker {
	return startOurTrackerOn(t, cfg, "127.0.0.1")
}

// startOurTrackerOn is startOurTracker on the given loopback host
// ("127.0.0.1" or "::1").
func startOurTrackerOn(t *testing.T, cfg *tracker.ServerConfig, host string) *ourTracker {
	t.Helper()
	srv := tracker.NewServer(cfg)
	ln, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
	if err != nil {
		t.Fatal(err)
	}
	pc, err := net.ListenPacket("udp", net.JoinHostPort(host, "0"))
	if err != nil {
		t.Fatal(err)
	}
	hs := &http.Server{Handler: srv, ReadHeaderTimeout: 10 * time.Second}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() { _ = hs.Serve(ln) })
	wg.Go(func() { _ = srv.ServeUDP(ctx, pc) })
	t.Cleanup(func() {
		cancel()
		_ = hs.Close()
		wg.Wait()
		_ = pc.Close()
	})
	return &ourTracker{
		srv:     srv,
		httpURL: "http://" + ln.Addr().String() + "/announce",
		udpURL:  "udp://" + pc.LocalAddr().String() + "/announce",
	}
}

// ltTrackerCommon creates a v1 torrent over random data announcing to a
// given URL, and makes loopback sessions without DHT, LSD or PEX, so peers
// can only come from the tracker.
const ltTrackerCommon = `
import sys, os, json, time, libtorrent as lt

def make_torrent(work, url, size):
    seed_dir = os.path.join(work, 'seed')
    os.makedirs(seed_dir, exist_ok=True)
    with open(os.path.join(seed_dir, 'payload.bin'), 'wb') as f:
        f.write(os.urandom(size))
    fs = lt.file_storage()
    lt.add_files(fs, os.path.join(seed_dir, 'payload.bin'))
    ct = lt.create_torrent(fs, 64 * 1024, lt.create_torrent.v1_only)
    ct.add_tracker(url)
    lt.set_piece_hashes(ct, seed_dir)
    path = os.path.join(work, 'swarm.torrent')
    with open(path, 'wb') as f:
        f.write(lt.bencode(ct.generate()))
    return path, seed_dir

HOST = os.environ.get('LT_HOST', '127.0.0.1')

def session(port):
    s = lt.session({
        'listen_interfaces': ('[%s]:%d' if ':' in HOST else '%s:%d') % (HOST, port),
        'enable_dht': False, 'enable_lsd': False, 'enable_upnp': False, 'enable_natpmp': False,
        'dht_bootstrap_nodes': '', 'allow_multiple_connections_per_ip': True,
        'ssrf_mitigation': False, 'enable_outgoing_utp': False, 'enable_incoming_utp': False,
        'announce_to_all_trackers': True,
        'alert_mask': lt.alert.category_t.error_notification | lt.alert.category_t.tracker_notification
                      | lt.alert.category_t.status_notification,
    }, 0)
    return s

replies = {}
def pump(name, ses):
    for a in ses.pop_alerts():
        if isinstance(a, lt.tracker_reply_alert):
            replies[name] = replies.get(name, 0) + 1
        elif isinstance(a, (lt.tracker_error_alert, lt.tracker_warning_alert)):
            print('%s: %s' % (name, a.message()), file=sys.stderr, flush=True)

def wait(cond, deadline, what, sessions):
    while not cond():
        for n, s in sessions.items():
            pump(n, s)
        if time.time() > deadline:
            raise SystemExit('timed out waiting for ' + what + ' ' + json.dumps(replies))
        time.sleep(0.05)
`

// ltSwarmScript: args work-dir tracker-url seed-port leech-port size
// timeout. A libtorrent seeder and a separate libtorrent leecher session
// find each other only through the tracker; prints a JSON summary.
const ltSwarmScript = ltTrackerCommon + `
work, url = sys.argv[1], sys.argv[2]
sp, lp, size, timeout = int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]), float(sys.argv[6])
deadline = time.time() + timeout
tpath, seed_dir = make_torrent(work, url, size)
leech_dir = os.path.join(work, 'leech')
os.makedirs(leech_dir, exist_ok=True)
seeder, leecher = session(sp), session(lp)
sessions = {'seeder': seeder, 'leecher': leecher}
hs = seeder.add_torrent({'ti': lt.torrent_info(tpath), 'save_path': seed_dir})
wait(lambda: hs.status().is_seeding and replies.get('seeder', 0) > 0, deadline, 'seeder to announce', sessions)
hl = leecher.add_torrent({'ti': lt.torrent_info(tpath), 'save_path': leech_dir})
wait(lambda: hl.status().is_seeding, deadline, 'leecher to complete', sessions)
# The leecher's tracker reply may still be queued as an alert.
wait(lambda: replies.get('leecher', 0) > 0, deadline, 'the leecher tracker reply alert', sessions)
st = hl.status()
print(json.dumps({'info_hash': str(lt.torrent_info(tpath).info_hashes().v1), 'replies': replies,
                  'downloaded': st.total_payload_download, 'num_peers_seen': st.list_peers}))
`

// ltSeederScript: args work-dir tracker-url port size timeout. Seeds a new
// torrent and prints "READY path info-hash" once the tracker has answered,
// then keeps seeding until killed or timeout.
const ltSeederScript = ltTrackerCommon + `
work, url = sys.argv[1], sys.argv[2]
port, size, timeout = int(sys.argv[3]), int(sys.argv[4]), float(sys.argv[5])
deadline = time.time() + timeout
tpath, seed_dir = make_torrent(work, url, size)
seeder = session(port)
hs = seeder.add_torrent({'ti': lt.torrent_info(tpath), 'save_path': seed_dir})
wait(lambda: hs.status().is_seeding and replies.get('seeder', 0) > 0, deadline, 'seeder to announce', {'seeder': seeder})
print('READY %s %s' % (tpath, lt.torrent_info(tpath).info_hashes().v1), flush=True)
while time.time() < deadline:
    pump('seeder', seeder)
    time.sleep(0.1)
`

func errorsAs(err error, target any) bool { return errors.As(err, target) }

// ltMakeTorrentScript: args work-dir tracker-url size. Creates the torrent
// and its data under work-dir/seed and prints the .torrent path.
const ltMakeTorrentScript = ltTrackerCommon + `
path, _ = make_torrent(sys.argv[1], sys.argv[2], int(sys.argv[3]))
print(path)
`

// ltLeechScript: args torrent save-dir port timeout. Downloads the torrent
// with peers from its tracker only; prints a JSON summary when complete.
const ltLeechScript = ltTrackerCommon + `
tpath, save, port, timeout = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4])
deadline = time.time() + timeout
leecher = session(port)
h = leecher.add_torrent({'ti': lt.torrent_info(tpath), 'save_path': save})
last = [time.time()]
def done():
    st = h.status()
    if st.is_seeding:
        return True
    # Ask the tracker again every 3 s until a peer is found.
    if st.num_peers == 0 and time.time() - last[0] > 3:
        last[0] = time.time()
        h.force_reannounce()
    return False
wait(done, deadline, 'leecher to complete', {'leecher': leecher})
print(json.dumps({'replies': replies, 'downloaded': h.status().total_payload_download}))
`

// startTransmission runs transmission-daemon on loopback and returns its
// RPC address (for transmission-remote) and peer port.
func startTransmission(t *testing.T) (rpc string, peerPort int) {
	t.Helper()
	dir := t.TempDir()
	peerPort, rpcPort := freePort(t, "tcp"), freePort(t, "tcp")
	settings := map[string]any{
		"bind-address-ipv4": "127.0.0.1", "bind-address-ipv6": "::1",
		"peer-port": peerPort, "peer-port-random-on-start": false, "port-forwarding-enabled": false,
		"dht-enabled": false, "lpd-enabled": false, "pex-enabled": false, "utp-enabled": false,
		"rpc-bind-address": "127.0.0.1", "rpc-port": rpcPort, "rpc-authentication-required": false,
		"rpc-whitelist": "127.0.0.1,::1", "rpc-host-whitelist-enabled": false,
		"ratio-limit-enabled": false, "encryption": 0, "download-dir": filepath.Join(dir, "dl"),
	}
	b, _ := json.Marshal(settings)
	if err := os.WriteFile(filepath.Join(dir, "settings.json"), b, 0o644); err != nil {
		t.Fatal(err)
	}
	startProc(t, "transmission-daemon", "-f", "-g", dir)
	rpc = "127.0.0.1:" + strconv.Itoa(rpcPort)
	waitFor(t, 15*time.Second, "transmission RPC", func() bool {
		return runQuiet(5*time.Second, "transmission-remote", rpc, "-l") == nil
	})
	return rpc, peerPort
}

// webtorrentTrackerVersion pins webtorrent's bittorrent-tracker, a second
// independent tracker (Node.js). It is installed with npm on first use, into
// a cache directory, with install scripts off: its optional WebRTC native
// module is not needed for the HTTP and UDP server.
const webtorrentTrackerVersion = "11.2.3"

// webtorrentTrackerScript: args http-port udp-port. Serves HTTP on
// 127.0.0.1, UDP on 127.0.0.1 and ::1 (same port), and prints LISTENING.
const webtorrentTrackerScript = `
import Server from 'bittorrent-tracker/server'
const [httpPort, udpPort] = process.argv.slice(2).map(Number)
const server = new Server({ udp: true, http: true, ws: false, stats: false })
server.on('error', e => { console.error('ERR', e.message); process.exit(1) })
server.on('warning', e => console.error('WARN', e.message))
server.on('listening', () => console.log('LISTENING'))
server.listen({ http: httpPort, udp: udpPort }, { http: '127.0.0.1', udp: '127.0.0.1', udp6: '::1' })
`

// installWebtorrentTracker returns a directory whose node_modules holds
// bittorrent-tracker, installing it if needed.
func installWebtorrentTracker(t *testing.T) string {
	t.Helper()
	requireBinary(t, "node")
	requireBinary(t, "npm")
	cache, err := os.UserCacheDir()
	if err != nil {
		cache = os.TempDir()
	}
	dir := filepath.Join(cache, "bittern-conformance", "bittorrent-tracker-"+webtorrentTrackerVersion)
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "bittorrent-tracker", "server.js")); err == nil {
		return dir
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "npm", "install", "--no-audit", "--no-fund", "--ignore-scripts",
		"--prefix", dir, "bittorrent-tracker@"+webtorrentTrackerVersion)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("npm install bittorrent-tracker@%s: %v\n%s", webtorrentTrackerVersion, err, tail(string(out), 3000))
	}
	return dir
}

// startWebtorrentTracker runs bittorrent-tracker and returns its announce
// URLs once it listens.
func startWebtorrentTracker(t *testing.T) (httpURL, udp4URL, udp6URL string) {
	t.Helper()
	dir := installWebtorrentTracker(t)
	script := filepath.Join(dir, "serve.mjs")
	if err := os.WriteFile(script, []byte(webtorrentTrackerScript), 0o644); err != nil {
		t.Fatal(err)
	}
	hp := freePort(t, "tcp")
	up := freeUDPPortBoth(t)
	p := startProc(t, "node", script, strconv.Itoa(hp), strconv.Itoa(up))
	waitFor(t, 20*time.Second, "bittorrent-tracker to listen", func() bool {
		select {
		case <-p.done:
			t.Fatalf("bittorrent-tracker exited: %v\n%s", p.err, p.Log())
		default:
		}
		return strings.Contains(p.Log(), "LISTENING")
	})
	return fmt.Sprintf("http://127.0.0.1:%d/announce", hp),
		fmt.Sprintf("udp://127.0.0.1:%d", up), fmt.Sprintf("udp://[::1]:%d", up)
}

// freeUDPPortBoth returns a UDP port free on both 127.0.0.1 and ::1.
func freeUDPPortBoth(t *testing.T) int {
	t.Helper()
	for range 20 {
		p := freePort(t, "udp")
		c, err := net.ListenPacket("udp6", fmt.Sprintf("[::1]:%d", p))
		if err == nil {
			c.Close()
			return p
		}
	}
	t.Fatal("no UDP port free on both 127.0.0.1 and ::1")
	return 0
}
