package main

import (
	"bytes"
	"context"
	"encoding/json"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/bittern/bittern"
	"github.com/bittern/bittern/metainfo"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestUsage(t *testing.T) {
	for _, args := range [][]string{nil, {"-peer", "127.0.0.1:1"}, {"-torrent", "x"}, {"-peer", "a", "-torrent", "b", "-run", "("}, {"-peer", "a", "-torrent", filepath.Join(t.TempDir(), "missing.torrent")}} {
		var out, errb bytes.Buffer
		if code := run(context.Background(), args, &out, &errb); code != 2 {
			t.Errorf("run(%q) = %d, want 2; stderr %s", args, code, errb.String())
		}
	}
}

// TestJSONAgainstBittern runs two cases against a bittern seeder and
// checks the JSON report's shape.
func TestJSONAgainstBittern(t *testing.T) {
	dir := t.TempDir()
	data := make([]byte, 5*32<<10+3)
	r := rand.New(rand.NewPCG(1, 2))
	for i := range data {
		data[i] = byte(r.Uint32())
	}
	path := filepath.Join(dir, "d.bin")
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	mi, err := (&metainfo.Builder{Version: metainfo.V1, PieceLength: 32 << 10, NoCreationDate: true}).Build(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	torrent := filepath.Join(dir, "d.torrent")
	f, err := os.Create(torrent)
	if err != nil {
		t.Fatal(err)
	}
	if err := mi.Write(f); err != nil {
		t.Fatal(err)
	}
	f.Close()
	s, err := bittern.NewSession(&bittern.Config{ListenAddr: "127.0.0.1:0", DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := s.AddTorrent(ctx, mi, nil); err != nil {
		t.Fatal(err)
	}
	addr := s.Addr().(*net.TCPAddr).String()
	var out, errb bytes.Buffer
	if code := run(ctx, []string{"-peer", addr, "-torrent", torrent, "-json", "-run", `^(1\.1|6\.1)$`, "-timeout", "10s"}, &out, &errb); code != 0 {
		t.Fatalf("exit %d: %s\n%s", code, errb.String(), out.String())
	}
	var rep struct {
		Peer  string `json:"peer"`
		Cases []struct {
			ID, BEP, Title, Result, Detail string
		} `json:"cases"`
	}
	if err := json.Unmarshal(out.Bytes(), &rep); err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	if rep.Peer != addr || len(rep.Cases) != 2 || rep.Cases[0].ID != "1.1" || rep.Cases[1].ID != "6.1" {
		t.Fatalf("report %+v", rep)
	}
	for _, c := range rep.Cases {
		if c.Result != "pass" || !strings.HasPrefix(c.BEP, "BEP ") || c.Title == "" || c.Detail == "" {
			t.Errorf("case %+v", c)
		}
	}
	out.Reset()
	if code := run(ctx, []string{"-peer", addr, "-torrent", torrent, "-run", `^1\.1$`}, &out, &errb); code != 0 || !strings.Contains(out.String(), "1 cases: 1 passed, 0 failed") {
		t.Fatalf("text output (exit %d):\n%s", code, out.String())
	}
}
