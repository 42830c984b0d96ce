package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"maps"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"

	"go.uber.org/goleak"

	"github.com/bittern/bittern/metainfo"
	"github.com/bittern/bittern/tracker"
)

const ih = "0123456789abcdef0123456789abcdef01234567"

func TestAnnounceJSON(t *testing.T) {
	allowed, _ := metainfo.ParseHash(ih)
	srv := tracker.NewServer(&tracker.ServerConfig{Allow: func(h metainfo.Hash) bool { return h == allowed }})
	ts := httptest.NewServer(srv)
	defer ts.Close()
	url := ts.URL + "/announce"
	ctx := context.Background()

	var out bytes.Buffer
	if err := run(ctx, []string{"-json", "-event", "started", "-port", "1111", url, ih}, &out, &out); err != nil {
		t.Fatal(err)
	}
	out.Reset()
	if err := run(ctx, []string{"-json", "-left", "10", "-port", "2222", "-numwant", "5", url, ih}, &out, &out); err != nil {
		t.Fatal(err)
	}
	var a announceJSON
	if err := json.Unmarshal(out.Bytes(), &a); err != nil {
		t.Fatalf("%q: %v", out.String(), err)
	}
	if a.Interval != 1800 || a.Seeders != 1 || a.Leechers != 1 || len(a.Peers) != 1 || a.Peers[0] != "127.0.0.1:1111" {
		t.Fatalf("announce JSON = %+v", a)
	}

	out.Reset()
	if err := run(ctx, []string{"-json", "-scrape", url, ih}, &out, &out); err != nil {
		t.Fatal(err)
	}
	var s scrapeJSON
	if err := json.Unmarshal(out.Bytes(), &s); err != nil {
		t.Fatal(err)
	}
	if s.Complete != 1 || s.Incomplete != 1 || s.Downloaded != 0 || s.Downloaders == nil || *s.Downloaders != 1 {
		t.Fatalf("scrape JSON = %+v", s)
	}

	// A partial seed (BEP 21) is incomplete but not a downloader.
	if err := run(ctx, []string{"-json", "-event", "paused", "-left", "10", "-port", "3333", url, ih}, &out, &out); err != nil {
		t.Fatal(err)
	}
	out.Reset()
	if err := run(ctx, []string{"-scrape", url, ih}, &out, &out); err != nil {
		t.Fatal(err)
	}
	if want := "complete 1, incomplete 2, downloaded 0, downloaders 1\n"; out.String() != want {
		t.Fatalf("scrape output %q, want %q", out.String(), want)
	}

	// Failures are errors carrying the reason (main exits 1 with it).
	err := run(ctx, []string{"-json", url, strings.Repeat("f", 40)}, &out, &out)
	if err == nil || !strings.Contains(err.Error(), "torrent not allowed") {
		t.Fatalf("err = %v, want the failure reason", err)
	}
	for _, args := range [][]string{{url}, {"-event", "x", url, ih}, {url, "zz"}, {"ftp://x/announce", ih}, {"-port", "70000", url, ih}} {
		if err := run(ctx, args, &out, &out); err == nil {
			t.Errorf("run(%q) succeeded", args)
		}
	}
}

// TestMain runs the program itself (main, with its exit code) when the
// test binary is started by TestExitCodes.
func TestMain(m *testing.M) {
	if os.Getenv("ANNOUNCE_TEST_RUN_MAIN") == "1" {
		main()
		os.Exit(0)
	}
	goleak.VerifyTestMain(m)
}

// runMain runs the program with args in a child process and returns its
// stdout, stderr and exit code.
func runMain(t *testing.T, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(os.Environ(), "ANNOUNCE_TEST_RUN_MAIN=1")
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	var ee *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &ee):
		code = ee.ExitCode()
	default:
		t.Fatal(err)
	}
	return out.String(), errOut.String(), code
}

