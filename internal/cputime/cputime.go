// Package cputime reads the CPU time the process has used, for benchmarks
// that report CPU seconds beside wall-clock time.
package cputime

import "time"

// Process returns the user plus system CPU time of this process so far;
// 0 where the platform does not say (then benchmarks report no CPU time).
func Process() time.Duration { return process() }
