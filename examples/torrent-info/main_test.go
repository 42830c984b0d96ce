package main

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
)

const corpus = "../../metainfo/testdata/libtorrent/"

func runInfo(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var o, e bytes.Buffer
	code = run(args, &o, &e)
	return code, o.String(), e.String()
}

func TestTorrentJSON(t *testing.T) {
	code, out, errOut := runInfo(t, "-json", corpus+"v2_hybrid.torrent")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	var got map[string]any
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{
		"name":         "bittorrent-v1-v2-hybrid-test",
		"info_hash":    "514c76c1f27ec61ca8b37851bcd1cbf0b26cf120",
		"info_hash_v2": "518fbaf39b37020c896e8768a967da6d76bbd5ef7a02c761021b65a72c6cfa11",
		"piece_length": 524288.0,
		"num_pieces":   1715.0,
		"total_length": 899153920.0,
		"private":      false,
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %v, want %v", k, got[k], v)
		}
	}
	files := got["files"].([]any)
	if len(files) != 18 {
		t.Fatalf("%d files, want 18", len(files))
	}
	f0 := files[0].(map[string]any)
	if f0["path"] != "Darkroom (Stellar, 1994, Amiga ECS) HQ.mp4" || f0["length"] != 6535405.0 || f0["pad"] != false {
		t.Errorf("file 0 = %v", f0)
	}
	if f1 := files[1].(map[string]any); f1["pad"] != true {
		t.Errorf("file 1 = %v, want a pad file", f1)
	}
	if tr, ok := got["trackers"].([]any); !ok || len(tr) != 0 {
		t.Errorf("trackers = %v, want []", got["trackers"])
	}
	if ws, ok := got["web_seeds"].([]any); !ok || len(ws) != 0 {
		t.Errorf("web_seeds = %v, want []", got["web_seeds"])
	}
}

func TestTorrentJSONTrackers(t *testing.T) {
	code, out, _ := runInfo(t, "-json", corpus+"sample.torrent")
	if code != 0 {
		t.Fatal(code)
	}
	var got struct {
		Trackers [][]string `json:"trackers"`
		Files    []struct {
			Path string `json:"path"`
		} `json:"files"`
	}
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatal(err)
	}
	if len(got.Trackers) == 0 || len(got.Trackers[0]) == 0 {
		t.Errorf("trackers = %v", got.Trackers)
	}
	if len(got.Files) != 3 || got.Files[1].Path != ".____padding_file/0" {
		t.Errorf("files = %v", got.Files)
	}
}

func TestHumanSummary(t *testing.T) {
	code, out, _ := runInfo(t, corpus+"v2_only.torrent")
	if code != 0 {
		t.Fatal(code)
	}
	for _, s := range []string{"name:          test1MB", "kind:          v2", "info hash v2:  95e04d0c4bad94ab206efa884666fd89777dbe4f7bd9945af1829037a85c6192", "1048576  test1MB"} {
		if !strings.Contains(out, s) {
			t.Errorf("summary lacks %q:\n%s", s, out)
		}
	}
	if strings.Contains(out, "info hash: ") {
		t.Errorf("v2-only torrent shows a v1 hash:\n%s", out)
	}
}

func TestMagnet(t *testing.T) {
	link := "magnet:?xt=urn:btih:c0fda1edafdbdbb96443424e0b3899af7159d10e&xt=urn:btmh:1220597b180c1a170a585dfc5e85d834d69013ceda174b8f357d5bb1a0ca509faf0a" +
		"&dn=temp&tr=udp%3A%2F%2Ft%3A1&tr=http://u/a&x.pe=127.0.0.1:6881&so=0,2-3"
	code, out, errOut := runInfo(t, "-json", link)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	var got magnetJSON
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatal(err)
	}
	want := magnetJSON{
		InfoHash:   "c0fda1edafdbdbb96443424e0b3899af7159d10e",
		InfoHashV2: "597b180c1a170a585dfc5e85d834d69013ceda174b8f357d5bb1a0ca509faf0a",
		Name:       "temp", Trackers: []string{"udp://t:1", "http://u/a"},
		Peers: []string{"127.0.0.1:6881"}, SelectOnly: []int{0, 2, 3},
	}
	if got.InfoHash != want.InfoHash || got.InfoHashV2 != want.InfoHashV2 || got.Name != want.Name ||
		strings.Join(got.Trackers, " ") != strings.Join(want.Trackers, " ") ||
		strings.Join(got.Peers, " ") != strings.Join(want.Peers, " ") || len(got.SelectOnly) != 3 || got.SelectOnly[1] != 2 {
		t.Errorf("got %+v\nwant %+v", got, want)
	}
	code, out, _ = runInfo(t, link)
	if code != 0 || !strings.Contains(out, "tracker:       udp://t:1") {
		t.Errorf("human magnet output (exit %d):\n%s", code, out)
	}
}

func TestErrors(t *testing.T) {
	for _, tt := range []struct{ arg, want string }{
		{corpus + "zero.torrent", "invalid length"},
		{corpus + "v2_piece_layer_invalid_file_hash.torrent", "piece layer"},
		{corpus + "no_name.torrent", "info.name"},
		{corpus + "does-not-exist.torrent", "no such file"},
		{"magnet:?dn=x", "invalid magnet link"},
	} {
		code, out, errOut := runInfo(t, tt.arg)
		if code != 1 || out != "" {
			t.Errorf("%s: exit %d, stdout %q", tt.arg, code, out)
		}
		if strings.Count(errOut, "\n") != 1 || !strings.Contains(errOut, tt.want) || !strings.HasPrefix(errOut, "torrent-info: ") {
			t.Errorf("%s: stderr %q, want one line containing %q", tt.arg, errOut, tt.want)
		}
	}
	if code, _, _ := runInfo(t); code != 2 {
		t.Errorf("no arguments: exit %d, want 2", code)
	}
}
