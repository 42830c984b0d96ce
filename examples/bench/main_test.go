package main

import (
	"bytes"
	"encoding/json"
	"os"
	"strconv"
	"strings"
	"testing"

	"go.uber.org/goleak"
)

// TestMain lets the test binary act as bench's children: the parent
// re-executes os.Executable, which under test is this binary.
func TestMain(m *testing.M) {
	if len(os.Args) > 1 && (os.Args[1] == "seed" || os.Args[1] == "leech") {
		os.Exit(child(os.Args[1], os.Args[2:], os.Stdout, os.Stderr))
	}
	os.Exit(m.Run())
}

func benchJSON(t *testing.T, args ...string) []result {
	t.Helper()
	var out, errOut bytes.Buffer
	if code := run(append([]string{"-json", "-timeout", "2m", "-dir", t.TempDir()}, args...), &out, &errOut); code != 0 {
		t.Fatalf("exit %d: %s", code, errOut.String())
	}
	var rs []result
	dec := json.NewDecoder(&out)
	for dec.More() {
		var r result
		if err := dec.Decode(&r); err != nil {
			t.Fatalf("%v in %q", err, out.String())
		}
		rs = append(rs, r)
	}
	return rs
}

func checkResult(t *testing.T, r result, impl string, size int64) {
	t.Helper()
	if r.Impl != impl || r.Bytes != size {
		t.Errorf("impl %q bytes %d, want %q %d", r.Impl, r.Bytes, impl, size)
	}
	if r.Seconds <= 0 || r.MiBPerS <= 0 {
		t.Errorf("seconds %v, MiB/s %v: want positive", r.Seconds, r.MiBPerS)
	}
	if r.LeecherCPU <= 0 || r.SeederCPU <= 0 {
		t.Errorf("CPU seconds %v/%v: want positive", r.SeederCPU, r.LeecherCPU)
	}
	if r.LeecherRSS <= 1 || r.SeederRSS <= 1 {
		t.Errorf("peak RSS %v/%v MiB: want more than 1", r.SeederRSS, r.LeecherRSS)
	}
}

// TestBittern transfers a small file (not a whole number of pieces) between
// two bittern processes; bench itself compares the bytes.
func TestBittern(t *testing.T) {
	defer goleak.VerifyNone(t)
	const size = 5<<20 + 12345
	rs := benchJSON(t, "-size", strconv.Itoa(size), "-piece", "65536")
	if len(rs) != 1 {
		t.Fatalf("%d results, want 1", len(rs))
	}
	checkResult(t, rs[0], "bittern", size)
}

func TestTextOutput(t *testing.T) {
	var out, errOut bytes.Buffer
	if code := run([]string{"-size", "100000", "-dir", t.TempDir()}, &out, &errOut); code != 0 {
		t.Fatalf("exit %d: %s", code, errOut.String())
	}
	if s := out.String(); !strings.HasPrefix(s, "bittern ") || !strings.Contains(s, "100000 bytes in ") || !strings.Contains(s, "MiB/s") {
		t.Errorf("output %q", s)
	}
}

func TestFlags(t *testing.T) {
	for _, args := range [][]string{
		{"-impl", "rtorrent"},
		{"-size", "0"},
		{"extra"},
	} {
		var out, errOut bytes.Buffer
		if code := run(args, &out, &errOut); code != 2 {
			t.Errorf("%v: exit %d, want 2", args, code)
		}
		if errOut.Len() == 0 {
			t.Errorf("%v: no message", args)
		}
	}
}
