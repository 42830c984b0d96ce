//go:build interop

package conformance

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/bittern/bittern/metainfo"
)

// announceOutput is the -json object of examples/announce (an announce's
// fields and a scrape's together; each run fills one set).
type announceOutput struct {
	Interval    *int64   `json:"interval"`
	MinInterval *int64   `json:"min_interval"`
	Seeders     *int     `json:"seeders"`
	Leechers    *int     `json:"leechers"`
	Peers       []string `json:"peers"`
	Complete    *int     `json:"complete"`
	Incomplete  *int     `json:"incomplete"`
	Downloaded  *int     `json:"downloaded"`
}

// TestAnnounceExampleOpentracker runs the examples/announce program against
// opentracker over HTTP and UDP: two announces see each other, -scrape
// counts them, and a refused torrent exits 1 with the reason (HTTP) or a
// timeout (opentracker drops such UDP announces unanswered).
func TestAnnounceExampleOpentracker(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	defer cancel()
	bin := filepath.Join(t.TempDir(), "announce")
	if out, err := exec.CommandContext(ctx, "go", "build", "-o", bin, "../examples/announce").CombinedOutput(); err != nil {
		t.Fatalf("go build examples/announce: %v\n%s", err, out)
	}
	ihHTTP := metainfo.HashBytes([]byte("announce example over http"))
	ihUDP := metainfo.HashBytes([]byte("announce example over udp"))
	httpURL, udpURL := startOpentracker(t, ihHTTP, ihUDP)

	run := func(t *testing.T, args ...string) (out announceOutput, stderr string, code int) {
		t.Helper()
		cmd := exec.CommandContext(ctx, bin, args...)
		var so, se bytes.Buffer
		cmd.Stdout, cmd.Stderr = &so, &se
		err := cmd.Run()
		var ee *exec.ExitError
		switch {
		case err == nil:
			if err := json.Unmarshal(so.Bytes(), &out); err != nil {
				t.Fatalf("announce %q: stdout %q: %v", args, so.String(), err)
			}
		case errors.As(err, &ee):
			code = ee.ExitCode()
		default:
			t.Fatal(err)
		}
		return out, se.String(), code
	}
	for _, tc := range []struct {
		name, url string
		ih        metainfo.Hash
	}{{"http", httpURL, ihHTTP}, {"udp", udpURL, ihUDP}} {
		t.Run(tc.name, func(t *testing.T) {
			ih := tc.ih.String()
			seed, stderr, code := run(t, "-json", "-event", "started", "-port", "40021", tc.url, ih)
			if code != 0 {
				t.Fatalf("seeder: exit %d: %s", code, stderr)
			}
			if seed.Interval == nil || *seed.Interval <= 0 || seed.MinInterval == nil || seed.Peers == nil {
				t.Fatalf("seeder JSON lacks fields: %+v", seed)
			}
			leech, stderr, code := run(t, "-json", "-event", "started", "-port", "40022", "-left", "1000", "-numwant", "20", tc.url, ih)
			if code != 0 {
				t.Fatalf("leecher: exit %d: %s", code, stderr)
			}
			if !slices.Contains(leech.Peers, "127.0.0.1:40021") || *leech.Seeders != 1 || *leech.Leechers != 1 {
				t.Fatalf("leecher sees %+v (peers %v), want the seeder and counts 1/1", leech, leech.Peers)
			}
			again, _, code := run(t, "-json", "-port", "40021", tc.url, ih)
			if code != 0 || !slices.Contains(again.Peers, "127.0.0.1:40022") {
				t.Fatalf("seeder's second announce: exit %d, peers %v, want the leecher", code, again.Peers)
			}
			sc, stderr, code := run(t, "-json", "-scrape", tc.url, ih)
			if code != 0 {
				t.Fatalf("scrape: exit %d: %s", code, stderr)
			}
			if sc.Complete == nil || *sc.Complete != 1 || *sc.Incomplete != 1 || *sc.Downloaded != 0 || sc.Peers != nil {
				t.Fatalf("scrape JSON %+v, want complete 1, incomplete 1, downloaded 0", sc)
			}
			_, stderr, code = run(t, "-json", "-timeout", "3s", tc.url, strings.Repeat("ab", 20))
			want := "timed out"
			if tc.name == "http" {
				want = "failure"
			}
			if code != 1 || !strings.Contains(stderr, want) {
				t.Fatalf("non-whitelisted torrent: exit %d, stderr %q, want 1 and %q", code, stderr, want)
			}
			t.Logf("refused: %s", strings.TrimSpace(stderr))
		})
	}
}
