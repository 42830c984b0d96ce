//go:build interop

package conformance

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/bittern/bittern"
	"github.com/bittern/bittern/metainfo"
)

// pexLTPair is run by libtorrent: a seed S on port argv[4] (upload limited
// to argv[6] bytes/s so leechers stay leechers) and, in a second session, a
// leecher L on port argv[5] that connects to S. Both sessions load only
// the ut_metadata and ut_pex plugins. It prints "ready" once S has sent L
// data, then serves for at most argv[7] seconds. argv[1] is the
// torrent, argv[2] S's save path, argv[3] L's.
const pexLTPair = `
import sys, time, libtorrent as lt
tor, sdir, ldir = sys.argv[1], sys.argv[2], sys.argv[3]
sport, lport, rate, limit = sys.argv[4], sys.argv[5], int(sys.argv[6]), float(sys.argv[7])
def session(port):
    s = lt.session(` + sessionLTSettings + `, 0)
    s.add_extension("ut_metadata")
    s.add_extension("ut_pex")
    return s
def add(s, save):
    atp = lt.add_torrent_params()
    atp.ti = lt.torrent_info(tor)
    atp.save_path = save
    atp.flags &= ~(lt.torrent_flags.auto_managed | lt.torrent_flags.paused)
    h = s.add_torrent(atp)
    h.replace_trackers([])
    return h
S, L = session(sport), session(lport)
hs = add(S, sdir)
hs.set_upload_limit(rate)
hl = add(L, ldir)
deadline = time.time() + limit
ready = False
tried = 0
while time.time() < deadline:
    if hs.status().is_seeding and hl.status().num_peers == 0 and time.time() > tried + 2:
        hl.connect_peer(("127.0.0.1", int(sport)))
        tried = time.time()
    # S lists L in its ut_pex only once it has L's listen port, from L's
    # extended handshake, which L sends before its interested message: so
    # wait until S has uploaded to L.
    if not ready and hl.status().num_peers == 1 and hs.status().total_payload_upload > 0:
        print("ready", flush=True)
        ready = True
    for s in (S, L):
        s.wait_for_alert(100)
        s.pop_alerts()
`

// TestSessionPEXThirdPeerFromLibtorrent: in a swarm of a libtorrent seed
// S, a libtorrent leecher L connected to S, and our session given only S,
// we learn L from S's ut_pex and connect to it. Our session does not
// listen, so every connection it has is one it dialled; libtorrent sends
// its first ut_pex as soon as it has two peers, so this takes seconds.
func TestSessionPEXThirdPeerFromLibtorrent(t *testing.T) {
	dir := t.TempDir()
	sessionWriteFile(t, filepath.Join(dir, "seed", "data.bin"), 8<<20, 90)
	torrent := filepath.Join(dir, "data.torrent")
	mi := sessionBuildV1(t, filepath.Join(dir, "seed", "data.bin"), torrent, 128<<10)
	sPort, lPort := freePort(t, "tcp"), freePort(t, "tcp")
	p := startPython(t, pexLTPair, torrent, filepath.Join(dir, "seed"), filepath.Join(dir, "lt"),
		fmt.Sprint(sPort), fmt.Sprint(lPort), "100000", "60")
	waitFor(t, 30*time.Second, "libtorrent's seed and leecher to connect", func() bool { return strings.Contains(p.Log(), "ready") })

	s, err := bittern.NewSession(&bittern.Config{NoListen: true, DataDir: filepath.Join(dir, "ours")})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	sAddr := netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), uint16(sPort))
	tor, err := s.AddTorrent(ctx, mi, &bittern.TorrentOptions{Peers: []netip.AddrPort{sAddr}})
	if err != nil {
		t.Fatal(err)
	}
	pexWaitThird(t, 20*time.Second, "our session to connect to L, learnt from S's ut_pex", tor)
}

