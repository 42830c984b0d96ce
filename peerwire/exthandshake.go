package peerwire

import (
	"errors"
	"fmt"
	"net/netip"

	"github.com/bittern/bittern/bencode"
)

// Well-known extension names for the "m" dictionary of the BEP 10
// handshake.
const (
	ExtMetadata  = "ut_metadata"  // BEP 9
	ExtPEX       = "ut_pex"       // BEP 11
	ExtDontHave  = "lt_donthave"  // BEP 54
	ExtHolepunch = "ut_holepunch" // BEP 55
)

// ErrBadExtension reports an extension payload (BEP 9, 10, 11, 54, 55)
// that does not decode; the error wraps it with the offending field.
var ErrBadExtension = errors.New("peerwire: bad extension message")

// FieldError names the field of an extension payload that is invalid.
type FieldError struct {
	Message string // "extended handshake", "ut_metadata", …
	Field   string // the dictionary key or field
	Err     error  // detail
}

func (e *FieldError) Error() string {
	return fmt.Sprintf("peerwire: bad %s field %q: %v", e.Message, e.Field, e.Err)
}

// Unwrap returns ErrBadExtension and the detail.
func (e *FieldError) Unwrap() []error { return []error{ErrBadExtension, e.Err} }

// ExtendedHandshake is the BEP 10 extended handshake, the payload of the
// extended message with ID 0. Zero fields are absent on the wire.
type ExtendedHandshake struct {
	// M maps extension names to the message IDs the sender wants to
	// receive them with; 0 disables an extension (in an update).
	M map[string]int
	// Port is the sender's TCP listen port ("p").
	Port uint16
	// Version names the sender's client ("v").
	Version string
	// YourIP is the receiver's address as the sender sees it ("yourip").
	YourIP netip.Addr
	// IPv4 and IPv6 are addresses the sender can be reached at.
	IPv4, IPv6 netip.Addr
	// Reqq is how many outstanding requests the sender accepts.
	Reqq int
	// MetadataSize is the size of the info dictionary (BEP 9).
	MetadataSize int
	// UploadOnly says the sender only uploads (BEP 21; a seed, or a
	// partial seed that wants nothing more).
	UploadOnly bool
	// Extra holds every other key as received, so that a handshake can
	// be decoded and re-encoded without loss.
	Extra map[string]bencode.RawMessage
}

// MaxMetadataSize is the largest metadata_size (and ut_metadata
// total_size) accepted: 64 MiB, far above any real info dictionary, small
// enough that a peer cannot make us allocate more.
const MaxMetadataSize = 64 << 20

// ParseExtendedHandshake decodes a BEP 10 handshake payload.
func ParseExtendedHandshake(payload []byte) (*ExtendedHandshake, error) {
	const msg = "extended handshake"
	var d map[string]bencode.RawMessage
	if err := bencode.Unmarshal(payload, &d); err != nil {
		return nil, &FieldError{msg, "", err}
	}
	h := &ExtendedHandshake{}
	for key, raw := range d {
		var err error
		switch key {
		case "m":
			err = bencode.Unmarshal(raw, &h.M)
			for name, id := range h.M {
				if id < 0 || id > 255 {
					err = fmt.Errorf("extension %q has id %d, not 0-255", name, id)
				}
			}
		case "p":
			var p int64
			if err = bencode.Unmarshal(raw, &p); err == nil {
				if p < 0 || p > 65535 {
					err = fmt.Errorf("port %d", p)
				}
				h.Port = uint16(p)
			}
		case "v":
			err = bencode.Unmarshal(raw, &h.Version)
		case "yourip":
			h.YourIP, err = unmarshalAddr(raw, 0)
		case "ipv4":
			h.IPv4, err = unmarshalAddr(raw, 4)
		case "ipv6":
			h.IPv6, err = unmarshalAddr(raw, 16)
		case "reqq":
			err = bencode.Unmarshal(raw, &h.Reqq)
			if err == nil && h.Reqq < 0 {
				err = fmt.Errorf("negative: %d", h.Reqq)
			}
		case "metadata_size":
			err = bencode.Unmarshal(raw, &h.MetadataSize)
			if err == nil && (h.MetadataSize < 0 || h.MetadataSize > MaxMetadataSize) {
				err = fmt.Errorf("%d bytes, limit %d", h.MetadataSize, MaxMetadataSize)
			}
		case "upload_only":
			var v int64
			err = bencode.Unmarshal(raw, &v)
			h.UploadOnly = v != 0
		default:
			if h.Extra == nil {
				h.Extra = make(map[string]bencode.RawMessage)
			}
			h.Extra[key] = raw
		}
		if err != nil {
			return nil, &FieldError{msg, key, err}
		}
	}
	return h, nil
}

// unmarshalAddr decodes a compact IP address of size bytes (4 or 16; 0
// for either).
func unmarshalAddr(raw []byte, size int) (netip.Addr, error) {
	var b []byte
	if err := bencode.Unmarshal(raw, &b); err != nil {
		return netip.Addr{}, err
	}
	if (size == 0 && len(b) != 4 && len(b) != 16) || (size != 0 && len(b) != size) {
		return netip.Addr{}, fmt.Errorf("address of %d bytes", len(b))
	}
	a, _ := netip.AddrFromSlice(b)
	return a, nil
}

// AppendTo appends the bencoded handshake to dst. Keys in Extra are
// written as they are unless a field of h sets the same key.
func (h *ExtendedHandshake) AppendTo(dst []byte) ([]byte, error) {
	d := make(map[string]any, len(h.Extra)+9)
	for k, v := range h.Extra {
		d[k] = v
	}
	if h.M != nil {
		d["m"] = h.M
	}
	if h.Port != 0 {
		d["p"] = h.Port
	}
	if h.Version != "" {
		d["v"] = h.Version
	}
	if h.YourIP.IsValid() {
		d["yourip"] = h.YourIP.AsSlice()
	}
	if h.IPv4.Is4() {
		d["ipv4"] = h.IPv4.AsSlice()
	}
	if h.IPv6.Is6() {
		d["ipv6"] = h.IPv6.AsSlice()
	}
	if h.Reqq != 0 {
		d["reqq"] = h.Reqq
	}
	if h.MetadataSize != 0 {
		d["metadata_size"] = h.MetadataSize
	}
	if h.UploadOnly {
		d["upload_only"] = 1
	}
	b, err := bencode.Marshal(d)
	if err != nil {
		return dst, err
	}
	return append(dst, b...), nil
}
