//go:build linux

package utp

import (
	"encoding/binary"
	"errors"
	"net"
	"syscall"
)

// Linux UDP socket options and control messages (linux/udp.h).
const (
	solUDP     = 17  // SOL_UDP
	udpSegment = 103 // UDP_SEGMENT: GSO segment size, socket option or cmsg
	udpGRO     = 104 // UDP_GRO: receive coalesced datagrams, cmsg gives the segment size
)

// setupUDP turns on the Linux fast path of a *net.UDPConn: UDP GRO for
// reads (refused by kernels before 5.0: gro stays off) and UDP GSO for
// writes (tried on first use; turned off if refused).
func setupUDP(uc *net.UDPConn) (gso, gro bool) {
	rc, err := uc.SyscallConn()
	if err != nil {
		return false, false
	}
	var serr error
	if err := rc.Control(func(fd uintptr) {
		serr = syscall.SetsockoptInt(int(fd), solUDP, udpGRO, 1)
	}); err != nil {
		return false, false
	}
	return true, serr == nil
}

// gsoOOB returns the control message asking the kernel to split a datagram
// into seg-byte segments.
func gsoOOB(dst []byte, seg int) []byte {
	hdr := syscall.SizeofCmsghdr
	space := syscall.CmsgSpace(2)
	b := append(dst[:0], make([]byte, space)...)
	// struct cmsghdr { size_t len; int level; int type; }: len is 4 or 8
	// bytes, native endian.
	if hdr-8 == 8 {
		binary.NativeEndian.PutUint64(b, uint64(syscall.CmsgLen(2)))
	} else {
		binary.NativeEndian.PutUint32(b, uint32(syscall.CmsgLen(2)))
	}
	binary.NativeEndian.PutUint32(b[hdr-8:], solUDP)
	binary.NativeEndian.PutUint32(b[hdr-4:], udpSegment)
	binary.NativeEndian.PutUint16(b[hdr:], uint16(seg))
	return b
}

// writeGSO sends b to to as segments of seg bytes in one system call.
func writeGSO(uc *net.UDPConn, b []byte, seg int, to *net.UDPAddr) error {
	var oob [64]byte
	_, _, err := uc.WriteMsgUDP(b, gsoOOB(oob[:0], seg), to)
	return err
}

// gsoUnsupported reports whether a GSO send failed because the system
// cannot do GSO (EIO: no checksum offload; EINVAL, ENOPROTOOPT,
// EOPNOTSUPP: an old kernel or a path it refuses), not for a passing
// reason.
func gsoUnsupported(err error) bool {
	return errors.Is(err, syscall.EIO) || errors.Is(err, syscall.EINVAL) ||
		errors.Is(err, syscall.ENOPROTOOPT) || errors.Is(err, syscall.EOPNOTSUPP)
}

// groSegment returns the segment size from the UDP_GRO control message of
// a read, or 0 if there is none (one datagram).
func groSegment(oob []byte) int {
	hdr := syscall.SizeofCmsghdr
	for len(oob) >= hdr {
		var n int
		if hdr-8 == 8 {
			n = int(binary.NativeEndian.Uint64(oob))
		} else {
			n = int(binary.NativeEndian.Uint32(oob))
		}
		if n < hdr || n > len(oob) {
			return 0
		}
		level := binary.NativeEndian.Uint32(oob[hdr-8:])
		typ := binary.NativeEndian.Uint32(oob[hdr-4:])
		if level == solUDP && typ == udpGRO && n >= hdr+4 {
			return int(int32(binary.NativeEndian.Uint32(oob[hdr:])))
		}
		step := syscall.CmsgSpace(n - hdr)
		if step > len(oob) {
			return 0
		}
		oob = oob[step:]
	}
	return 0
}
