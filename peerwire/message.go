package peerwire

import (
	"encoding/binary"
	"fmt"
)

// ID is a peer wire message ID: the byte after the length prefix.
type ID uint8

// Message IDs (BEP 3, 5, 6, 10, 52).
const (
	IDChoke         ID = 0  // BEP 3
	IDUnchoke       ID = 1  // BEP 3
	IDInterested    ID = 2  // BEP 3
	IDNotInterested ID = 3  // BEP 3
	IDHave          ID = 4  // BEP 3
	IDBitfield      ID = 5  // BEP 3
	IDRequest       ID = 6  // BEP 3
	IDPiece         ID = 7  // BEP 3
	IDCancel        ID = 8  // BEP 3
	IDPort          ID = 9  // BEP 5
	IDSuggest       ID = 13 // BEP 6
	IDHaveAll       ID = 14 // BEP 6
	IDHaveNone      ID = 15 // BEP 6
	IDReject        ID = 16 // BEP 6
	IDAllowedFast   ID = 17 // BEP 6
	IDExtended      ID = 20 // BEP 10
	IDHashRequest   ID = 21 // BEP 52
	IDHashes        ID = 22 // BEP 52
	IDHashReject    ID = 23 // BEP 52
)

var idNames = [...]string{
	IDChoke: "choke", IDUnchoke: "unchoke", IDInterested: "interested",
	IDNotInterested: "not interested", IDHave: "have", IDBitfield: "bitfield",
	IDRequest: "request", IDPiece: "piece", IDCancel: "cancel", IDPort: "port",
	IDSuggest: "suggest piece", IDHaveAll: "have all", IDHaveNone: "have none",
	IDReject: "reject request", IDAllowedFast: "allowed fast", IDExtended: "extended",
	IDHashRequest: "hash request", IDHashes: "hashes", IDHashReject: "hash reject",
}

// String returns the message's name as the BEPs spell it, or "unknown(N)".
func (id ID) String() string {
	if int(id) < len(idNames) && idNames[id] != "" {
		return idNames[id]
	}
	return fmt.Sprintf("unknown(%d)", uint8(id))
}

// Message is one peer wire message. The concrete types are the structs of
// this package (KeepAlive, Choke, …, Unknown); ReadMessage returns pointers
// to them, and both values and pointers satisfy Message.
type Message interface {
	// AppendTo appends the message's complete wire form, length prefix
	// included, to dst.
	AppendTo(dst []byte) []byte
	// String describes the message for logs.
	String() string
}

func appendHeader(dst []byte, length uint32, id ID) []byte {
	dst = binary.BigEndian.AppendUint32(dst, length)
	return append(dst, byte(id))
}

func appendIndex(dst []byte, id ID, index uint32) []byte {
	return binary.BigEndian.AppendUint32(appendHeader(dst, 5, id), index)
}

func appendBlockRef(dst []byte, id ID, index, begin, length uint32) []byte {
	dst = appendHeader(dst, 13, id)
	dst = binary.BigEndian.AppendUint32(dst, index)
	dst = binary.BigEndian.AppendUint32(dst, begin)
	return binary.BigEndian.AppendUint32(dst, length)
}

// KeepAlive is the zero-length message (BEP 3).
type KeepAlive struct{}

// Choke tells the peer its requests will not be served (BEP 3).
type Choke struct{}

// Unchoke tells the peer its requests will be served (BEP 3).
type Unchoke struct{}

// Interested tells the peer we want some of its pieces (BEP 3).
type Interested struct{}

// NotInterested tells the peer we want none of its pieces (BEP 3).
type NotInterested struct{}

// HaveAll says the sender has every piece (BEP 6).
type HaveAll struct{}

// HaveNone says the sender has no piece (BEP 6).
type HaveNone struct{}

// AppendTo implements Message.
func (KeepAlive) AppendTo(dst []byte) []byte { return append(dst, 0, 0, 0, 0) }

// AppendTo implements Message.
func (Choke) AppendTo(dst []byte) []byte { return appendHeader(dst, 1, IDChoke) }

// AppendTo implements Message.
func (Unchoke) AppendTo(dst []byte) []byte { return appendHeader(dst, 1, IDUnchoke) }

// AppendTo implements Message.
func (Interested) AppendTo(dst []byte) []byte { return appendHeader(dst, 1, IDInterested) }

// AppendTo implements Message.
func (NotInterested) AppendTo(dst []byte) []byte { return appendHeader(dst, 1, IDNotInterested) }