// TestSessionPEXThirdPeerFromAria2: aria2 seeds; two of our sessions, A
// and B, dial it, each from its own loopback address (aria2 leaves out of
// a ut_pex message every peer with the recipient's IP, so on 127.0.0.1
// alone it would send nothing). A, which does not listen and was given
// only aria2, learns B from aria2's ut_pex and connects to it. aria2 sends
// its first ut_pex one minute after a connection is made, so this test
// takes a little over a minute.
func TestSessionPEXThirdPeerFromAria2(t *testing.T) {
	requireBinary(t, "aria2c")
	dir := t.TempDir()
	sessionWriteFile(t, filepath.Join(dir, "seed", "data.bin"), 16<<20, 91)
	torrent := filepath.Join(dir, "data.torrent")
	mi := sessionBuildV1(t, filepath.Join(dir, "seed", "data.bin"), torrent, 128<<10)
	port := freePort(t, "tcp")
	startProc(t, "aria2c", "--enable-dht=false", "--enable-dht6=false", "--bt-enable-lpd=false",
		"--enable-peer-exchange=true", fmt.Sprintf("--listen-port=%d", port), "-V", "--seed-ratio=0.0",
		"--max-upload-limit=100K", "--file-allocation=none", "--summary-interval=0", "--console-log-level=notice",
		"-d", filepath.Join(dir, "seed"), torrent)
	ariaAddr := netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), uint16(port))
	waitFor(t, 30*time.Second, "aria2's listen port", func() bool {
		c, err := net.DialTimeout("tcp", ariaAddr.String(), time.Second)
		if err != nil {
			return false
		}
		c.Close()
		return true
	})

	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Second)
	defer cancel()
	a := pexSession(t, ctx, filepath.Join(dir, "a"), "127.0.0.2", false, mi, ariaAddr)
	// aria2 lists only peers it first met less than a minute before the
	// message, which A gets a minute after connecting: B connects after A.
	waitFor(t, 20*time.Second, "A to connect to aria2", func() bool { return a.Stats().Peers > 0 })
	b := pexSession(t, ctx, filepath.Join(dir, "b"), "127.0.0.3", true, mi, ariaAddr)
	pexWaitThird(t, 90*time.Second, "A to connect to B, learnt from aria2's ut_pex", a)
	t.Logf("B: %+v", b.Stats())
}

// pexWaitThird waits until tor took peers from ut_pex and has two
// connections, failing with its stats after timeout.
func pexWaitThird(t *testing.T, timeout time.Duration, what string, tor *bittern.Torrent) {
	t.Helper()
	for deadline := time.Now().Add(timeout); ; time.Sleep(100 * time.Millisecond) {
		st := tor.Stats()
		if st.PEXPeers > 0 && st.Peers >= 2 {
			t.Logf("ours: %+v", st)
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s; ours: %+v", timeout, what, st)
		}
	}
}

// TestSessionPEXThirdPeerFromTransmission: Transmission seeds (upload
// limited, PEX on); our session B, listening on 127.0.0.3, connects first;
// then A, which does not listen and was given only Transmission, learns B
// from Transmission's first ut_pex (sent right after the extended
// handshake) and connects to it. Each session dials from its own loopback
// address: Transmission keeps one connection per peer IP.
func TestSessionPEXThirdPeerFromTransmission(t *testing.T) {
	dir := t.TempDir()
	sessionWriteFile(t, filepath.Join(dir, "seed", "data.bin"), 16<<20, 92)
	torrent := filepath.Join(dir, "data.torrent")
	mi := sessionBuildV1(t, filepath.Join(dir, "seed", "data.bin"), torrent, 128<<10)
	d := trStart(t, filepath.Join(dir, "tr"), trPreferPlaintext, true, map[string]any{"speed-limit-up": 100, "speed-limit-up-enabled": true})
	d.seed(t, torrent, filepath.Join(dir, "seed"))

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	b := pexSession(t, ctx, filepath.Join(dir, "b"), "127.0.0.3", true, mi, d.peer)
	// B's listen port reaches Transmission in B's extended handshake,
	// which comes with the connection.
	waitFor(t, 20*time.Second, "B to connect to Transmission", func() bool { return b.Stats().Peers > 0 })
	a := pexSession(t, ctx, filepath.Join(dir, "a"), "127.0.0.2", false, mi, d.peer)
	pexWaitThird(t, 30*time.Second, "A to connect to B, learnt from Transmission's ut_pex", a)
}

// pexSession starts a session in dir that dials from the loopback address
// ip (and listens there if listen) and adds mi with the peer given, if
// valid.
func pexSession(t *testing.T, ctx context.Context, dir, ip string, listen bool, mi *metainfo.MetaInfo, peer netip.AddrPort) *bittern.Torrent {
	t.Helper()
	var opts bittern.TorrentOptions
	if peer.IsValid() {
		opts.Peers = []netip.AddrPort{peer}
	}
	_, tor := pexSessionWith(t, ctx, dir, ip, listen, mi, &opts, &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}})
	return tor
}

