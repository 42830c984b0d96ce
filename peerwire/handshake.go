package peerwire

import (
	"errors"
	"fmt"
	"io"
)

// Protocol is the protocol string sent at the start of every BitTorrent
// handshake (BEP 3), preceded on the wire by its length byte, 19.
const Protocol = "BitTorrent protocol"

// HandshakeLength is the length in bytes of a BitTorrent handshake: the
// length byte, the protocol string, 8 reserved bytes, the 20-byte info-hash
// and the 20-byte peer ID.
const HandshakeLength = 1 + len(Protocol) + 8 + 20 + 20

// Handshake errors.
var (
	// ErrBadProtocol reports a handshake whose protocol string is not
	// "\x13BitTorrent protocol".
	ErrBadProtocol = errors.New("peerwire: handshake protocol string is not BitTorrent protocol")
	// ErrUnknownInfoHash reports an incoming handshake for a torrent the
	// receiver does not serve.
	ErrUnknownInfoHash = errors.New("peerwire: handshake for an unknown info-hash")
)

// Reserved holds the 8 reserved handshake bytes that advertise protocol
// extensions. Bits are numbered as in the BEPs: byte 0 is sent first.
type Reserved [8]byte

// Extension bits in the reserved bytes, as (byte index, mask) pairs packed
// into a ReservedBit.
const (
	// ReservedDHT is BEP 5 (DHT; the peer understands the port message):
	// reserved[7] & 0x01.
	ReservedDHT ReservedBit = 7<<8 | 0x01
	// ReservedFast is BEP 6 (Fast Extension): reserved[7] & 0x04.
	ReservedFast ReservedBit = 7<<8 | 0x04
	// ReservedV2 is BEP 52 (the peer supports v2 and may upgrade a hybrid
	// torrent's connection to the v2 info-hash): reserved[7] & 0x10.
	ReservedV2 ReservedBit = 7<<8 | 0x10
	// ReservedExtension is BEP 10 (Extension Protocol): reserved[5] & 0x10.
	ReservedExtension ReservedBit = 5<<8 | 0x10
)

// ReservedBit names one extension bit of Reserved: the byte index in the
// high byte and the mask in the low byte.
type ReservedBit uint16

// Has reports whether bit is set in r.
func (r Reserved) Has(bit ReservedBit) bool {
	return r[bit>>8&7]&byte(bit) != 0
}

// Set returns r with bit set.
func (r Reserved) Set(bit ReservedBit) Reserved {
	r[bit>>8&7] |= byte(bit)
	return r
}

// Clear returns r with bit cleared.
func (r Reserved) Clear(bit ReservedBit) Reserved {
	r[bit>>8&7] &^= byte(bit)
	return r
}

// Intersect returns the bits set in both r and o: the extensions both sides
// of a connection support.
func (r Reserved) Intersect(o Reserved) Reserved {
	for i := range r {
		r[i] &= o[i]
	}
	return r
}

// DefaultReserved advertises the extensions this package implements for
// every torrent: DHT port, Fast and Extension Protocol. Add ReservedV2 only
// when sending the v1 info-hash of a hybrid torrent (BEP 52): libtorrent
// 2.0 refuses a plain handshake for a v1-only torrent that carries it
// ("invalid info-hash"), as the conformance suite shows.
var DefaultReserved = Reserved{}.Set(ReservedDHT).Set(ReservedFast).Set(ReservedExtension)

// Handshake is the BitTorrent handshake (BEP 3). For a v2 torrent, InfoHash
// is the SHA-256 info-hash truncated to 20 bytes (BEP 52).
type Handshake struct {
	Reserved Reserved
	InfoHash [20]byte
	PeerID   [20]byte
}

// AppendHandshake appends the 68-byte wire form of h to dst.
func AppendHandshake(dst []byte, h Handshake) []byte {
	dst = append(dst, byte(len(Protocol)))
	dst = append(dst, Protocol...)
	dst = append(dst, h.Reserved[:]...)
	dst = append(dst, h.InfoHash[:]...)
	return append(dst, h.PeerID[:]...)
}

