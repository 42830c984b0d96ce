package peerwire

import (
	"errors"
	"fmt"
	"strings"
)

// Sentinel errors wrapped by *ProtocolError; match them with errors.Is.
var (
	// ErrMessageTooLarge reports a length prefix above the framer's maximum
	// message length (DefaultMaxMessageLength unless changed). The payload
	// is not read.
	ErrMessageTooLarge = errors.New("peerwire: message too large")
	// ErrBadLength reports a message whose length does not fit its type.
	ErrBadLength = errors.New("peerwire: bad message length")
	// ErrIndexOutOfRange reports a piece index at or beyond the piece count,
	// or a block beyond the end of its piece.
	ErrIndexOutOfRange = errors.New("peerwire: piece index out of range")
	// ErrBadBitfield reports a bitfield of the wrong size for the piece
	// count, or with spare bits set.
	ErrBadBitfield = errors.New("peerwire: bad bitfield")
	// ErrBadRequestLength reports a request, cancel, reject or piece block
	// of zero bytes or more than MaxRequestLength.
	ErrBadRequestLength = errors.New("peerwire: bad block length")
	// ErrBadHashRequest reports a BEP 52 hash request, hashes or hash
	// reject message whose fields break the BEP's rules.
	ErrBadHashRequest = errors.New("peerwire: bad hash request")
	// ErrNotNegotiated reports a message of an extension the handshake did
	// not negotiate (see Framer.SetExtensions).
	ErrNotNegotiated = errors.New("peerwire: extension not negotiated")
	// ErrTooManyKeepAlives reports more than MaxKeepAlives keep-alives in
	// a row.
	ErrTooManyKeepAlives = errors.New("peerwire: too many keep-alives")
)

// ProtocolError is a message that breaks the peer wire protocol. The
// connection should be closed: after a ProtocolError the Framer's read side
// is no longer usable.
type ProtocolError struct {
	ID     ID     // the offending message's ID (meaningless if Length is 0)
	Length uint32 // its length prefix
	Err    error  // one of the sentinels above, possibly wrapped with detail
}

func (e *ProtocolError) Error() string {
	if e.Length == 0 {
		return fmt.Sprintf("peerwire: bad keep-alive: %s", strings.TrimPrefix(e.Err.Error(), "peerwire: "))
	}
	return fmt.Sprintf("peerwire: bad %s message (length %d): %s", e.ID, e.Length,
		strings.TrimPrefix(e.Err.Error(), "peerwire: "))
}

// Unwrap returns e.Err.
func (e *ProtocolError) Unwrap() error { return e.Err }
