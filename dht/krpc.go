package dht

import (
	"errors"
	"fmt"

	"github.com/bittern/bittern/bencode"
)

// KRPC message types ("y").
const (
	typeQuery    = "q"
	typeResponse = "r"
	typeError    = "e"
)

// Query method names.
const (
	methodPing             = "ping"
	methodFindNode         = "find_node"
	methodGetPeers         = "get_peers"
	methodAnnouncePeer     = "announce_peer"
	methodGet              = "get"
	methodPut              = "put"
	methodSampleInfohashes = "sample_infohashes"
)

// KRPC error codes (BEP 5, BEP 44).
const (
	ErrCodeGeneric       = 201
	ErrCodeServer        = 202
	ErrCodeProtocol      = 203
	ErrCodeMethodUnknown = 204
	ErrCodeTooBig        = 205
	ErrCodeBadSignature  = 206
	ErrCodeSaltTooBig    = 207
	ErrCodeCASMismatch   = 301
	ErrCodeSeqTooLow     = 302
)

// Msg is one KRPC message (BEP 5), with the fields of BEP 32, 42, 43, 44
// and 51. Binary strings (IDs, compact addresses, tokens) are Go strings.
type Msg struct {
	T  string  `bencode:"t"`            // transaction ID
	Y  string  `bencode:"y"`            // "q", "r" or "e"
	Q  string  `bencode:"q,omitempty"`  // query method
	A  *Args   `bencode:"a,omitempty"`  // query arguments
	R  *Return `bencode:"r,omitempty"`  // response values
	E  *Error  `bencode:"e,omitempty"`  // error
	IP string  `bencode:"ip,omitempty"` // BEP 42: the requester's compact address
	RO int     `bencode:"ro,omitempty"` // BEP 43: 1 if the sender is read-only
	V  string  `bencode:"v,omitempty"`  // client version
}

// Args are the arguments of a query ("a").
type Args struct {
	ID          string             `bencode:"id"`
	Target      string             `bencode:"target,omitempty"`       // find_node, get, sample_infohashes
	InfoHash    string             `bencode:"info_hash,omitempty"`    // get_peers, announce_peer
	Port        int                `bencode:"port,omitempty"`         // announce_peer
	ImpliedPort int                `bencode:"implied_port,omitempty"` // announce_peer
	Token       string             `bencode:"token,omitempty"`        // announce_peer, put
	Want        []string           `bencode:"want,omitempty"`         // BEP 32: "n4", "n6"
	NoSeed      int                `bencode:"noseed,omitempty"`       // BEP 33
	Scrape      int                `bencode:"scrape,omitempty"`       // BEP 33
	Seed        int                `bencode:"seed,omitempty"`         // BEP 33 announce
	V           bencode.RawMessage `bencode:"v,omitempty"`            // BEP 44 put
	K           string             `bencode:"k,omitempty"`            // BEP 44 public key
	Salt        string             `bencode:"salt,omitempty"`         // BEP 44
	Seq         *int64             `bencode:"seq,omitempty"`          // BEP 44
	CAS         *int64             `bencode:"cas,omitempty"`          // BEP 44
	Sig         string             `bencode:"sig,omitempty"`          // BEP 44
}

// Return are the values of a response ("r").
type Return struct {
	ID       string             `bencode:"id"`
	Nodes    string             `bencode:"nodes,omitempty"`
	Nodes6   string             `bencode:"nodes6,omitempty"` // BEP 32
	Values   []string           `bencode:"values,omitempty"`
	Token    string             `bencode:"token,omitempty"`
	BFsd     string             `bencode:"BFsd,omitempty"`     // BEP 33 seeds
	BFpe     string             `bencode:"BFpe,omitempty"`     // BEP 33 peers
	Samples  string             `bencode:"samples,omitempty"`  // BEP 51
	Interval *int64             `bencode:"interval,omitempty"` // BEP 51
	Num      *int64             `bencode:"num,omitempty"`      // BEP 51
	V        bencode.RawMessage `bencode:"v,omitempty"`        // BEP 44
	K        string             `bencode:"k,omitempty"`        // BEP 44
	Sig      string             `bencode:"sig,omitempty"`      // BEP 44
	Seq      *int64             `bencode:"seq,omitempty"`      // BEP 44
}

