//go:build interop

package conformance

import (
	"bytes"
	"context"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/bittern/bittern/peerwire"
	"github.com/bittern/bittern/peerwire/mse"
)

// peerwireSeeder is run by libtorrent: it makes a v1 torrent of
// argv[1]/data.bin with 32 KiB pieces, seeds it on 127.0.0.1:argv[2] with
// encryption argv[3] ("forced": MSE with RC4; "forced-plaintext": MSE with
// the plaintext method; "disabled": no MSE), prints
// "READY <info-hash> <pieces> <info-size>" once seeding, and, if argv[4]
// is a port other than 0, connects to 127.0.0.1 on that port. argv[5]
// "v2" makes a v2-only torrent instead (the info-hash printed is then the
// truncated SHA-256 one), "hybrid" a hybrid one (the v1 info-hash is
// printed after READY, the truncated v2 one before it after "V2").
const peerwireSeeder = `
import sys, time, libtorrent as lt
d, port, enc, connect, ver = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), sys.argv[5]
fs = lt.file_storage()
lt.add_files(fs, d + "/data.bin")
flags = {"v1": lt.create_torrent.v1_only, "v2": lt.create_torrent.v2_only, "hybrid": 0}[ver]
ct = lt.create_torrent(fs, 32768, flags)
lt.set_piece_hashes(ct, d)
ti = lt.torrent_info(ct.generate())
pol = lt.enc_policy.disabled if enc == "disabled" else lt.enc_policy.forced
lvl = lt.enc_level.rc4 if enc == "forced" else lt.enc_level.plaintext
s = lt.session({"listen_interfaces": "127.0.0.1:" + port, "enable_dht": False, "enable_lsd": False,
                "enable_upnp": False, "enable_natpmp": False, "dht_bootstrap_nodes": "",
                "allow_multiple_connections_per_ip": True, "enable_outgoing_utp": False,
                "enable_incoming_utp": False, "out_enc_policy": pol, "in_enc_policy": pol,
                "allowed_enc_level": lvl,
                "alert_mask": lt.alert.category_t.status_notification | lt.alert.category_t.error_notification | lt.alert.category_t.peer_notification | lt.alert.category_t.connect_notification})
atp = lt.add_torrent_params()
atp.ti = ti
atp.save_path = d
atp.flags &= ~(lt.torrent_flags.auto_managed | lt.torrent_flags.paused)
h = s.add_torrent(atp)
deadline = time.time() + 60
while time.time() < deadline and not h.status().is_seeding:
    s.wait_for_alert(200)
    for a in s.pop_alerts():
        if isinstance(a, lt.torrent_error_alert):
            sys.exit("torrent error: " + a.message())
if not h.status().is_seeding:
    sys.exit("not seeding")
ih = ti.info_hashes().v2 if ver == "v2" else ti.info_hashes().v1
if ver == "hybrid":
    print("V2 " + str(ti.info_hashes().v2)[:40], flush=True)
print("READY", str(ih)[:40], ti.num_pieces(), len(ti.info_section()), flush=True)
if connect:
    h.connect_peer(("127.0.0.1", connect))
end = time.time() + 90
while time.time() < end:
    s.wait_for_alert(500)
    for a in s.pop_alerts():
        print(a.what(), a.message(), flush=True)
`

type ltSeeder struct {
	data       []byte
	infoHash   [20]byte
	infoHashV2 [20]byte // truncated, for a hybrid torrent
	numPieces  int
	infoSize   int
	port       int
}

const peerwirePieceLen = 32768

func startLTSeeder(t *testing.T, enc string, connectPort int) *ltSeeder {
	t.Helper()
	return startLTSeederVersion(t, enc, connectPort, "v1")
}