// WriteHandshake writes h to w in a single Write call.
func WriteHandshake(w io.Writer, h Handshake) error {
	var buf [HandshakeLength]byte
	_, err := w.Write(AppendHandshake(buf[:0], h))
	return err
}

// ParseHandshake decodes a 68-byte handshake.
func ParseHandshake(b []byte) (Handshake, error) {
	var h Handshake
	if len(b) != HandshakeLength {
		return h, fmt.Errorf("peerwire: handshake is %d bytes, want %d", len(b), HandshakeLength)
	}
	if b[0] != byte(len(Protocol)) || string(b[1:20]) != Protocol {
		return h, ErrBadProtocol
	}
	copy(h.Reserved[:], b[20:28])
	copy(h.InfoHash[:], b[28:48])
	copy(h.PeerID[:], b[48:68])
	return h, nil
}

// ReadHandshake reads one complete handshake from r. It reads exactly
// HandshakeLength bytes, never more, so r can be handed to a Framer next.
// A stream that ends early yields io.ErrUnexpectedEOF (io.EOF if it ends
// before the first byte).
func ReadHandshake(r io.Reader) (Handshake, error) {
	var buf [HandshakeLength]byte
	// Read the protocol prefix first so that a peer speaking something else
	// is refused without waiting for 68 bytes it may never send.
	if _, err := io.ReadFull(r, buf[:20]); err != nil {
		return Handshake{}, err
	}
	if buf[0] != byte(len(Protocol)) || string(buf[1:20]) != Protocol {
		return Handshake{}, ErrBadProtocol
	}
	if _, err := io.ReadFull(r, buf[20:]); err != nil {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return Handshake{}, err
	}
	return ParseHandshake(buf[:])
}

// Initiate performs the initiating side of the handshake on rw: it writes
// ours, reads the peer's and checks that the peer answered for the same
// torrent. If ours advertises ReservedV2 and upgradeV2 is not the zero hash,
// the peer may instead answer with upgradeV2 (the truncated v2 info-hash of
// a hybrid torrent, BEP 52); the returned Handshake says which one it chose.
func Initiate(rw io.ReadWriter, ours Handshake, upgradeV2 [20]byte) (Handshake, error) {
	if err := WriteHandshake(rw, ours); err != nil {
		return Handshake{}, err
	}
	theirs, err := ReadHandshake(rw)
	if err != nil {
		return Handshake{}, err
	}
	if theirs.InfoHash != ours.InfoHash &&
		(upgradeV2 == [20]byte{} || !ours.Reserved.Has(ReservedV2) || theirs.InfoHash != upgradeV2) {
		return theirs, &InfoHashMismatchError{Want: ours.InfoHash, Got: theirs.InfoHash}
	}
	return theirs, nil
}

// InfoHashMismatchError reports a peer that answered a handshake for a
// different torrent than the one asked for.
type InfoHashMismatchError struct {
	Want, Got [20]byte
}

func (e *InfoHashMismatchError) Error() string {
	return fmt.Sprintf("peerwire: peer answered for info-hash %x, want %x", e.Got, e.Want)
}

// Answer performs the receiving side of the handshake on rw for a listener
// that serves several torrents: it reads the peer's handshake, asks lookup
// for the reply to send for its info-hash, and writes that reply. If lookup
// reports false, nothing is written and Answer returns ErrUnknownInfoHash
// with the peer's handshake. To upgrade a hybrid torrent's connection to v2
// (BEP 52), lookup returns a reply carrying the truncated v2 info-hash.
func Answer(rw io.ReadWriter, lookup func(theirs Handshake) (reply Handshake, ok bool)) (Handshake, error) {
	theirs, err := ReadHandshake(rw)
	if err != nil {
		return Handshake{}, err
	}
	reply, ok := lookup(theirs)
	if !ok {
		return theirs, ErrUnknownInfoHash
	}
	return theirs, WriteHandshake(rw, reply)
}