// pexSessionWith is pexSession with the given torrent options and dialer;
// it also returns the session.
func pexSessionWith(t *testing.T, ctx context.Context, dir, ip string, listen bool, mi *metainfo.MetaInfo, opts *bittern.TorrentOptions, d bittern.Dialer) (*bittern.Session, *bittern.Torrent) {
	t.Helper()
	cfg := &bittern.Config{DataDir: dir, RetryBackoff: time.Second, Dialer: d}
	if listen {
		cfg.ListenAddr = ip + ":0"
	} else {
		cfg.NoListen = true
	}
	s, err := bittern.NewSession(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	tor, err := s.AddTorrent(ctx, mi, opts)
	if err != nil {
		t.Fatal(err)
	}
	return s, tor
}

// onlyDialer dials from from, and only to. Other addresses fail at once.
type onlyDialer struct {
	from netip.Addr
	to   netip.AddrPort
}

func (o onlyDialer) DialContext(ctx context.Context, network, address string) (net.Conn, error) {
	if address != o.to.String() {
		return nil, fmt.Errorf("test dialer: %s is not %s", address, o.to)
	}
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: o.from.AsSlice()}}
	return d.DialContext(ctx, network, address)
}

// TestSessionPEXSendToAria2: our seed A (127.0.0.2) has our leecher B
// (listening on 127.0.0.3) connected, then dials an aria2 leecher, which
// is given no peer at all (no tracker, DHT or LPD). B dials only A and A
// only aria2, so a second connection of B's is aria2 dialling it, which it
// can only do from the ut_pex message A sends it.
func TestSessionPEXSendToAria2(t *testing.T) {
	requireBinary(t, "aria2c")
	dir := t.TempDir()
	sessionWriteFile(t, filepath.Join(dir, "a", "pack", "1.bin"), 8<<20, 93)
	sessionWriteFile(t, filepath.Join(dir, "a", "pack", "2.bin"), 8<<20, 94)
	torrent := filepath.Join(dir, "pack.torrent")
	mi := sessionBuildV1(t, filepath.Join(dir, "a", "pack"), torrent, 128<<10)

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	// A dials nobody but aria2, whose port is chosen now (it starts later).
	port := freePort(t, "tcp")
	ariaAddr := netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), uint16(port))
	as, a := pexSessionWith(t, ctx, filepath.Join(dir, "a"), "127.0.0.2", true, mi, &bittern.TorrentOptions{},
		onlyDialer{from: netip.MustParseAddr("127.0.0.2"), to: ariaAddr})
	if !a.Stats().Complete {
		t.Fatalf("A is not complete after its check: %+v", a.Stats())
	}
	aAddr := as.Addr().(*net.TCPAddr).AddrPort()
	// B dials A only: A's ut_pex soon names aria2 to B as well, and B
	// dialling aria2 would hide whether aria2 dials B. B downloads at
	// 256 KiB/s, so that it stays a leecher for the whole test and A keeps
	// its connection (two seeds part, and so do a seed and a partial seed:
	// BEP 21).
	_, b := pexSessionWith(t, ctx, filepath.Join(dir, "b"), "127.0.0.3", true, mi,
		&bittern.TorrentOptions{Peers: []netip.AddrPort{aAddr}, DownloadRateLimit: 256 << 10},
		onlyDialer{from: netip.MustParseAddr("127.0.0.3"), to: aAddr})
	waitFor(t, 20*time.Second, "B to connect to A", func() bool { return b.Stats().Peers > 0 })

	startProc(t, "aria2c", "--enable-dht=false", "--enable-dht6=false", "--bt-enable-lpd=false",
		"--enable-peer-exchange=true", fmt.Sprintf("--listen-port=%d", port), "--seed-time=0",
		"--max-download-limit=200K", "--file-allocation=none", "--summary-interval=0", "--console-log-level=notice",
		"-d", filepath.Join(dir, "aria2"), torrent)
	waitFor(t, 30*time.Second, "aria2's listen port", func() bool {
		c, err := net.DialTimeout("tcp", ariaAddr.String(), time.Second)
		if err != nil {
			return false
		}
		c.Close()
		return true
	})
	a.AddPeers(ariaAddr)
	// B dials nobody but A and A nobody but aria2, so B's second peer is
	// aria2 dialling it.
	for deadline := time.Now().Add(30 * time.Second); b.Stats().Peers < 2; time.Sleep(100 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("aria2 did not connect to B, which only our ut_pex names; A %+v, B %+v", a.Stats(), b.Stats())
		}
	}
	t.Logf("A: %+v", a.Stats())
	t.Logf("B: %+v", b.Stats())
}
