//go:build !linux

package main

import (
	"errors"
	"time"
)

// processCPU is not known for a running process on this platform.
func processCPU(pid int) (time.Duration, error) {
	return 0, errors.New("bench: CPU time of a running process not available on this platform")
}
