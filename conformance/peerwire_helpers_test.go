//go:build interop

package conformance

import (
	"bytes"
	"context"
	"crypto/sha1"
	"encoding/hex"
	"io"
	"math/rand/v2"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/bittern/bittern/peerwire"
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

// pwSeeder describes a seeder started for a peerwire test and its data.
type pwSeeder struct {
	data       []byte
	infoHash   [20]byte
	infoHashV2 [20]byte // truncated, for a hybrid torrent
	numPieces  int
	infoSize   int
	port       int
}

const peerwirePieceLen = 32768

// startLTSeeder starts a libtorrent seeder of a v1 torrent (peerwireSeeder).
func startLTSeeder(t *testing.T, enc string, connectPort int) *pwSeeder {
	t.Helper()
	return startLTSeederVersion(t, enc, connectPort, "v1")
}

func startLTSeederVersion(t *testing.T, enc string, connectPort int, version string) *pwSeeder {
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
	s := &pwSeeder{data: data, port: port}
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
func exchangeWithSeeder(t *testing.T, conn net.Conn, rw io.ReadWriter, s *pwSeeder, theirs peerwire.Handshake) {
	t.Helper()
	exchangeWithPeer(t, conn, rw, s, theirs, "libtorrent ", false)
}

// exchangeWithPeer is exchangeWithSeeder for any client whose peer ID names
// it with the given prefix. If bep6 is set, the allowed fast pieces the
// peer sends must be exactly our BEP 6 set for 127.0.0.1.
func exchangeWithPeer(t *testing.T, conn net.Conn, rw io.ReadWriter, s *pwSeeder, theirs peerwire.Handshake, client string, bep6 bool) {
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
	pwMust(t, f.WriteExtended(0, payload))
	pwMust(t, f.WriteHaveNone())
	pwMust(t, f.WriteInterested())

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
				pwMust(t, f.WriteExtended(uint8(metadataID), peerwire.MetadataMessage{Type: peerwire.MetadataRequest}.AppendTo(nil)))
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
					pwMust(t, f.WriteRequest(k.index, k.begin, uint32(n)))
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

func pwMust(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
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
func peerwirePrepareTorrent(t *testing.T, dir string) (s *pwSeeder, seedDir, torrent string) {
	t.Helper()
	data := make([]byte, 10*peerwirePieceLen+5000)
	r := rand.New(rand.NewPCG(42, 1))
	for i := range data {
		data[i] = byte(r.Uint32())
	}
	seedDir = filepath.Join(dir, "seed")
	pwMust(t, os.MkdirAll(seedDir, 0o755))
	pwMust(t, os.WriteFile(filepath.Join(seedDir, "data.bin"), data, 0o644))
	torrent = filepath.Join(dir, "t.torrent")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	out := strings.Fields(string(runPython(t, ctx, peerwireMakeTorrent, seedDir, torrent)))
	if len(out) != 3 {
		t.Fatalf("torrent maker printed %q", out)
	}
	s = &pwSeeder{data: data}
	ih, _ := hex.DecodeString(out[0])
	s.infoHash = [20]byte(ih)
	s.numPieces, _ = strconv.Atoi(out[1])
	s.infoSize, _ = strconv.Atoi(out[2])
	return s, seedDir, torrent
}
