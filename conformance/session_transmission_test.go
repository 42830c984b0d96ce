//go:build interop

package conformance

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bittern/bittern"
	"github.com/bittern/bittern/metainfo"
)

// trTree writes a small multi-file tree under root/name (a tiny file, a
// file in a subdirectory, lengths that are no multiple of the piece
// length) and returns the contents by slash path.
func trTree(t *testing.T, root, name string, seed uint64) map[string][]byte {
	t.Helper()
	files := map[string]int{"a.bin": 1<<20 + 77, "sub/b.bin": 1, "sub/c.bin": 2<<20 - 5, "d.txt": 33333}
	out := map[string][]byte{}
	for f, n := range files {
		out[f] = sessionWriteFile(t, filepath.Join(root, name, filepath.FromSlash(f)), n, seed)
		seed++
	}
	return out
}

// trCheckTree compares the files under root/name with want.
func trCheckTree(t *testing.T, root, name string, want map[string][]byte) {
	t.Helper()
	for f, b := range want {
		got, err := os.ReadFile(filepath.Join(root, name, filepath.FromSlash(f)))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, b) {
			t.Errorf("%s differs (%d bytes, want %d)", f, len(got), len(b))
		}
	}
}

// trLeech adds mi to a new session with the given policy, dials
// Transmission from the loopback address from (Transmission keeps one
// connection per peer IP, so concurrent sessions need their own) and
// returns the torrent; encrypted is set once an encrypted peer is seen.
func trLeech(t *testing.T, ctx context.Context, dir, from string, enc bittern.Encryption, mi *metainfo.MetaInfo, d *trDaemon, encrypted *atomic.Bool) *bittern.Torrent {
	t.Helper()
	// NoListen: Transmission never dials loopback anyway, and every
	// connection is then one we made.
	s, err := bittern.NewSession(&bittern.Config{
		NoListen: true, DataDir: dir, Encryption: enc, RetryBackoff: time.Second,
		Dialer: &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(from)}},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	tor, err := s.AddTorrent(ctx, mi, nil)
	if err != nil {
		t.Fatal(err)
	}
	tor.AddPeers(d.peer)
	go func() {
		for ctx.Err() == nil {
			if tor.Stats().EncryptedPeers > 0 {
				encrypted.Store(true)
			}
			select {
			case <-ctx.Done():
			case <-tor.Complete():
				return
			case <-time.After(5 * time.Millisecond):
			}
		}
	}()
	return tor
}

// TestSessionLeechFromTransmission: Transmission seeds a multi-file v1
// torrent (plaintext preferred); our session dials its peer port and
// downloads; the bytes are compared.
func TestSessionLeechFromTransmission(t *testing.T) {
	dir := t.TempDir()
	want := trTree(t, filepath.Join(dir, "seed"), "tree", 60)
	torrent := filepath.Join(dir, "tree.torrent")
	mi := sessionBuildV1(t, filepath.Join(dir, "seed", "tree"), torrent, 64<<10)
	d := trStart(t, filepath.Join(dir, "tr"), trPreferPlaintext, false, nil)
	d.seed(t, torrent, filepath.Join(dir, "seed"))

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var encrypted atomic.Bool
	tor := trLeech(t, ctx, filepath.Join(dir, "leech"), "127.0.0.1", bittern.EncryptionAccept, mi, d, &encrypted)
	if err := tor.Wait(ctx); err != nil {
		t.Fatalf("wait: %v; stats %+v\n%s", err, tor.Stats(), d.info())
	}
	st := tor.Stats()
	trCheckTree(t, filepath.Join(dir, "leech"), "tree", want)
	if st.HashFailures != 0 {
		t.Errorf("%d hash failures from Transmission", st.HashFailures)
	}
	if encrypted.Load() {
		t.Error("our plaintext (EncryptionAccept) dial ended up encrypted")
	}
	t.Logf("stats: %+v", st)
}