func startLTSeederVersion(t *testing.T, enc string, connectPort int, version string) *ltSeeder {
	t.Helper()
	dir := t.TempDir()
	data := make([]byte, 10*peerwirePieceLen+5000)
	r := rand.New(rand.NewPCG(42, 1))
	for i := range data {
		data[i] = byte(r.Uint32())
	}
	if err := os.WriteFile(filepath.Join(dir, "data.bin"), data, 0o644); err != nil {
		t.Fatal(err)
	}
	port := freePort(t, "tcp")
	p := startPython(t, peerwireSeeder, dir, strconv.Itoa(port), enc, strconv.Itoa(connectPort), version)
	ready := regexp.MustCompile(`READY ([0-9a-f]{40}) (\d+) (\d+)`)
	var m []string
	waitFor(t, 60*time.Second, "libtorrent seeder", func() bool {
		m = ready.FindStringSubmatch(p.Log())
		return m != nil
	})
	s := &ltSeeder{data: data, port: port}
	if m := regexp.MustCompile(`V2 ([0-9a-f]{40})`).FindStringSubmatch(p.Log()); m != nil {
		v2, _ := hex.DecodeString(m[1])
		s.infoHashV2 = [20]byte(v2)
	}
	ih, _ := hex.DecodeString(m[1])
	s.infoHash = [20]byte(ih)
	s.numPieces, _ = strconv.Atoi(m[2])
	s.infoSize, _ = strconv.Atoi(m[3])
	if s.numPieces != 11 {
		t.Fatalf("libtorrent made %d pieces, want 11", s.numPieces)
	}
	return s
}

// exchangeWithSeeder runs the peer protocol against the libtorrent seeder
// on rw (after the handshakes): extended handshake, have all, the metadata
// over ut_metadata, and the first and last pieces, checked byte for byte.
func exchangeWithSeeder(t *testing.T, conn net.Conn, rw io.ReadWriter, s *ltSeeder, theirs peerwire.Handshake) {
	t.Helper()
	exchangeWithPeer(t, conn, rw, s, theirs, "libtorrent ", false)
}

