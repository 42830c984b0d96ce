//go:build !(linux && (amd64 || arm64))

package storage

// defaultWritebackOps is nil: this platform has no sync_file_range, so
// Dir leaves writeback to the operating system.
var defaultWritebackOps writebackOps
