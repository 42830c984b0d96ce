package main

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestRunStopsOnCancel(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- run(ctx, []string{"-http", "127.0.0.1:0", "-udp", "127.0.0.1:0"}) }()
	time.Sleep(100 * time.Millisecond) // let it start serving; not a timing assertion
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("run did not return after cancel")
	}
	if err := run(context.Background(), nil); err == nil {
		t.Fatal("run without addresses succeeded")
	}
}

func TestReadWhitelist(t *testing.T) {
	fn := filepath.Join(t.TempDir(), "wl")
	os.WriteFile(fn, []byte("# comment\n0123456789ABCDEF0123456789abcdef01234567\n\n"), 0o644)
	m, err := readWhitelist(fn)
	if err != nil || len(m) != 1 {
		t.Fatalf("readWhitelist = %v, %v", m, err)
	}
	os.WriteFile(fn, []byte("nothex\n"), 0o644)
	if _, err := readWhitelist(fn); err == nil {
		t.Fatal("bad line accepted")
	}
}