// exchangeWithPeer is exchangeWithSeeder for any client whose peer ID names
// it with the given prefix. If bep6 is set, the allowed fast pieces the
// peer sends must be exactly our BEP 6 set for 127.0.0.1.
func exchangeWithPeer(t *testing.T, conn net.Conn, rw io.ReadWriter, s *ltSeeder, theirs peerwire.Handshake, client string, bep6 bool) {
	t.Helper()
	if !theirs.Reserved.Has(peerwire.ReservedFast) || !theirs.Reserved.Has(peerwire.ReservedExtension) {
		t.Fatalf("%s's reserved bits %x lack Fast or Extension", client, theirs.Reserved)
	}
	if name := peerwire.ClientName(theirs.PeerID); !strings.HasPrefix(name, client) {
		t.Errorf("ClientName(%q) = %q", theirs.PeerID, name)
	}
	conn.SetDeadline(time.Now().Add(60 * time.Second))
	f := peerwire.NewFramer(rw, rw)
	f.SetExtensions(peerwire.DefaultReserved.Intersect(theirs.Reserved))
	f.SetPieceCount(s.numPieces)
	f.SetPieceLength(peerwirePieceLen, int64(len(s.data)))
	eh := &peerwire.ExtendedHandshake{M: map[string]int{peerwire.ExtMetadata: 3}, Version: "bittern-conformance", Reqq: 250}
	payload, err := eh.AppendTo(nil)
	if err != nil {
		t.Fatal(err)
	}
	must(t, f.WriteExtended(0, payload))
	must(t, f.WriteHaveNone())
	must(t, f.WriteInterested())

	type blockKey struct{ index, begin uint32 }
	want := map[blockKey]int{}
	for _, piece := range []int{0, s.numPieces - 1} {
		size := min(peerwirePieceLen, len(s.data)-piece*peerwirePieceLen)
		for begin := 0; begin < size; begin += peerwire.BlockSize {
			want[blockKey{uint32(piece), uint32(begin)}] = min(peerwire.BlockSize, size-begin)
		}
	}
	var (
		haveAll, requested, gotMetadata bool
		metadataID                      int
		allowedFast                     []uint32
	)
	for len(want) > 0 || !gotMetadata {
		m, err := f.ReadMessage()
		if err != nil {
			t.Fatalf("reading from libtorrent: %v (still want %d blocks, metadata %v)", err, len(want), gotMetadata)
		}
		switch m := m.(type) {
		case *peerwire.Extended:
			if m.ExtendedID == 0 {
				h, err := peerwire.ParseExtendedHandshake(m.Payload)
				if err != nil {
					t.Fatalf("libtorrent's extended handshake: %v", err)
				}
				if h.MetadataSize != s.infoSize {
					t.Errorf("metadata_size %d, want %d", h.MetadataSize, s.infoSize)
				}
				metadataID = h.M[peerwire.ExtMetadata]
				if metadataID == 0 {
					t.Fatalf("libtorrent offers no ut_metadata: %v", h.M)
				}
				must(t, f.WriteExtended(uint8(metadataID), peerwire.MetadataMessage{Type: peerwire.MetadataRequest}.AppendTo(nil)))
				continue
			}
			if m.ExtendedID != 3 {
				continue // another extension libtorrent speaks
			}
			md, err := peerwire.ParseMetadataMessage(m.Payload)
			if err != nil {
				t.Fatalf("ut_metadata from libtorrent: %v", err)
			}
			if md.Type != peerwire.MetadataData || md.TotalSize != s.infoSize || len(md.Data) != s.infoSize {
				t.Fatalf("ut_metadata reply %+v", md)
			}
			if sha1.Sum(md.Data) != s.infoHash {
				t.Fatalf("metadata does not hash to the info-hash")
			}
			gotMetadata = true
		case *peerwire.HaveAll:
			haveAll = true
		case *peerwire.Bitfield:
			for i := range s.numPieces {
				if !m.Has(i) {
					t.Fatalf("seeder's bitfield lacks piece %d", i)
				}
			}
			haveAll = true
		case *peerwire.AllowedFast:
			allowedFast = append(allowedFast, m.Index)
		case *peerwire.Unchoke:
			if !haveAll {
				t.Fatal("unchoked before have all / bitfield")
			}
			if !requested {
				for k, n := range want {
					must(t, f.WriteRequest(k.index, k.begin, uint32(n)))
				}
				requested = true
			}
		case *peerwire.Piece:
			k := blockKey{m.Index, m.Begin}
			n, ok := want[k]
			if !ok || n != len(m.Block) {
				t.Fatalf("unrequested block %v", m)
			}
			off := int(m.Index)*peerwirePieceLen + int(m.Begin)
			if !bytes.Equal(m.Block, s.data[off:off+n]) {
				t.Fatalf("block %v differs from the file", m)
			}
			peerwire.PutBlock(m.Block)
			delete(want, k)
		case *peerwire.Reject:
			t.Fatalf("libtorrent rejected %v", m)
		}
	}
	// BEP 6 masks the peer's address to its /24 before hashing. aria2 does;
	// libtorrent 2.0.8 hashes 127.0.0.1 unmasked (its set for us equals the
	// BEP 6 algorithm run on 127.0.0.1 rather than 127.0.0.0), so for it the
	// sets are only logged.
	set := peerwire.AllowedFastSet(len(allowedFast), s.numPieces, s.infoHash, netip.MustParseAddr("127.0.0.1"))
	t.Logf("allowed fast from %s: %v; BEP 6 set for 127.0.0.0/24: %v", client, allowedFast, set)
	if bep6 && (len(allowedFast) == 0 || !slices.Equal(allowedFast, set)) {
		t.Errorf("%s's allowed fast set %v, BEP 6 says %v", client, allowedFast, set)
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// TestPeerwireLibtorrentPlain: plain handshake, messages, ut_metadata and
// blocks from a libtorrent seeder.
func TestPeerwireLibtorrentPlain(t *testing.T) {
	s := startLTSeeder(t, "disabled", 0)
	conn, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", s.port), 10*time.Second)
	must(t, err)
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(30 * time.Second))
	ours := peerwire.Handshake{Reserved: peerwire.DefaultReserved, InfoHash: s.infoHash, PeerID: peerwire.NewPeerID(peerwire.PeerIDPrefix)}
	theirs, err := peerwire.Initiate(conn, ours, [20]byte{})
	must(t, err)
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
			must(t, err)
			defer conn.Close()
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			ours := peerwire.Handshake{Reserved: peerwire.DefaultReserved, InfoHash: s.infoHash, PeerID: peerwire.NewPeerID(peerwire.PeerIDPrefix)}
			c, err := mse.Initiate(ctx, conn, s.infoHash, peerwire.AppendHandshake(nil, ours), &tc.cfg)
			must(t, err)
			if c.Method() != tc.want {
				t.Fatalf("negotiated %v, want %v", c.Method(), tc.want)
			}
			conn.SetDeadline(time.Now().Add(30 * time.Second))
			theirs, err := peerwire.ReadHandshake(c)
			must(t, err)
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
			must(t, err)
			defer ln.Close()
			s := startLTSeeder(t, tc.enc, ln.Addr().(*net.TCPAddr).Port)
			ln.(*net.TCPListener).SetDeadline(time.Now().Add(30 * time.Second))
			conn, err := ln.Accept()
			must(t, err)
			defer conn.Close()
			var keys mse.SKeys
			for i := range 100 {
				keys.Add([20]byte{byte(i), 0xee})
			}
			keys.Add(s.infoHash)
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			c, err := mse.Accept(ctx, conn, &keys, &mse.Config{Policy: mse.Required})
			must(t, err)
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
			must(t, err)
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
	must(t, err)
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(30 * time.Second))
	ours := peerwire.Handshake{Reserved: peerwire.DefaultReserved.Set(peerwire.ReservedV2), InfoHash: s.infoHash, PeerID: peerwire.NewPeerID(peerwire.PeerIDPrefix)}
	theirs, err := peerwire.Initiate(conn, ours, [20]byte{})
	must(t, err)
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
		must(t, f.WriteHashRequest(tc.req))
	read:
		for {
			m, err := f.ReadMessage()
			must(t, err)
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
	must(t, err)
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(30 * time.Second))
	ours := peerwire.Handshake{Reserved: peerwire.DefaultReserved.Set(peerwire.ReservedV2), InfoHash: s.infoHash, PeerID: peerwire.NewPeerID(peerwire.PeerIDPrefix)}
	theirs, err := peerwire.Initiate(conn, ours, s.infoHashV2)
	must(t, err)
	if theirs.InfoHash != s.infoHashV2 {
		// libtorrent 2.0.8 upgrades; were that to change, v1 is still valid.
		t.Errorf("libtorrent answered %x, not the v2 info-hash %x", theirs.InfoHash, s.infoHashV2)
	}
	f := peerwire.NewFramer(conn, conn)
	f.SetExtensions(ours.Reserved.Intersect(theirs.Reserved))
	f.SetPieceCount(s.numPieces)
	for {
		m, err := f.ReadMessage()
		must(t, err)
		if _, ok := m.(*peerwire.HaveAll); ok {
			return
		}
	}
}

