//go:build interop

package conformance

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bittern/bittern"
)

// sessionLTUTPOnly turns sessionLTSettings into a libtorrent session that
// speaks uTP only: no TCP either way.
func sessionLTUTPOnly(script string) string {
	const tcpOnly = `"enable_outgoing_utp": False, "enable_incoming_utp": False,`
	const utpOnly = `"enable_outgoing_utp": True, "enable_incoming_utp": True, "enable_outgoing_tcp": False, "enable_incoming_tcp": False,`
	if !strings.Contains(script, tcpOnly) {
		panic("sessionLTSettings changed: update sessionLTUTPOnly")
	}
	return strings.Replace(script, tcpOnly, utpOnly, 1)
}

// noTCPDialer refuses every TCP dial and counts them, so that a session
// can only reach peers over uTP.
type noTCPDialer struct{ dials atomic.Int64 }

func (d *noTCPDialer) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	d.dials.Add(1)
	return nil, errors.New("test: TCP dials refused")
}

// TestSessionLeechFromLibtorrentUTP downloads from libtorrent seeding over
// uTP only (TCP off on its side, TCP dials refused on ours), in plaintext
// and with MSE required.
func TestSessionLeechFromLibtorrentUTP(t *testing.T) {
	for _, enc := range []bittern.Encryption{bittern.EncryptionAccept, bittern.EncryptionRequired} {
		t.Run(enc.String(), func(t *testing.T) {
			dir := t.TempDir()
			want := sessionWriteFile(t, filepath.Join(dir, "seed", "data.bin"), 8<<20+123, 40)
			torrent := filepath.Join(dir, "data.torrent")
			mi := sessionBuildV1(t, filepath.Join(dir, "seed", "data.bin"), torrent, 256<<10)

			port := freePort(t, "udp")
			p := startPython(t, sessionLTUTPOnly(sessionLTSeed), torrent, filepath.Join(dir, "seed"), fmt.Sprint(port), "120")
			waitFor(t, 60*time.Second, "libtorrent to seed", func() bool { return strings.Contains(p.Log(), "seeding") })

			d := &noTCPDialer{}
			s, err := bittern.NewSession(&bittern.Config{ListenAddr: "127.0.0.1:0", DataDir: filepath.Join(dir, "leech"),
				UTP: true, Dialer: d, Encryption: enc, RetryBackoff: time.Second})
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
			defer cancel()
			peer := netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), uint16(port))
			tor, err := s.AddTorrent(ctx, mi, &bittern.TorrentOptions{Peers: []netip.AddrPort{peer}})
			if err != nil {
				t.Fatal(err)
			}
			sawUTP := false
			waitFor(t, 90*time.Second, "the download", func() bool {
				st := tor.Stats()
				sawUTP = sawUTP || st.UTPPeers > 0
				return st.Complete
			})
			st := tor.Stats()
			s.Close()
			got, err := os.ReadFile(filepath.Join(dir, "leech", "data.bin"))
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, want) {
				t.Fatal("downloaded data differs")
			}
			if n := d.dials.Load(); n != 0 {
				t.Errorf("%d TCP dials; uTP should have connected first", n)
			}
			if !sawUTP {
				t.Errorf("no uTP peer counted in TorrentStats.UTPPeers")
			}
			if st.HashFailures != 0 {
				t.Errorf("%d hash failures from libtorrent", st.HashFailures)
			}
			t.Logf("stats: %+v", st)
		})
	}
}

// TestSessionSeedToLibtorrentUTP seeds to libtorrent, which speaks uTP only
// and connects to our address (connect_peer): it reaches us on the UDP
// port of our TCP listener, through our incoming handshake in plaintext
// and with MSE required.
func TestSessionSeedToLibtorrentUTP(t *testing.T) {
	for _, enc := range []bittern.Encryption{bittern.EncryptionAccept, bittern.EncryptionRequired} {
		t.Run(enc.String(), func(t *testing.T) { sessionSeedToLibtorrentUTP(t, enc) })
	}
}

func sessionSeedToLibtorrentUTP(t *testing.T, enc bittern.Encryption) {
	dir := t.TempDir()
	want := sessionWriteFile(t, filepath.Join(dir, "seed", "film.bin"), 6<<20+77, 41)
	torrent := filepath.Join(dir, "film.torrent")
	mi := sessionBuildV1(t, filepath.Join(dir, "seed", "film.bin"), torrent, 128<<10)

	s, tor := seedingSession(t, &bittern.Config{ListenAddr: "127.0.0.1:0", DataDir: filepath.Join(dir, "seed"), UTP: true, Dialer: &noTCPDialer{}, Encryption: enc}, mi)
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	ourPort := s.UTPAddr().(*net.UDPAddr).Port
	if ourPort != s.Addr().(*net.TCPAddr).Port {
		t.Fatalf("uTP on %v, TCP on %v", s.UTPAddr(), s.Addr())
	}
	out := runPython(t, ctx, sessionLTUTPOnly(sessionLTLeech), torrent, filepath.Join(dir, "lt"), fmt.Sprint(freePort(t, "udp")), fmt.Sprint(ourPort), "90")
	if !strings.Contains(string(out), "finished") {
		t.Fatalf("libtorrent did not finish:\n%s", out)
	}
	got, err := os.ReadFile(filepath.Join(dir, "lt", "film.bin"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatal("libtorrent's data differs")
	}
	if up := tor.Stats().Uploaded; up < mi.Info().TotalLength() {
		t.Errorf("uploaded %d bytes, want at least %d", up, mi.Info().TotalLength())
	}
}
