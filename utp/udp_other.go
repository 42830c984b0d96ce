//go:build !linux

package utp

import (
	"errors"
	"net"
)

var errNoGSO = errors.New("utp: no UDP GSO on this system")

// setupUDP: UDP GSO and GRO are Linux only.
func setupUDP(*net.UDPConn) (gso, gro bool) { return false, false }

// writeGSO is never called where setupUDP reports no GSO.
func writeGSO(*net.UDPConn, []byte, int, *net.UDPAddr) error { return errNoGSO }

// gsoUnsupported: every GSO error means no GSO here.
func gsoUnsupported(error) bool { return true }

// groSegment: no GRO, every read is one datagram.
func groSegment([]byte) int { return 0 }