// AppendTo implements Message.
func (HaveAll) AppendTo(dst []byte) []byte { return appendHeader(dst, 1, IDHaveAll) }

// AppendTo implements Message.
func (HaveNone) AppendTo(dst []byte) []byte { return appendHeader(dst, 1, IDHaveNone) }

func (KeepAlive) String() string     { return "keep-alive" }
func (Choke) String() string         { return "choke" }
func (Unchoke) String() string       { return "unchoke" }
func (Interested) String() string    { return "interested" }
func (NotInterested) String() string { return "not interested" }
func (HaveAll) String() string       { return "have all" }
func (HaveNone) String() string      { return "have none" }

// Have announces that the sender has verified piece Index (BEP 3).
type Have struct{ Index uint32 }

// Suggest suggests that the receiver download piece Index (BEP 6).
type Suggest struct{ Index uint32 }

// AllowedFast lets the receiver request piece Index while choked (BEP 6).
type AllowedFast struct{ Index uint32 }

// AppendTo implements Message.
func (m Have) AppendTo(dst []byte) []byte { return appendIndex(dst, IDHave, m.Index) }

// AppendTo implements Message.
func (m Suggest) AppendTo(dst []byte) []byte { return appendIndex(dst, IDSuggest, m.Index) }

// AppendTo implements Message.
func (m AllowedFast) AppendTo(dst []byte) []byte { return appendIndex(dst, IDAllowedFast, m.Index) }

func (m Have) String() string        { return fmt.Sprintf("have %d", m.Index) }
func (m Suggest) String() string     { return fmt.Sprintf("suggest piece %d", m.Index) }
func (m AllowedFast) String() string { return fmt.Sprintf("allowed fast %d", m.Index) }

// Bitfield lists the pieces the sender has, piece 0 in the high bit of the
// first byte; spare bits at the end are zero (BEP 3).
type Bitfield struct{ Bits []byte }

// AppendTo implements Message.
func (m Bitfield) AppendTo(dst []byte) []byte {
	return append(appendHeader(dst, uint32(1+len(m.Bits)), IDBitfield), m.Bits...)
}

// Has reports whether piece i is set.
func (m Bitfield) Has(i int) bool {
	return i >= 0 && i/8 < len(m.Bits) && m.Bits[i/8]&(0x80>>(i%8)) != 0
}

func (m Bitfield) String() string { return fmt.Sprintf("bitfield (%d bytes)", len(m.Bits)) }

// BitfieldLength returns the number of bytes of a bitfield for numPieces.
func BitfieldLength(numPieces int) int { return (numPieces + 7) / 8 }

// Request asks for Length bytes at offset Begin of piece Index (BEP 3).
type Request struct{ Index, Begin, Length uint32 }

// Cancel withdraws a Request (BEP 3).
type Cancel struct{ Index, Begin, Length uint32 }

// Reject refuses a Request (BEP 6).
type Reject struct{ Index, Begin, Length uint32 }

// AppendTo implements Message.
func (m Request) AppendTo(dst []byte) []byte {
	return appendBlockRef(dst, IDRequest, m.Index, m.Begin, m.Length)
}

// AppendTo implements Message.
func (m Cancel) AppendTo(dst []byte) []byte {
	return appendBlockRef(dst, IDCancel, m.Index, m.Begin, m.Length)
}

// AppendTo implements Message.
func (m Reject) AppendTo(dst []byte) []byte {
	return appendBlockRef(dst, IDReject, m.Index, m.Begin, m.Length)
}

func (m Request) String() string {
	return fmt.Sprintf("request %d:%d+%d", m.Index, m.Begin, m.Length)
}
func (m Cancel) String() string { return fmt.Sprintf("cancel %d:%d+%d", m.Index, m.Begin, m.Length) }
func (m Reject) String() string {
	return fmt.Sprintf("reject request %d:%d+%d", m.Index, m.Begin, m.Length)
}

// Piece carries the block at offset Begin of piece Index (BEP 3).
type Piece struct {
	Index, Begin uint32
	Block        []byte
}

// PieceHeaderLength is the length of a piece message before its block:
// length prefix, ID, index and begin.
const PieceHeaderLength = 4 + 1 + 4 + 4

// AppendTo implements Message.
func (m Piece) AppendTo(dst []byte) []byte {
	return append(appendPieceHeader(dst, m.Index, m.Begin, len(m.Block)), m.Block...)
}

