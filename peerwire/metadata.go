package peerwire

import (
	"bytes"
	"fmt"

	"github.com/bittern/bittern/bencode"
)

// MetadataPieceSize is the size of every ut_metadata piece but the last
// (BEP 9).
const MetadataPieceSize = 16 << 10

// MetadataType is the msg_type of a ut_metadata message.
type MetadataType int

// ut_metadata message types (BEP 9).
const (
	MetadataRequest MetadataType = 0
	MetadataData    MetadataType = 1
	MetadataReject  MetadataType = 2
)

// MetadataMessage is a BEP 9 ut_metadata message: a bencoded dictionary,
// followed for a data message by the raw metadata piece.
type MetadataMessage struct {
	Type  MetadataType
	Piece int
	// TotalSize is the metadata size in bytes (data messages only).
	TotalSize int
	// Data is the piece's bytes (data messages only). After
	// ParseMetadataMessage it aliases the payload.
	Data []byte
}

type metadataDict struct {
	MsgType   *int `bencode:"msg_type"`
	Piece     *int `bencode:"piece"`
	TotalSize *int `bencode:"total_size"`
}

// NumMetadataPieces returns the number of ut_metadata pieces of metadata of
// size bytes.
func NumMetadataPieces(size int) int { return (size + MetadataPieceSize - 1) / MetadataPieceSize }

// ParseMetadataMessage decodes a ut_metadata payload. Data messages are
// checked against BEP 9: total_size present, positive and at most
// MaxMetadataSize, the piece within it, and exactly the piece's size of
// data after the dictionary (16 KiB, less for the last piece). Requests
// and rejects must carry nothing after the dictionary. Unknown msg_type
// values are returned as they are, for the caller to ignore.
func ParseMetadataMessage(payload []byte) (MetadataMessage, error) {
	const msg = "ut_metadata"
	var m MetadataMessage
	dec := bencode.NewDecoder(bytes.NewReader(payload))
	var d metadataDict
	if err := dec.Decode(&d); err != nil {
		return m, &FieldError{msg, "", err}
	}
	rest := payload[dec.InputOffset():]
	if d.MsgType == nil {
		return m, &FieldError{msg, "msg_type", fmt.Errorf("missing")}
	}
	if d.Piece == nil {
		return m, &FieldError{msg, "piece", fmt.Errorf("missing")}
	}
	m.Type, m.Piece = MetadataType(*d.MsgType), *d.Piece
	if m.Piece < 0 || m.Piece >= NumMetadataPieces(MaxMetadataSize) {
		return m, &FieldError{msg, "piece", fmt.Errorf("%d out of range", m.Piece)}
	}
	if m.Type != MetadataData {
		if len(rest) != 0 {
			return m, &FieldError{msg, "", fmt.Errorf("%d bytes after the dictionary", len(rest))}
		}
		return m, nil
	}
	if d.TotalSize == nil {
		return m, &FieldError{msg, "total_size", fmt.Errorf("missing")}
	}
	m.TotalSize = *d.TotalSize
	if m.TotalSize <= 0 || m.TotalSize > MaxMetadataSize {
		return m, &FieldError{msg, "total_size", fmt.Errorf("%d bytes, limit %d", m.TotalSize, MaxMetadataSize)}
	}
	if m.Piece >= NumMetadataPieces(m.TotalSize) {
		return m, &FieldError{msg, "piece", fmt.Errorf("piece %d of %d", m.Piece, NumMetadataPieces(m.TotalSize))}
	}
	if want := min(MetadataPieceSize, m.TotalSize-m.Piece*MetadataPieceSize); len(rest) != want {
		return m, &FieldError{msg, "data", fmt.Errorf("%d bytes, piece %d has %d", len(rest), m.Piece, want)}
	}
	m.Data = rest
	return m, nil
}

// AppendTo appends the payload of m (dictionary, then Data for a data
// message) to dst.
func (m MetadataMessage) AppendTo(dst []byte) []byte {
	dst = append(dst, "d8:msg_type"...)
	dst = bencode.AppendInt(dst, int64(m.Type))
	dst = append(dst, "5:piece"...)
	dst = bencode.AppendInt(dst, int64(m.Piece))
	if m.Type == MetadataData {
		dst = append(dst, "10:total_size"...)
		dst = bencode.AppendInt(dst, int64(m.TotalSize))
		return append(append(dst, 'e'), m.Data...)
	}
	return append(dst, 'e')
}
