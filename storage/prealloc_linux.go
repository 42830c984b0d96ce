package storage

import (
	"errors"
	"os"
	"syscall"
)

// allocate reserves size bytes for f, extending it if shorter. A file
// already fully allocated is left alone: fallocate would bump its
// modification time and make a completion record look stale.
func allocate(f *os.File, size int64) error {
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok && fi.Size() >= size && st.Blocks*512 >= size {
		return nil
	}
	for {
		err := syscall.Fallocate(int(f.Fd()), 0, 0, size)
		if errors.Is(err, syscall.EINTR) {
			continue
		}
		if errors.Is(err, syscall.EOPNOTSUPP) || errors.Is(err, syscall.ENOSYS) {
			return truncateUp(f, size)
		}
		return err
	}
}
