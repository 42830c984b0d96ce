//go:build interop

package conformance

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/bittern/bittern"
)

// sessionLTEncSettings forces (or disables) MSE in libtorrent: argv[5] is
// "forced" or "disabled"; with "forced" only RC4 payloads are allowed.
const sessionLTEncSettings = `
enc = sys.argv[5]
pol = lt.enc_policy.forced if enc == "forced" else lt.enc_policy.disabled
lvl = lt.enc_level.rc4 if enc == "forced" else lt.enc_level.plaintext
s.apply_settings({"out_enc_policy": pol, "in_enc_policy": pol, "allowed_enc_level": lvl, "prefer_rc4": enc == "forced"})
`

// sessionLTEncSeed is sessionLTSeed with argv[5] as the encryption policy.
var sessionLTEncSeed = strings.Replace(sessionLTSeed, "h = s.add_torrent(atp)", sessionLTEncSettings+"h = s.add_torrent(atp)", 1)

// sessionLTEncLeech is sessionLTLeech with the policy in argv[6]: argv is
// torrent, save, port, peer, limit, policy; the settings script reads
// argv[5], so the leech script shifts it.
var sessionLTEncLeech = strings.Replace(sessionLTLeech, "h = s.add_torrent(atp)",
	"sys.argv[5] = sys.argv[6]\n"+sessionLTEncSettings+"h = s.add_torrent(atp)", 1)

// TestSessionEncryptionLeechFromLibtorrent: libtorrent seeds with MSE
// forced (RC4 only); our session with EncryptionRequired downloads; and
// with encryption disabled on libtorrent's side, our EncryptionPreferred
// falls back to plaintext.
func TestSessionEncryptionLeechFromLibtorrent(t *testing.T) {
	for _, tc := range []struct {
		lt   string
		ours bittern.Encryption
	}{{"forced", bittern.EncryptionRequired}, {"forced", bittern.EncryptionPreferred}, {"disabled", bittern.EncryptionPreferred}} {
		t.Run(tc.lt+"-"+tc.ours.String(), func(t *testing.T) {
			dir := t.TempDir()
			want := sessionWriteFile(t, filepath.Join(dir, "seed", "data.bin"), 6<<20+11, 41)
			torrent := filepath.Join(dir, "data.torrent")
			mi := sessionBuildV1(t, filepath.Join(dir, "seed", "data.bin"), torrent, 256<<10)
			port := freePort(t, "tcp")
			p := startPython(t, sessionLTEncSeed, torrent, filepath.Join(dir, "seed"), fmt.Sprint(port), "120", tc.lt)
			waitFor(t, 60*time.Second, "libtorrent to seed", func() bool { return strings.Contains(p.Log(), "seeding") })

			s, err := bittern.NewSession(&bittern.Config{ListenAddr: "127.0.0.1:0", DataDir: filepath.Join(dir, "leech"), Encryption: tc.ours})
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
			defer cancel()
			tor, err := s.AddTorrent(ctx, mi, &bittern.TorrentOptions{Peers: []netip.AddrPort{netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), uint16(port))}})
			if err != nil {
				t.Fatal(err)
			}
			encrypted := false
			for ctx.Err() == nil && !tor.Stats().Complete {
				encrypted = encrypted || tor.Stats().EncryptedPeers > 0
				time.Sleep(5 * time.Millisecond)
			}
			if err := tor.Wait(ctx); err != nil {
				t.Fatalf("wait: %v; stats %+v", err, tor.Stats())
			}
			// libtorrent with MSE forced refuses plaintext, so completing
			// proves the connection was encrypted; with MSE disabled, it
			// must not be.
			if tc.lt == "disabled" && encrypted {
				t.Error("an encrypted connection to a libtorrent with encryption disabled")
			}
			s.Close()
			got, err := os.ReadFile(filepath.Join(dir, "leech", "data.bin"))
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, want) {
				t.Fatal("downloaded data differs")
			}
		})
	}
}

// TestSessionEncryptionSeedToLibtorrent: libtorrent with MSE forced dials
// our session, which finds the torrent from the MSE stream key among
// several; with EncryptionRequired ours, a plaintext-only libtorrent is
// refused.
func TestSessionEncryptionSeedToLibtorrent(t *testing.T) {
	for _, tc := range []struct {
		lt   string
		ours bittern.Encryption
		ok   bool
	}{{"forced", bittern.EncryptionAccept, true}, {"forced", bittern.EncryptionRequired, true}, {"disabled", bittern.EncryptionRequired, false}} {
		t.Run(tc.lt+"-"+tc.ours.String(), func(t *testing.T) {
			dir := t.TempDir()
			want := sessionWriteFile(t, filepath.Join(dir, "seed", "data.bin"), 5<<20+1, 42)
			torrent := filepath.Join(dir, "data.torrent")
			mi := sessionBuildV1(t, filepath.Join(dir, "seed", "data.bin"), torrent, 128<<10)
			sessionWriteFile(t, filepath.Join(dir, "seed", "other.bin"), 100000, 43)
			other := sessionBuildV1(t, filepath.Join(dir, "seed", "other.bin"), filepath.Join(dir, "other.torrent"), 16<<10)

			s, err := bittern.NewSession(&bittern.Config{ListenAddr: "127.0.0.1:0", DataDir: filepath.Join(dir, "seed"), Encryption: tc.ours})
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
			defer cancel()
			if _, err := s.AddTorrent(ctx, other, nil); err != nil {
				t.Fatal(err)
			}
			tor, err := s.AddTorrent(ctx, mi, nil)
			if err != nil {
				t.Fatal(err)
			}
			ourPort := s.Addr().(*net.TCPAddr).Port
			limit := "60"
			if !tc.ok {
				limit = "8"
			}
			p := startPython(t, sessionLTEncLeech, torrent, filepath.Join(dir, "lt"), fmt.Sprint(freePort(t, "tcp")), fmt.Sprint(ourPort), limit, tc.lt)
			werr := p.Wait(ctx)
			if !tc.ok {
				if werr == nil || tor.Stats().Uploaded != 0 {
					t.Fatalf("libtorrent without encryption downloaded from our EncryptionRequired session:\n%s", p.Log())
				}
				return
			}
			if werr != nil || !strings.Contains(p.Log(), "finished") {
				t.Fatalf("libtorrent: %v\n%s", werr, p.Log())
			}
			got, err := os.ReadFile(filepath.Join(dir, "lt", "data.bin"))
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, want) {
				t.Fatal("libtorrent's data differs")
			}
		})
	}
}
