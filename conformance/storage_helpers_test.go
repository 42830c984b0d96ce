//go:build interop

package conformance

import (
	"context"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// storageMakeTorrent is run by libtorrent: it creates a torrent over the
// directory argv[1] (relative to its parent), of kind argv[2] (v1, v2,
// hybrid) with piece length argv[3], and writes it to argv[4].
const storageMakeTorrent = `
import os, sys, libtorrent as lt
src, kind, pl, out = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
flags = {"v1": lt.create_torrent.v1_only, "v2": lt.create_torrent.v2_only, "hybrid": 0}[kind]
fs = lt.file_storage()
lt.add_files(fs, src)
ct = lt.create_torrent(fs, pl, flags)
lt.set_piece_hashes(ct, os.path.dirname(src))
open(out, "wb").write(lt.bencode(ct.generate()))
`

// storageCheck is run by libtorrent: it adds the torrent argv[1] with
// save path argv[2], lets it check the files already there, and prints
// the pieces it found good as a string of 0s and 1s.
const storageCheck = `
import sys, time, libtorrent as lt
tor, save, port = sys.argv[1], sys.argv[2], sys.argv[3]
s = lt.session({"listen_interfaces": "127.0.0.1:" + port, "enable_dht": False, "enable_lsd": False,
                "enable_upnp": False, "enable_natpmp": False, "dht_bootstrap_nodes": "",
                "alert_mask": lt.alert.category_t.status_notification | lt.alert.category_t.error_notification})
atp = lt.add_torrent_params()
atp.ti = lt.torrent_info(tor)
atp.save_path = save
atp.flags &= ~(lt.torrent_flags.auto_managed | lt.torrent_flags.paused)
atp.flags |= lt.torrent_flags.upload_mode
h = s.add_torrent(atp)
deadline = time.time() + 60
checked = False
while time.time() < deadline and not checked:
    s.wait_for_alert(500)
    for a in s.pop_alerts():
        if isinstance(a, lt.torrent_checked_alert):
            checked = True
        elif isinstance(a, lt.torrent_error_alert):
            sys.exit("torrent error: " + a.message())
if not checked:
    sys.exit("libtorrent did not finish checking")
st = h.status(lt.status_flags_t.query_pieces)
print("".join("1" if p else "0" for p in st.pieces))
`

// storageWriteTree writes files of the given sizes under dir with
// deterministic random content.
func storageWriteTree(t *testing.T, dir string, files map[string]int, seed uint64) {
	t.Helper()
	r := rand.New(rand.NewPCG(seed, 7))
	for name, n := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(r.Uint32())
		}
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// storageLibtorrentPieces asks libtorrent which pieces of torrentPath it
// finds good in saveDir.
func storageLibtorrentPieces(t *testing.T, torrentPath, saveDir string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	out := runPython(t, ctx, storageCheck, torrentPath, saveDir, strconv.Itoa(freePort(t, "tcp")))
	return strings.TrimSpace(string(out))
}

// storageAria2Complete reports whether aria2 finds every piece of the v1
// torrent at torrentPath complete in saveDir (-V checks the files; with
// no peers it exits 0 only if nothing is missing).
func storageAria2Complete(t *testing.T, torrentPath, saveDir string) bool {
	t.Helper()
	requireBinary(t, "aria2c")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "aria2c", "--enable-dht=false", "--enable-dht6=false",
		"--bt-enable-lpd=false", "--enable-peer-exchange=false", "--listen-port="+strconv.Itoa(freePort(t, "tcp")),
		"--seed-time=0", "--file-allocation=none", "--summary-interval=0", "--bt-stop-timeout=3",
		"--console-log-level=warn", "-V", "-d", saveDir, torrentPath)
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	out, err := cmd.CombinedOutput()
	if ctx.Err() != nil {
		t.Fatalf("aria2c did not finish: %s", tail(string(out), 2000))
	}
	if err != nil {
		t.Logf("aria2c: %v\n%s", err, tail(string(out), 2000))
	}
	return err == nil
}
