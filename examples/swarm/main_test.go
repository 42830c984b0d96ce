package main

import (
	"bytes"
	"context"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// The demo runs end to end on loopback with a small file: a tracker, one
// seeder and three leechers that find each other through the tracker. The
// output is not a terminal, so it prints plain lines and the summary.
func TestSwarm(t *testing.T) {
	const size, leechers = 4<<20 + 12345, 3
	args := []string{"-size", strconv.Itoa(size), "-leechers", strconv.Itoa(leechers), "-piece", "65536", "-dir", t.TempDir(), "-timeout", "2m"}
	// The second run in the same -dir starts the leechers afresh.
	for range 2 {
		checkSwarm(t, args, size, leechers)
	}
}

// TestSwarmUTP runs the demo with its peers connected over uTP.
func TestSwarmUTP(t *testing.T) {
	const size, leechers = 4<<20 + 12345, 3
	checkSwarm(t, []string{"-utp", "-size", strconv.Itoa(size), "-leechers", strconv.Itoa(leechers), "-piece", "65536", "-dir", t.TempDir(), "-timeout", "2m"}, size, leechers)
}

// checkSwarm runs the demo with args and checks its summary.
func checkSwarm(t *testing.T, args []string, size, leechers int64) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	if code := run(context.Background(), args, &stdout, &stderr); code != 0 {
		t.Fatalf("exit %d: %s\n%s", code, stderr.String(), stdout.String())
	}
	out := stdout.String()
	t.Log(out)
	for _, want := range []string{"done: 3 leechers × 4.0 MiB in ", "verified: 3 copies match the source", "leechers uploaded "} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q", want)
		}
	}
	// One line per peer with its exact uploads. Every byte a leecher
	// received was uploaded by one of the peers, and every peer announced
	// to the tracker (the only way the leechers learn of any peer).
	re := regexp.MustCompile(`(?m)^(seeder|leecher \d):\s+uploaded\s+(\d+) bytes .* (\d+) tracker announces$`)
	m := re.FindAllStringSubmatch(out, -1)
	if len(m) != int(1+leechers) {
		t.Fatalf("%d peer lines in the summary, want %d", len(m), 1+leechers)
	}
	var uploaded int64
	for _, l := range m {
		n, _ := strconv.ParseInt(l[2], 10, 64)
		uploaded += n
		if l[3] == "0" {
			t.Errorf("%s never announced to the tracker", l[1])
		}
	}
	if uploaded < size*leechers {
		t.Errorf("peers uploaded %d bytes in total, less than the %d the leechers received", uploaded, size*leechers)
	}
}

// A bad flag or argument exits with status 2, -h with 0.
func TestUsage(t *testing.T) {
	for _, c := range []struct {
		args []string
		code int
	}{
		{[]string{"-h"}, 0},
		{[]string{"-leechers", "0"}, 2},
		{[]string{"-size", "-1"}, 2},
		{[]string{"extra"}, 2},
		{[]string{"-nope"}, 2},
	} {
		var stdout, stderr bytes.Buffer
		if code := run(context.Background(), c.args, &stdout, &stderr); code != c.code {
			t.Errorf("%v: exit %d, want %d (%s)", c.args, code, c.code, stderr.String())
		}
	}
}