func appendPieceHeader(dst []byte, index, begin uint32, n int) []byte {
	dst = appendHeader(dst, uint32(9+n), IDPiece)
	dst = binary.BigEndian.AppendUint32(dst, index)
	return binary.BigEndian.AppendUint32(dst, begin)
}

func (m Piece) String() string {
	return fmt.Sprintf("piece %d:%d+%d", m.Index, m.Begin, len(m.Block))
}

// Port gives the sender's DHT port (BEP 5).
type Port struct{ Port uint16 }

// AppendTo implements Message.
func (m Port) AppendTo(dst []byte) []byte {
	return binary.BigEndian.AppendUint16(appendHeader(dst, 3, IDPort), m.Port)
}

func (m Port) String() string { return fmt.Sprintf("port %d", m.Port) }

// Extended is a BEP 10 extension message: ExtendedID 0 is the extended
// handshake, other IDs are those the receiver assigned in its handshake's
// "m" dictionary. Payload is the bencoded (or otherwise encoded) body.
type Extended struct {
	ExtendedID uint8
	Payload    []byte
}

// AppendTo implements Message.
func (m Extended) AppendTo(dst []byte) []byte {
	dst = appendHeader(dst, uint32(2+len(m.Payload)), IDExtended)
	return append(append(dst, m.ExtendedID), m.Payload...)
}

func (m Extended) String() string {
	return fmt.Sprintf("extended %d (%d bytes)", m.ExtendedID, len(m.Payload))
}

// HashRequest asks for Length hashes of the merkle tree of the file whose
// root is PiecesRoot, starting at hash Index of layer BaseLayer (0 is the
// leaf layer), with ProofLayers uncle layers (BEP 52).
type HashRequest struct {
	PiecesRoot                            [32]byte
	BaseLayer, Index, Length, ProofLayers uint32
}

// HashReject refuses a HashRequest; it carries the request's fields
// (BEP 52).
type HashReject HashRequest

// Hashes answers a HashRequest: the request's fields followed by the
// requested hashes and then the uncle hashes, 32 bytes each (BEP 52).
type Hashes struct {
	HashRequest
	Hashes []byte
}

const hashRequestPayload = 32 + 4*4

func appendHashRequest(dst []byte, id ID, extra int, m HashRequest) []byte {
	dst = appendHeader(dst, uint32(1+hashRequestPayload+extra), id)
	dst = append(dst, m.PiecesRoot[:]...)
	dst = binary.BigEndian.AppendUint32(dst, m.BaseLayer)
	dst = binary.BigEndian.AppendUint32(dst, m.Index)
	dst = binary.BigEndian.AppendUint32(dst, m.Length)
	return binary.BigEndian.AppendUint32(dst, m.ProofLayers)
}

// AppendTo implements Message.
func (m HashRequest) AppendTo(dst []byte) []byte {
	return appendHashRequest(dst, IDHashRequest, 0, m)
}

// AppendTo implements Message.
func (m HashReject) AppendTo(dst []byte) []byte {
	return appendHashRequest(dst, IDHashReject, 0, HashRequest(m))
}

// AppendTo implements Message.
func (m Hashes) AppendTo(dst []byte) []byte {
	return append(appendHashRequest(dst, IDHashes, len(m.Hashes), m.HashRequest), m.Hashes...)
}

func (m HashRequest) String() string {
	return fmt.Sprintf("hash request %x layer %d %d+%d proofs %d", m.PiecesRoot[:4], m.BaseLayer, m.Index, m.Length, m.ProofLayers)
}
func (m HashReject) String() string {
	return fmt.Sprintf("hash reject %x layer %d %d+%d proofs %d", m.PiecesRoot[:4], m.BaseLayer, m.Index, m.Length, m.ProofLayers)
}
func (m Hashes) String() string {
	return fmt.Sprintf("hashes %x layer %d %d+%d proofs %d (%d hashes)", m.PiecesRoot[:4], m.BaseLayer, m.Index, m.Length, m.ProofLayers, len(m.Hashes)/32)
}

// Unknown is a message with an ID this package does not know. Peers must
// ignore such messages (BEP 3 leaves room for extensions), so ReadMessage
// returns it instead of an error.
type Unknown struct {
	MessageID ID
	Payload   []byte
}

// AppendTo implements Message.
func (m Unknown) AppendTo(dst []byte) []byte {
	return append(appendHeader(dst, uint32(1+len(m.Payload)), m.MessageID), m.Payload...)
}

func (m Unknown) String() string {
	return fmt.Sprintf("unknown message %d (%d bytes)", uint8(m.MessageID), len(m.Payload))
}
