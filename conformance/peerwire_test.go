//go:build interop

package conformance

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/bittern/bittern/peerwire"
	"github.com/bittern/bittern/peerwire/mse"
)

// TestPeerwireLibtorrentPlain: plain handshake, messages, ut_metadata and
// blocks from a libtorrent seeder.
func TestPeerwireLibtorrentPlain(t *testing.T) {
	s := startLTSeeder(t, "disabled", 0)
	conn, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", s.port), 10*time.Second)
	pwMust(t, err)
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(30 * time.Second))
	ours := peerwire.Handshake{Reserved: peerwire.DefaultReserved, InfoHash: s.infoHash, PeerID: peerwire.NewPeerID(peerwire.PeerIDPrefix)}
	theirs, err := peerwire.Initiate(conn, ours, [20]byte{})
	pwMust(t, err)
	exchangeWithSeeder(t, conn, conn, s, theirs)
}

// TestPeerwireLibtorrentMSEInitiator: we initiate MSE to a libtorrent
// seeder that forces encryption, with RC4 and with the plaintext method.
func TestPeerwireLibtorrentMSEInitiator(t *testing.T) {
	for _, tc := range []struct {
		enc  string
		want mse.CryptoMethod
		cfg  mse.Config
	}{
		{"forced", mse.RC4, mse.Config{Policy: mse.Required, Methods: mse.RC4}},
		{"forced-plaintext", mse.Plaintext, mse.Config{Policy: mse.Required}},
	} {
		t.Run(tc.enc, func(t *testing.T) {
			s := startLTSeeder(t, tc.enc, 0)
			conn, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", s.port), 10*time.Second)
			pwMust(t, err)
			defer conn.Close()
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			ours := peerwire.Handshake{Reserved: peerwire.DefaultReserved, InfoHash: s.infoHash, PeerID: peerwire.NewPeerID(peerwire.PeerIDPrefix)}
			c, err := mse.Initiate(ctx, conn, s.infoHash, peerwire.AppendHandshake(nil, ours), &tc.cfg)
			pwMust(t, err)
			if c.Method() != tc.want {
				t.Fatalf("negotiated %v, want %v", c.Method(), tc.want)
			}
			conn.SetDeadline(time.Now().Add(30 * time.Second))
			theirs, err := peerwire.ReadHandshake(c)
			pwMust(t, err)
			if theirs.InfoHash != s.infoHash {
				t.Fatalf("libtorrent answered for %x", theirs.InfoHash)
			}
			exchangeWithSeeder(t, conn, c, s, theirs)
		})
	}
}

// TestPeerwireLibtorrentMSEReceiver: a libtorrent seeder that forces
// encryption connects to us; we accept MSE, finding the torrent among
// many, then run the protocol. libtorrent offers RC4, or only the
// plaintext method.
func TestPeerwireLibtorrentMSEReceiver(t *testing.T) {
	for _, tc := range []struct {
		enc  string
		want mse.CryptoMethod
	}{
		{"forced", mse.RC4},
		{"forced-plaintext", mse.Plaintext},
	} {
		t.Run(tc.enc, func(t *testing.T) {
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			pwMust(t, err)
			defer ln.Close()
			s := startLTSeeder(t, tc.enc, ln.Addr().(*net.TCPAddr).Port)
			ln.(*net.TCPListener).SetDeadline(time.Now().Add(30 * time.Second))
			conn, err := ln.Accept()
			pwMust(t, err)
			defer conn.Close()
			var keys mse.SKeys
			for i := range 100 {
				keys.Add([20]byte{byte(i), 0xee})
			}
			keys.Add(s.infoHash)
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			c, err := mse.Accept(ctx, conn, &keys, &mse.Config{Policy: mse.Required})
			pwMust(t, err)
			if skey, ok := c.SKey(); !ok || skey != s.infoHash {
				t.Fatalf("SKey() = %x, %v", skey, ok)
			}
			if c.Method() != tc.want {
				t.Fatalf("negotiated %v, want %v", c.Method(), tc.want)
			}
			conn.SetDeadline(time.Now().Add(30 * time.Second))
			theirs, err := peerwire.Answer(c, func(h peerwire.Handshake) (peerwire.Handshake, bool) {
				return peerwire.Handshake{Reserved: peerwire.DefaultReserved, InfoHash: h.InfoHash, PeerID: peerwire.NewPeerID(peerwire.PeerIDPrefix)}, h.InfoHash == s.infoHash
			})
			pwMust(t, err)
			exchangeWithSeeder(t, conn, c, s, theirs)
		})
	}
}

