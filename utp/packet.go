package utp

import (
	"encoding/binary"
	"errors"
)

// Packet types (BEP 29 "type").
const (
	stData  = 0 // ST_DATA: carries payload, consumes a sequence number
	stFin   = 1 // ST_FIN: end of the stream, consumes a sequence number
	stState = 2 // ST_STATE: an acknowledgement, no sequence number
	stReset = 3 // ST_RESET: the connection is unknown or aborted
	stSyn   = 4 // ST_SYN: opens a connection, consumes sequence number 1
)

const (
	version    = 1  // the only uTP header version
	headerSize = 20 // fixed header, before extensions

	extNone = 0 // end of the extension chain
	extSack = 1 // selective acknowledgement bitmask

	// maxSackBytes bounds the selective-ack bitmask we send (and the part
	// of a received one we look at): 32 bytes, 256 packets past ack_nr+1.
	maxSackBytes = 32
)

// Errors from decodePacket. A packet too short for a header, or whose first
// byte is not version 1 with a known type, is not uTP and is handed to the
// socket's fallback reader; one with a broken extension chain is uTP but
// invalid, and is ignored.
var (
	errShort     = errors.New("utp: packet shorter than a header")
	errVersion   = errors.New("utp: not header version 1")
	errType      = errors.New("utp: unknown packet type")
	errExtension = errors.New("utp: truncated extension chain")
)

// header is a decoded uTP packet header with its selective ack, if any.
type header struct {
	typ       uint8
	connID    uint16
	timestamp uint32 // sender's clock, microseconds
	tsDiff    uint32 // sender's clock minus our last timestamp it saw
	wnd       uint32 // sender's free receive window, bytes
	seq       uint16
	ack       uint16
	sack      []byte // selective ack bitmask; aliases the packet
}

// decodePacket parses b. The payload aliases b.
func decodePacket(b []byte) (h header, payload []byte, err error) {
	if len(b) < headerSize {
		return h, nil, errShort
	}
	if b[0]&0x0f != version {
		return h, nil, errVersion
	}
	h.typ = b[0] >> 4
	if h.typ > stSyn {
		return h, nil, errType
	}
	ext := b[1]
	h.connID = binary.BigEndian.Uint16(b[2:])
	h.timestamp = binary.BigEndian.Uint32(b[4:])
	h.tsDiff = binary.BigEndian.Uint32(b[8:])
	h.wnd = binary.BigEndian.Uint32(b[12:])
	h.seq = binary.BigEndian.Uint16(b[16:])
	h.ack = binary.BigEndian.Uint16(b[18:])
	p := b[headerSize:]
	// Each extension is [next type][length][length bytes]; the chain is
	// bounded by the packet, so a hostile chain ends at the packet's end.
	for ext != extNone {
		if len(p) < 2 {
			return h, nil, errExtension
		}
		next, n := p[0], int(p[1])
		if len(p) < 2+n {
			return h, nil, errExtension
		}
		if ext == extSack && h.sack == nil && n > 0 {
			// BEP 29 asks for a multiple of 4 bytes; libtorrent sends
			// any length from 1 byte. A second one is ignored.
			h.sack = p[2 : 2+n]
		}
		// Other extensions (libtorrent's close reason, 3) are skipped.
		ext = next
		p = p[2+n:]
	}
	return h, p, nil
}

// appendPacket appends the encoding of h (with h.sack as extension 1 if
// not empty) and payload to dst.
func appendPacket(dst []byte, h *header, payload []byte) []byte {
	ext := byte(extNone)
	if len(h.sack) > 0 {
		ext = extSack
	}
	dst = append(dst, h.typ<<4|version, ext)
	dst = binary.BigEndian.AppendUint16(dst, h.connID)
	dst = binary.BigEndian.AppendUint32(dst, h.timestamp)
	dst = binary.BigEndian.AppendUint32(dst, h.tsDiff)
	dst = binary.BigEndian.AppendUint32(dst, h.wnd)
	dst = binary.BigEndian.AppendUint16(dst, h.seq)
	dst = binary.BigEndian.AppendUint16(dst, h.ack)
	if len(h.sack) > 0 {
		dst = append(dst, extNone, byte(len(h.sack)))
		dst = append(dst, h.sack...)
	}
	return append(dst, payload...)
}

// seqLess reports whether a comes before b in 16-bit wrapping order.
func seqLess(a, b uint16) bool { return int16(a-b) < 0 }

// sackHas reports whether the bitmask marks packet ack+2+i as received.
func sackHas(mask []byte, i int) bool {
	return i>>3 < len(mask) && mask[i>>3]&(1<<(i&7)) != 0
}