// peerwireMakeTorrent is run by libtorrent: it writes a v1 torrent of
// argv[1]/data.bin (32 KiB pieces) to argv[2] and prints its info-hash,
// piece count and info dictionary size.
const peerwireMakeTorrent = `
import sys, libtorrent as lt
d, out = sys.argv[1], sys.argv[2]
fs = lt.file_storage()
lt.add_files(fs, d + "/data.bin")
ct = lt.create_torrent(fs, 32768, lt.create_torrent.v1_only)
lt.set_piece_hashes(ct, d)
e = ct.generate()
open(out, "wb").write(lt.bencode(e))
ti = lt.torrent_info(out)
print(str(ti.info_hashes().v1), ti.num_pieces(), len(ti.info_section()))
`

// peerwirePrepareTorrent writes the test data under dir/seed and a v1
// torrent of it (made by libtorrent) at dir/t.torrent.
func peerwirePrepareTorrent(t *testing.T, dir string) (s *ltSeeder, seedDir, torrent string) {
	t.Helper()
	data := make([]byte, 10*peerwirePieceLen+5000)
	r := rand.New(rand.NewPCG(42, 1))
	for i := range data {
		data[i] = byte(r.Uint32())
	}
	seedDir = filepath.Join(dir, "seed")
	must(t, os.MkdirAll(seedDir, 0o755))
	must(t, os.WriteFile(filepath.Join(seedDir, "data.bin"), data, 0o644))
	torrent = filepath.Join(dir, "t.torrent")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	out := strings.Fields(string(runPython(t, ctx, peerwireMakeTorrent, seedDir, torrent)))
	if len(out) != 3 {
		t.Fatalf("torrent maker printed %q", out)
	}
	s = &ltSeeder{data: data}
	ih, _ := hex.DecodeString(out[0])
	s.infoHash = [20]byte(ih)
	s.numPieces, _ = strconv.Atoi(out[1])
	s.infoSize, _ = strconv.Atoi(out[2])
	return s, seedDir, torrent
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
	must(t, os.MkdirAll(conf, 0o755))
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
	must(t, err)
	must(t, os.WriteFile(filepath.Join(conf, "settings.json"), b, 0o644))
	startProc(t, "transmission-daemon", "-f", "-g", conf)
	rpc := fmt.Sprintf("127.0.0.1:%d", rpcPort)
	waitFor(t, 30*time.Second, "transmission's RPC", func() bool {
		return exec.Command("transmission-remote", rpc, "-l").Run() == nil
	})
	if out, err := exec.Command("transmission-remote", rpc, "-a", torrent, "-w", seedDir).CombinedOutput(); err != nil {
		t.Fatalf("adding the torrent: %v\n%s", err, out)
	}
	waitFor(t, 60*time.Second, "transmission to verify the data", func() bool {
		out, err := exec.Command("transmission-remote", rpc, "-t", "1", "-i").CombinedOutput()
		return err == nil && strings.Contains(string(out), "Percent Done: 100%")
	})

	conn, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", s.port), 10*time.Second)
	must(t, err)
	defer conn.Close()
	ours := peerwire.Handshake{Reserved: peerwire.DefaultReserved, InfoHash: s.infoHash, PeerID: peerwire.NewPeerID(peerwire.PeerIDPrefix)}
	c, err := mse.Initiate(ctx, conn, s.infoHash, peerwire.AppendHandshake(nil, ours), &mse.Config{Policy: mse.Required, Methods: mse.RC4})
	must(t, err)
	if c.Method() != mse.RC4 {
		t.Fatalf("negotiated %v", c.Method())
	}
	conn.SetDeadline(time.Now().Add(30 * time.Second))
	theirs, err := peerwire.ReadHandshake(c)
	must(t, err)
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
	must(t, err)
	if c.Method() != mse.RC4 {
		t.Fatalf("negotiated %v", c.Method())
	}
	conn.SetDeadline(time.Now().Add(30 * time.Second))
	theirs, err := peerwire.ReadHandshake(c)
	must(t, err)
	if theirs.InfoHash != s.infoHash {
		t.Fatalf("aria2 answered for %x", theirs.InfoHash)
	}
	exchangeWithPeer(t, conn, c, s, theirs, "aria2 ", true)
}