// TestPeerwireLibtorrentHashRequest: BEP 52 hash request and hashes
// messages against a libtorrent seeder of a v2 torrent. The BEP gives no
// byte layout; this checks ours (32-byte root, four big-endian uint32s)
// and the returned piece-layer hashes against a merkle tree computed here.
func TestPeerwireLibtorrentHashRequest(t *testing.T) {
	s := startLTSeederVersion(t, "disabled", 0, "v2")
	conn, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", s.port), 10*time.Second)
	pwMust(t, err)
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(30 * time.Second))
	ours := peerwire.Handshake{Reserved: peerwire.DefaultReserved.Set(peerwire.ReservedV2), InfoHash: s.infoHash, PeerID: peerwire.NewPeerID(peerwire.PeerIDPrefix)}
	theirs, err := peerwire.Initiate(conn, ours, [20]byte{})
	pwMust(t, err)
	// libtorrent 2.0.8 sets the v2 bit only to offer a hybrid torrent's
	// upgrade, not for a v2-only torrent: nothing to check here.
	f := peerwire.NewFramer(conn, conn)
	f.SetExtensions(ours.Reserved.Intersect(theirs.Reserved))
	f.SetPieceCount(s.numPieces)

	// The merkle tree of the file: SHA-256 of 16 KiB blocks, padded with
	// zero hashes to a power of two, then pairwise up to the root.
	var layer [][32]byte
	for off := 0; off < len(s.data); off += peerwire.BlockSize {
		layer = append(layer, sha256.Sum256(s.data[off:min(off+peerwire.BlockSize, len(s.data))]))
	}
	for len(layer)&(len(layer)-1) != 0 {
		layer = append(layer, [32]byte{})
	}
	layers := [][][32]byte{layer}
	for len(layer) > 1 {
		next := make([][32]byte, len(layer)/2)
		for i := range next {
			next[i] = sha256.Sum256(append(layer[2*i][:], layer[2*i+1][:]...))
		}
		layers = append(layers, next)
		layer = next
	}
	root := layer[0]
	pieceLayer := layers[1] // 32 KiB pieces = 2 blocks

	// Eight piece hashes without proof, then with three proof layers: the
	// first log2(8)-1 = 2 are omitted (computable from the hashes), the
	// third is the uncle of the eight's subtree, layers[1+3][1].
	for _, tc := range []struct {
		req  peerwire.HashRequest
		want [][32]byte
	}{
		{peerwire.HashRequest{PiecesRoot: root, BaseLayer: 1, Index: 0, Length: 8, ProofLayers: 0}, pieceLayer[:8]},
		{peerwire.HashRequest{PiecesRoot: root, BaseLayer: 1, Index: 0, Length: 8, ProofLayers: 3}, append(slices.Clone(pieceLayer[:8]), layers[4][1])},
	} {
		pwMust(t, f.WriteHashRequest(tc.req))
	read:
		for {
			m, err := f.ReadMessage()
			pwMust(t, err)
			switch m := m.(type) {
			case *peerwire.Hashes:
				if m.HashRequest != tc.req {
					t.Fatalf("hashes for %v, asked %v", m.HashRequest, tc.req)
				}
				if len(m.Hashes) != len(tc.want)*32 {
					t.Fatalf("%d hash bytes, want %d", len(m.Hashes), len(tc.want)*32)
				}
				for i, w := range tc.want {
					if [32]byte(m.Hashes[32*i:32*i+32]) != w {
						t.Fatalf("%v: hash %d differs", tc.req, i)
					}
				}
				break read
			case *peerwire.HashReject:
				t.Fatalf("libtorrent rejected %v", m)
			}
		}
	}
}

// TestPeerwireLibtorrentHybridUpgrade: offering the v2 bit with a hybrid
// torrent's v1 info-hash (BEP 52), libtorrent answers with the truncated
// v2 info-hash; Initiate accepts the upgrade and the connection works.
func TestPeerwireLibtorrentHybridUpgrade(t *testing.T) {
	s := startLTSeederVersion(t, "disabled", 0, "hybrid")
	if s.infoHashV2 == ([20]byte{}) {
		t.Fatal("seeder printed no v2 info-hash")
	}
	conn, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", s.port), 10*time.Second)
	pwMust(t, err)
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(30 * time.Second))
	ours := peerwire.Handshake{Reserved: peerwire.DefaultReserved.Set(peerwire.ReservedV2), InfoHash: s.infoHash, PeerID: peerwire.NewPeerID(peerwire.PeerIDPrefix)}
	theirs, err := peerwire.Initiate(conn, ours, s.infoHashV2)
	pwMust(t, err)
	if theirs.InfoHash != s.infoHashV2 {
		// libtorrent 2.0.8 upgrades; were that to change, v1 is still valid.
		t.Errorf("libtorrent answered %x, not the v2 info-hash %x", theirs.InfoHash, s.infoHashV2)
	}
	f := peerwire.NewFramer(conn, conn)
	f.SetExtensions(ours.Reserved.Intersect(theirs.Reserved))
	f.SetPieceCount(s.numPieces)
	for {
		m, err := f.ReadMessage()
		pwMust(t, err)
		if _, ok := m.(*peerwire.HaveAll); ok {
			return
		}
	}
}

