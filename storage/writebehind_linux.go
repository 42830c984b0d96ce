//go:build linux && (amd64 || arm64)

package storage

import (
	"os"
	"syscall"
)

// sync_file_range(2) flags and posix_fadvise(2) advice, from the kernel's
// uapi headers (the syscall package does not define them).
const (
	syncFileRangeWaitBefore = 0x1
	syncFileRangeWrite      = 0x2
	syncFileRangeWaitAfter  = 0x4
	fadvDontNeed            = 4
)

// sysWriteback issues sync_file_range and posix_fadvise. Both take their
// 64-bit offsets in single registers on these architectures.
type sysWriteback struct{}

// defaultWritebackOps is what Dir uses when WriteBehind is set.
var defaultWritebackOps writebackOps = sysWriteback{}

func (sysWriteback) start(f *os.File, r byteRange) {
	syncFileRange(f, r, syncFileRangeWrite)
}

func (sysWriteback) drop(f *os.File, r byteRange) {
	if syncFileRange(f, r, syncFileRangeWaitBefore|syncFileRangeWrite|syncFileRangeWaitAfter) != 0 {
		return // pages not known clean: DONTNEED would skip them anyway
	}
	control(f, func(fd uintptr) syscall.Errno {
		_, _, e := syscall.Syscall6(syscall.SYS_FADVISE64, fd, uintptr(r.off), uintptr(r.n), fadvDontNeed, 0, 0)
		return e
	})
}

func syncFileRange(f *os.File, r byteRange, flags uintptr) syscall.Errno {
	return control(f, func(fd uintptr) syscall.Errno {
		for {
			_, _, e := syscall.Syscall6(syscall.SYS_SYNC_FILE_RANGE, fd, uintptr(r.off), uintptr(r.n), flags, 0, 0)
			if e != syscall.EINTR {
				return e
			}
		}
	})
}

// control runs fn on f's descriptor, which stays open meanwhile.
func control(f *os.File, fn func(fd uintptr) syscall.Errno) syscall.Errno {
	rc, err := f.SyscallConn()
	if err != nil {
		return syscall.EBADF
	}
	var e syscall.Errno
	if err := rc.Control(func(fd uintptr) { e = fn(fd) }); err != nil {
		return syscall.EBADF
	}
	return e
}
