//go:build !linux

package storage

import "os"

// allocate extends f to size bytes; this platform has no portable way to
// reserve blocks, so the file stays sparse.
func allocate(f *os.File, size int64) error { return truncateUp(f, size) }