// TestPeerwireTransmissionMSE: we initiate MSE (RC4) to a Transmission 3.00
// seeder that requires encryption, then run the peer protocol: handshake,
// have all, ut_metadata and blocks checked byte for byte.
func TestPeerwireTransmissionMSE(t *testing.T) {
	dir := t.TempDir()
	s, seedDir, torrent := peerwirePrepareTorrent(t, dir)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	s.port = freePort(t, "tcp")
	rpcPort := freePort(t, "tcp")
	conf := filepath.Join(dir, "config")
	pwMust(t, os.MkdirAll(conf, 0o755))
	settings := map[string]any{
		"bind-address-ipv4": "127.0.0.1", "bind-address-ipv6": "::1",
		"peer-port": s.port, "peer-port-random-on-start": false, "port-forwarding-enabled": false,
		"dht-enabled": false, "lpd-enabled": false, "pex-enabled": false, "utp-enabled": false,
		"rpc-bind-address": "127.0.0.1", "rpc-port": rpcPort, "rpc-authentication-required": false,
		"rpc-whitelist": "127.0.0.1,::1", "rpc-whitelist-enabled": true, "rpc-host-whitelist-enabled": false,
		"ratio-limit-enabled": false, "encryption": 2, "download-dir": seedDir,
		"incomplete-dir-enabled": false,
	}
	b, err := json.Marshal(settings)
	pwMust(t, err)
	pwMust(t, os.WriteFile(filepath.Join(conf, "settings.json"), b, 0o644))
	startProc(t, "transmission-daemon", "-f", "-g", conf)
	rpc := fmt.Sprintf("127.0.0.1:%d", rpcPort)
	waitFor(t, 30*time.Second, "transmission's RPC", func() bool {
		return runQuiet(5*time.Second, "transmission-remote", rpc, "-l") == nil
	})
	if out, err := runBounded(10*time.Second, "transmission-remote", rpc, "-a", torrent, "-w", seedDir); err != nil {
		t.Fatalf("adding the torrent: %v\n%s", err, out)
	}
	waitFor(t, 60*time.Second, "transmission to verify the data", func() bool {
		out, err := runBounded(10*time.Second, "transmission-remote", rpc, "-t", "1", "-i")
		return err == nil && strings.Contains(string(out), "Percent Done: 100%")
	})

	conn, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", s.port), 10*time.Second)
	pwMust(t, err)
	defer conn.Close()
	ours := peerwire.Handshake{Reserved: peerwire.DefaultReserved, InfoHash: s.infoHash, PeerID: peerwire.NewPeerID(peerwire.PeerIDPrefix)}
	c, err := mse.Initiate(ctx, conn, s.infoHash, peerwire.AppendHandshake(nil, ours), &mse.Config{Policy: mse.Required, Methods: mse.RC4})
	pwMust(t, err)
	if c.Method() != mse.RC4 {
		t.Fatalf("negotiated %v", c.Method())
	}
	conn.SetDeadline(time.Now().Add(30 * time.Second))
	theirs, err := peerwire.ReadHandshake(c)
	pwMust(t, err)
	if theirs.InfoHash != s.infoHash {
		t.Fatalf("transmission answered for %x", theirs.InfoHash)
	}
	exchangeWithPeer(t, conn, c, s, theirs, "Transmission ", false)
}

// TestPeerwireAria2MSE: we initiate MSE (RC4) to an aria2 seeder that
// requires encryption at the RC4 level, then run the peer protocol; aria2's
// allowed fast set must be ours (BEP 6).
func TestPeerwireAria2MSE(t *testing.T) {
	dir := t.TempDir()
	s, seedDir, torrent := peerwirePrepareTorrent(t, dir)
	s.port = freePort(t, "tcp")
	startProc(t, "aria2c", "--enable-dht=false", "--enable-dht6=false", "--bt-enable-lpd=false",
		"--enable-peer-exchange=false", "--listen-port="+strconv.Itoa(s.port), "-V", "--seed-ratio=0.0",
		"--bt-require-crypto=true", "--bt-min-crypto-level=arc4", "--file-allocation=none",
		"--summary-interval=0", "--bt-seed-unverified=false", "-d", seedDir, torrent)
	var conn net.Conn
	waitFor(t, 60*time.Second, "aria2's listen port", func() bool {
		c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", s.port), time.Second)
		if err != nil {
			return false
		}
		conn = c
		return true
	})
	defer conn.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	ours := peerwire.Handshake{Reserved: peerwire.DefaultReserved, InfoHash: s.infoHash, PeerID: peerwire.NewPeerID(peerwire.PeerIDPrefix)}
	c, err := mse.Initiate(ctx, conn, s.infoHash, peerwire.AppendHandshake(nil, ours), &mse.Config{Policy: mse.Required, Methods: mse.RC4})
	pwMust(t, err)
	if c.Method() != mse.RC4 {
		t.Fatalf("negotiated %v", c.Method())
	}
	conn.SetDeadline(time.Now().Add(30 * time.Second))
	theirs, err := peerwire.ReadHandshake(c)
	pwMust(t, err)
	if theirs.InfoHash != s.infoHash {
		t.Fatalf("aria2 answered for %x", theirs.InfoHash)
	}
	exchangeWithPeer(t, conn, c, s, theirs, "aria2 ", true)
}
