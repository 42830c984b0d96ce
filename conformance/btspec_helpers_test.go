//go:build interop

package conformance

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/bittern/bittern"
	"github.com/bittern/bittern/examples/btspec/spec"
	"github.com/bittern/bittern/metainfo"
)

// btspecExpect is what an independent client is known to do on a case it
// does not pass, with the reason; every case not listed must pass.
type btspecExpect struct {
	result spec.Result
	reason string
}

// btspecRun runs every btspec case against the peer at addr seeding
// torrent, and checks each result against expect.
func btspecRun(t *testing.T, addr, torrent string, timeout time.Duration, expect map[string]btspecExpect) {
	t.Helper()
	mi, err := metainfo.LoadFile(torrent)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	target := &spec.Target{Addr: addr, MetaInfo: mi, Timeout: timeout, Quiet: 3 * time.Second}
	rep, err := spec.Run(ctx, target, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Cases) != len(spec.Cases()) {
		t.Fatalf("%d results for %d cases", len(rep.Cases), len(spec.Cases()))
	}
	for _, c := range rep.Cases {
		t.Logf("%-4s %-4s [%s] %s: %s", c.ID, c.Result, c.BEP, c.Title, c.Detail)
		want := btspecExpect{result: spec.Pass}
		if e, ok := expect[c.ID]; ok {
			want = e
		}
		if c.Result != want.result {
			t.Errorf("case %s (%s): %s, expected %s %s; detail: %s", c.ID, c.Title, c.Result, want.result, want.reason, c.Detail)
		}
	}
}

// btspecTorrent writes deterministic data under dir/seed and a v1
// torrent of it made by libtorrent (11 pieces of 32 KiB, the last short,
// so the bitfield has spare bits).
func btspecTorrent(t *testing.T, dir string) (seedDir, torrent string) {
	t.Helper()
	_, seedDir, torrent = peerwirePrepareTorrent(t, dir)
	return seedDir, torrent
}

// btspecLibtorrent starts libtorrent seeding torrent and returns its
// address.
func btspecLibtorrent(t *testing.T, torrent, seedDir string) string {
	t.Helper()
	port := freePort(t, "tcp")
	p := startPython(t, sessionLTSeed, torrent, seedDir, fmt.Sprint(port), "900")
	waitFor(t, 60*time.Second, "libtorrent to seed", func() bool { return strings.Contains(p.Log(), "seeding") })
	return fmt.Sprintf("127.0.0.1:%d", port)
}

// btspecTransmission starts transmission-daemon seeding torrent and
// returns its peer address.
func btspecTransmission(t *testing.T, dir, torrent, seedDir string) string {
	t.Helper()
	requireBinary(t, "transmission-remote")
	peerPort, rpcPort := freePort(t, "tcp"), freePort(t, "tcp")
	sessionStartTransmission(t, filepath.Join(dir, "transmission"), peerPort, rpcPort)
	rpc := fmt.Sprintf("127.0.0.1:%d", rpcPort)
	if out, err := runBounded(10*time.Second, "transmission-remote", rpc, "-a", torrent, "-w", seedDir); err != nil {
		t.Fatalf("adding the torrent: %v\n%s", err, out)
	}
	waitFor(t, 60*time.Second, "transmission to verify the data", func() bool { return sessionTransmissionDone(t, rpcPort) })
	return fmt.Sprintf("127.0.0.1:%d", peerPort)
}

// btspecAria2 starts aria2 seeding torrent and returns its address once
// it listens.
func btspecAria2(t *testing.T, torrent, seedDir string) string {
	t.Helper()
	requireBinary(t, "aria2c")
	port := freePort(t, "tcp")
	startProc(t, "aria2c", "--enable-dht=false", "--enable-dht6=false", "--bt-enable-lpd=false",
		"--enable-peer-exchange=false", fmt.Sprintf("--listen-port=%d", port), "-V", "--seed-ratio=0.0",
		"--file-allocation=none", "--summary-interval=0", "--console-log-level=notice",
		"--bt-seed-unverified=false", "-d", seedDir, torrent)
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	waitFor(t, 60*time.Second, "aria2's listen port", func() bool {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err != nil {
			return false
		}
		c.Close()
		return true
	})
	return addr
}

// btspecBittern starts a bittern Session seeding torrent and returns its
// address.
func btspecBittern(t *testing.T, torrent, seedDir string) string {
	t.Helper()
	mi, err := metainfo.LoadFile(torrent)
	if err != nil {
		t.Fatal(err)
	}
	s, _ := seedingSession(t, &bittern.Config{ListenAddr: "127.0.0.1:0", DataDir: seedDir}, mi)
	if _, err := os.Stat(seedDir); err != nil {
		t.Fatal(err)
	}
	return s.Addr().String()
}