// TestSessionEncryptionLeechFromTransmission: Transmission seeds with
// encryption required; our sessions with EncryptionPreferred and
// EncryptionRequired both download from it (concurrently) over MSE, and
// one with EncryptionOff is refused.
func TestSessionEncryptionLeechFromTransmission(t *testing.T) {
	dir := t.TempDir()
	want := trTree(t, filepath.Join(dir, "seed"), "tree", 70)
	torrent := filepath.Join(dir, "tree.torrent")
	mi := sessionBuildV1(t, filepath.Join(dir, "seed", "tree"), torrent, 64<<10)
	d := trStart(t, filepath.Join(dir, "tr"), trRequireEncrypted, false, nil)
	d.seed(t, torrent, filepath.Join(dir, "seed"))

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	policies := []bittern.Encryption{bittern.EncryptionPreferred, bittern.EncryptionRequired}
	tors := make([]*bittern.Torrent, len(policies))
	encrypted := make([]atomic.Bool, len(policies))
	for i, enc := range policies {
		tors[i] = trLeech(t, ctx, filepath.Join(dir, enc.String()), fmt.Sprintf("127.0.0.%d", i+2), enc, mi, d, &encrypted[i])
	}
	var offEnc atomic.Bool
	off := trLeech(t, ctx, filepath.Join(dir, "off"), "127.0.0.9", bittern.EncryptionOff, mi, d, &offEnc)
	for i, tor := range tors {
		if err := tor.Wait(ctx); err != nil {
			t.Fatalf("%v: wait: %v; stats %+v\n%s", policies[i], err, tor.Stats(), d.info())
		}
		if !encrypted[i].Load() {
			t.Errorf("%v: downloaded from Transmission requiring encryption without an encrypted peer", policies[i])
		}
		trCheckTree(t, filepath.Join(dir, policies[i].String()), "tree", want)
	}
	// The EncryptionOff session has dialled (in plaintext) all along.
	if st := off.Stats(); st.Downloaded != 0 || st.PiecesHave != 0 || offEnc.Load() {
		t.Errorf("EncryptionOff got data from Transmission requiring encryption: %+v", st)
	}
}

// TestSessionMagnetFromTransmission: our session, given only a magnet link
// naming Transmission's peer port (x.pe), fetches the info dictionary from
// it (ut_metadata, more than one metadata piece) and then the multi-file
// data.
func TestSessionMagnetFromTransmission(t *testing.T) {
	dir := t.TempDir()
	root := filepath.Join(dir, "seed")
	want := trTree(t, root, "tree", 100)
	want["big.bin"] = sessionWriteFile(t, filepath.Join(root, "tree", "big.bin"), 11<<20+9, 110)
	torrent := filepath.Join(dir, "tree.torrent")
	mi := sessionBuildV1(t, filepath.Join(root, "tree"), torrent, 16<<10)
	if n := len(mi.InfoBytes); n <= 16<<10 {
		t.Fatalf("info dictionary of %d bytes: want more than one metadata piece", n)
	}
	d := trStart(t, filepath.Join(dir, "tr"), trPreferPlaintext, false, nil)
	d.seed(t, torrent, root)

	s, err := bittern.NewSession(&bittern.Config{NoListen: true, DataDir: filepath.Join(dir, "leech"), RetryBackoff: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	m := &metainfo.Magnet{InfoHash: mi.InfoHash(), Name: "tree", Peers: []string{d.peer.String()}}
	tor, err := s.AddMagnet(ctx, m.String(), nil)
	if err != nil {
		t.Fatalf("AddMagnet: %v\n%s", err, d.info())
	}
	if !bytes.Equal(tor.MetaInfo().InfoBytes, mi.InfoBytes) {
		t.Fatal("metadata from Transmission differs")
	}
	if err := tor.Wait(ctx); err != nil {
		t.Fatalf("wait: %v; stats %+v\n%s", err, tor.Stats(), d.info())
	}
	s.Close()
	trCheckTree(t, filepath.Join(dir, "leech"), "tree", want)
}