// TestExitCodes checks the program's interface from outside: one JSON
// object and exit 0 on success; exit 1 with the reason on stderr for a
// failure reason, a timeout (HTTP and UDP) and bad arguments.
func TestExitCodes(t *testing.T) {
	allowed, _ := metainfo.ParseHash(ih)
	ts := httptest.NewServer(tracker.NewServer(&tracker.ServerConfig{Allow: func(h metainfo.Hash) bool { return h == allowed }}))
	defer ts.Close()
	url := ts.URL + "/announce"

	stdout, stderr, code := runMain(t, "-json", "-event", "started", "-port", "3333", "-numwant", "10", url, ih)
	if code != 0 {
		t.Fatalf("exit %d, stderr %q", code, stderr)
	}
	var fields map[string]any
	dec := json.NewDecoder(strings.NewReader(stdout))
	if err := dec.Decode(&fields); err != nil || dec.More() {
		t.Fatalf("stdout %q is not one JSON object: %v", stdout, err)
	}
	var keys []string
	for k := range fields {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	if want := []string{"interval", "leechers", "min_interval", "peers", "seeders"}; !slices.Equal(keys, want) {
		t.Fatalf("JSON fields %v, want %v", keys, want)
	}
	if _, ok := fields["peers"].([]any); !ok {
		t.Fatalf("peers is %T, want a list", fields["peers"])
	}

	stdout, stderr, code = runMain(t, "-json", "-scrape", url, ih)
	var sc map[string]int
	if code != 0 || json.Unmarshal([]byte(stdout), &sc) != nil {
		t.Fatalf("scrape: exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}
	if want := map[string]int{"complete": 1, "incomplete": 0, "downloaded": 0, "downloaders": 0}; !maps.Equal(sc, want) {
		t.Fatalf("scrape JSON %v, want %v", sc, want)
	}

	// A tracker that never answers, over HTTP and over UDP.
	hang := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() }))
	defer hang.Close()
	mute, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer mute.Close()

	for _, tc := range []struct {
		name   string
		args   []string
		stderr string
	}{
		{"failure reason", []string{"-json", url, strings.Repeat("f", 40)}, "torrent not allowed"},
		{"HTTP timeout", []string{"-timeout", "300ms", hang.URL + "/announce", ih}, "timed out"},
		{"UDP timeout", []string{"-timeout", "300ms", "udp://" + mute.LocalAddr().String(), ih}, "timed out"},
		{"UDP scrape timeout", []string{"-scrape", "-timeout", "300ms", "udp://" + mute.LocalAddr().String(), ih}, "timed out"},
		{"missing info-hash", []string{url}, "need TRACKER_URL and INFOHASH_HEX"},
		{"bad event", []string{"-event", "resumed", url, ih}, "unknown event"},
		{"bad flag", []string{"-nosuchflag", url, ih}, "flag provided but not defined"},
	} {
		_, stderr, code := runMain(t, tc.args...)
		if code != 1 || !strings.Contains(stderr, tc.stderr) {
			t.Errorf("%s: exit %d, stderr %q; want exit 1 and %q", tc.name, code, stderr, tc.stderr)
		}
	}
	if _, stderr, code := runMain(t, "-h"); code != 0 || !strings.Contains(stderr, "usage: announce [-json]") {
		t.Errorf("-h: exit %d, stderr %q", code, stderr)
	}
}

// A UDP scrape has no downloaders (BEP 15's fixed layout): the JSON has the
// issue's three keys only.
func TestScrapeJSONUDP(t *testing.T) {
	srv := tracker.NewServer(nil)
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = srv.ServeUDP(ctx, pc) }()
	defer func() { cancel(); <-done; pc.Close() }()
	url := "udp://" + pc.LocalAddr().String()

	var out bytes.Buffer
	if err := run(ctx, []string{"-json", "-event", "paused", "-left", "10", url, ih}, &out, &out); err != nil {
		t.Fatal(err)
	}
	out.Reset()
	if err := run(ctx, []string{"-json", "-scrape", url, ih}, &out, &out); err != nil {
		t.Fatal(err)
	}
	var sc map[string]int
	if err := json.Unmarshal(out.Bytes(), &sc); err != nil {
		t.Fatal(err)
	}
	if want := map[string]int{"complete": 0, "incomplete": 1, "downloaded": 0}; !maps.Equal(sc, want) {
		t.Fatalf("scrape JSON %v, want %v", sc, want)
	}
}