// Error is a KRPC error ("e"): a code and a message. It is also the error
// a query returns when the remote node answers with one.
type Error struct {
	Code int
	Msg  string
}

// Error returns the code and message.
func (e *Error) Error() string { return fmt.Sprintf("dht: remote error %d: %s", e.Code, e.Msg) }

// MarshalBencode encodes e as the list [code, message].
func (e *Error) MarshalBencode() ([]byte, error) {
	b := []byte{'l'}
	b = bencode.AppendInt(b, int64(e.Code))
	b = bencode.AppendString(b, e.Msg)
	return append(b, 'e'), nil
}

// errBadErrorList is returned when an "e" value is not [int, string].
var errBadErrorList = errors.New("dht: KRPC error is not a [code, message] list")

// UnmarshalBencode decodes the list [code, message]. Extra elements are
// ignored; a missing message is allowed.
func (e *Error) UnmarshalBencode(b []byte) error {
	var l []any
	if err := bencode.Unmarshal(b, &l); err != nil {
		return err
	}
	if len(l) == 0 {
		return errBadErrorList
	}
	code, ok := l[0].(int64)
	if !ok || code < -1<<31 || code > 1<<31-1 {
		return errBadErrorList
	}
	e.Code = int(code)
	if len(l) > 1 {
		if s, ok := l[1].(string); ok {
			e.Msg = s
		}
	}
	return nil
}

// Errors from decoding messages.
var (
	// ErrNotKRPC means a packet is not a bencoded dictionary: it belongs to
	// another protocol sharing the socket.
	ErrNotKRPC = errors.New("dht: not a KRPC message")
	// ErrMalformed means a packet is a bencoded dictionary but not a valid
	// KRPC message (missing or mistyped fields).
	ErrMalformed = errors.New("dht: malformed KRPC message")
)

// DecodeMsg decodes one KRPC message. It returns an error wrapping
// ErrNotKRPC if b is not bencode (or not a dictionary), and one wrapping
// ErrMalformed if required fields are missing or mistyped; in the latter
// case m holds whatever was decoded, so that a query can be answered with
// error 203 when m.T is set.
func DecodeMsg(b []byte, m *Msg) error {
	if len(b) == 0 || b[0] != 'd' {
		return ErrNotKRPC
	}
	if err := bencode.Unmarshal(b, m); err != nil {
		var se *bencode.SyntaxError
		if errors.As(err, &se) || errors.Is(err, bencode.ErrTooDeep) {
			return fmt.Errorf("%w: %v", ErrNotKRPC, err)
		}
		return fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	if m.T == "" {
		return fmt.Errorf("%w: no transaction ID", ErrMalformed)
	}
	switch m.Y {
	case typeQuery:
		if m.Q == "" || m.A == nil {
			return fmt.Errorf("%w: query without method or arguments", ErrMalformed)
		}
		if len(m.A.ID) != 20 {
			return fmt.Errorf("%w: query without a 20-byte id", ErrMalformed)
		}
	case typeResponse:
		if m.R == nil || len(m.R.ID) != 20 {
			return fmt.Errorf("%w: response without a 20-byte id", ErrMalformed)
		}
	case typeError:
		if m.E == nil {
			return fmt.Errorf("%w: error without code", ErrMalformed)
		}
	default:
		return fmt.Errorf("%w: unknown message type %q", ErrMalformed, m.Y)
	}
	return nil
}

// AppendMsg appends the bencoding of m to dst.
func AppendMsg(dst []byte, m *Msg) ([]byte, error) {
	b, err := bencode.Marshal(m)
	if err != nil {
		return dst, err
	}
	return append(dst, b...), nil
}
