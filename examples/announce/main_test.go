package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http/httptest"
	"strings"
	"testing"

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
	if s != (scrapeJSON{Complete: 1, Incomplete: 1}) {
		t.Fatalf("scrape JSON = %+v", s)
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
