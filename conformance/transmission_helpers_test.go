//go:build interop

package conformance

import (
	"encoding/json"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Transmission's "encryption" setting.
const (
	trPreferPlaintext  = 0
	trPreferEncrypted  = 1
	trRequireEncrypted = 2
)

// trDaemon is a transmission-daemon on loopback, driven through
// transmission-remote. Transmission never dials 127.0.0.0/8 peers, so a
// test connects our side to its peer port.
type trDaemon struct {
	proc *proc
	rpc  string         // host:port for transmission-remote
	peer netip.AddrPort // its peer port on 127.0.0.1
}

// trStart runs transmission-daemon under dir with the given encryption
// setting (trPreferPlaintext …) and PEX on or off, and waits for its RPC.
// DHT, LPD, uTP and port forwarding are off; more settings.json entries
// may be given in extra.
func trStart(t *testing.T, dir string, encryption int, pex bool, extra map[string]any) *trDaemon {
	t.Helper()
	requireBinary(t, "transmission-remote")
	conf := filepath.Join(dir, "config")
	if err := os.MkdirAll(conf, 0o755); err != nil {
		t.Fatal(err)
	}
	peerPort, rpcPort := freePort(t, "tcp"), freePort(t, "tcp")
	settings := map[string]any{
		"bind-address-ipv4": "127.0.0.1", "bind-address-ipv6": "::1",
		"peer-port": peerPort, "peer-port-random-on-start": false, "port-forwarding-enabled": false,
		"dht-enabled": false, "lpd-enabled": false, "pex-enabled": pex, "utp-enabled": false,
		"rpc-bind-address": "127.0.0.1", "rpc-port": rpcPort, "rpc-authentication-required": false,
		"rpc-whitelist": "127.0.0.1,::1", "rpc-whitelist-enabled": true, "rpc-host-whitelist-enabled": false,
		"ratio-limit-enabled": false, "encryption": encryption, "download-dir": filepath.Join(dir, "downloads"),
		"incomplete-dir-enabled": false, "message-level": 2,
	}
	for k, v := range extra {
		settings[k] = v
	}
	b, err := json.Marshal(settings)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(conf, "settings.json"), b, 0o644); err != nil {
		t.Fatal(err)
	}
	d := &trDaemon{
		proc: startProc(t, "transmission-daemon", "-f", "-g", conf),
		rpc:  fmt.Sprintf("127.0.0.1:%d", rpcPort),
		peer: netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), uint16(peerPort)),
	}
	waitFor(t, 30*time.Second, "transmission's RPC", func() bool {
		_, err := d.remote("-l")
		return err == nil
	})
	return d
}

// remote runs transmission-remote against the daemon, for at most 10 s.
func (d *trDaemon) remote(args ...string) (string, error) {
	out, err := runBounded(10*time.Second, "transmission-remote", append([]string{d.rpc}, args...)...)
	return string(out), err
}

// seed adds torrent with its data under saveDir and waits until
// Transmission has verified all of it.
func (d *trDaemon) seed(t *testing.T, torrent, saveDir string) {
	t.Helper()
	if out, err := d.remote("-a", torrent, "-w", saveDir); err != nil {
		t.Fatalf("transmission-remote -a: %v\n%s", err, out)
	}
	waitFor(t, 60*time.Second, "transmission to verify its data", func() bool {
		out, err := d.remote("-t", "1", "-i")
		return err == nil && strings.Contains(out, "Percent Done: 100%")
	})
}

// info is transmission-remote's description of its first torrent and its
// peer list, for failure messages.
func (d *trDaemon) info() string {
	out, err := d.remote("-t", "1", "-i", "-pi")
	if err != nil {
		return fmt.Sprintf("transmission-remote: %v\n%s", err, out)
	}
	return out
}
