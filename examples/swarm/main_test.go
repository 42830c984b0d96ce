package main

import (
	"testing"
	"time"
)

// The demo runs end to end on loopback with a small file: one seeder and
// three leechers, on disk and in memory.
func TestSwarm(t *testing.T) {
	for _, mem := range []bool{false, true} {
		if err := run(3<<20+12345, 3, 64<<10, t.TempDir(), mem, 2*time.Minute); err != nil {
			t.Fatalf("mem=%v: %v", mem, err)
		}
	}
}
