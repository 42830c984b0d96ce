package peerwire

import (
	"encoding/binary"
	"fmt"
	"net/netip"
)

// ParseDontHave decodes a BEP 54 lt_donthave payload: the 4-byte index of
// a piece the sender no longer has.
func ParseDontHave(payload []byte) (uint32, error) {
	if len(payload) != 4 {
		return 0, &FieldError{"lt_donthave", "piece", fmt.Errorf("payload of %d bytes, want 4", len(payload))}
	}
	return binary.BigEndian.Uint32(payload), nil
}

// AppendDontHave appends the lt_donthave payload for piece to dst.
func AppendDontHave(dst []byte, piece uint32) []byte {
	return binary.BigEndian.AppendUint32(dst, piece)
}

// HolepunchType is the msg_type of a ut_holepunch message (BEP 55).
type HolepunchType uint8

// ut_holepunch message types.
const (
	HolepunchRendezvous HolepunchType = 0
	HolepunchConnect    HolepunchType = 1
	HolepunchError      HolepunchType = 2
)

// HolepunchErrorCode is the err_code of a ut_holepunch error message.
type HolepunchErrorCode uint32

// ut_holepunch error codes.
const (
	HolepunchNoSuchPeer   HolepunchErrorCode = 1
	HolepunchNotConnected HolepunchErrorCode = 2
	HolepunchNoSupport    HolepunchErrorCode = 3
	HolepunchNoSelf       HolepunchErrorCode = 4
)

// Holepunch is a BEP 55 ut_holepunch message.
type Holepunch struct {
	Type HolepunchType
	Addr netip.AddrPort
	Err  HolepunchErrorCode // 0 except in error messages
}

// ParseHolepunch decodes a ut_holepunch payload: msg_type, addr_type (0
// IPv4, 1 IPv6), the compact endpoint and a 4-byte error code. The length
// must be exact. Unknown msg_type values are returned for the caller to
// ignore.
func ParseHolepunch(payload []byte) (Holepunch, error) {
	const msg = "ut_holepunch"
	var h Holepunch
	if len(payload) < 2 {
		return h, &FieldError{msg, "addr_type", fmt.Errorf("payload of %d bytes", len(payload))}
	}
	size := 0
	switch payload[1] {
	case 0:
		size = 6
	case 1:
		size = 18
	default:
		return h, &FieldError{msg, "addr_type", fmt.Errorf("%d", payload[1])}
	}
	if len(payload) != 2+size+4 {
		return h, &FieldError{msg, "addr", fmt.Errorf("payload of %d bytes, want %d", len(payload), 2+size+4)}
	}
	h.Type = HolepunchType(payload[0])
	h.Addr = parseCompact(payload[2 : 2+size])
	h.Err = HolepunchErrorCode(binary.BigEndian.Uint32(payload[2+size:]))
	return h, nil
}

// AppendTo appends the ut_holepunch payload of h to dst. An IPv4-mapped
// address is sent as IPv4.
func (h Holepunch) AppendTo(dst []byte) []byte {
	a := h.Addr.Addr().Unmap()
	dst = append(dst, byte(h.Type))
	if a.Is4() {
		dst = append(dst, 0)
	} else {
		dst = append(dst, 1)
	}
	dst = appendCompact(dst, netip.AddrPortFrom(a, h.Addr.Port()))
	return binary.BigEndian.AppendUint32(dst, uint32(h.Err))
}
