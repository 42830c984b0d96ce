package bencode

import (
	"bytes"
	"strconv"
)

// Default limits. Both can be changed per Decoder; Unmarshal uses them as is.
const (
	// DefaultMaxDepth is how deeply lists and dictionaries may nest.
	DefaultMaxDepth = 256
	// DefaultMaxSize is the largest single value a Decoder reads from a
	// stream: 64 MiB, well above the largest .torrent files in the wild.
	DefaultMaxSize = 64 << 20
)

// scanner validates bencode held in memory and finds where values end.
type scanner struct {
	data     []byte
	base     int64 // offset of data[0] in the whole input, for errors
	strict   bool  // reject unordered/duplicate keys and non-canonical lengths
	maxDepth int
}

const msgEOF = "unexpected end of input"

func (s *scanner) errAt(off int, msg string) error {
	return &SyntaxError{Offset: s.base + int64(off), Msg: msg}
}

// truncated reports whether err says the input ended inside a value, which
// a streaming decoder answers by reading more.
func truncated(err error) bool {
	se, ok := err.(*SyntaxError)
	return ok && se.Msg == msgEOF
}

// skip validates the value starting at off and returns the offset just past it.
func (s *scanner) skip(off, depth int) (int, error) {
	if off >= len(s.data) {
		return off, s.errAt(off, msgEOF)
	}
	switch c := s.data[off]; {
	case c == 'i':
		_, end, _, err := s.integer(off)
		return end, err
	case c >= '0' && c <= '9':
		_, end, err := s.str(off)
		return end, err
	case c == 'l':
		if depth >= s.maxDepth {
			return off, ErrTooDeep
		}
		off++
		for {
			if off >= len(s.data) {
				return off, s.errAt(off, msgEOF)
			}
			if s.data[off] == 'e' {
				return off + 1, nil
			}
			var err error
			if off, err = s.skip(off, depth+1); err != nil {
				return off, err
			}
		}
	case c == 'd':
		if depth >= s.maxDepth {
			return off, ErrTooDeep
		}
		off++
		var prev []byte
		first := true
		for {
			if off >= len(s.data) {
				return off, s.errAt(off, msgEOF)
			}
			if s.data[off] == 'e' {
				return off + 1, nil
			}
			ks, ke, err := s.key(off)
			if err != nil {
				return ke, err
			}
			if s.strict {
				if err := s.checkOrder(off, s.data[ks:ke], prev, first); err != nil {
					return ks, err
				}
				prev, first = s.data[ks:ke], false
			}
			if off, err = s.skip(ke, depth+1); err != nil {
				return off, err
			}
		}
	default:
		return off, s.errAt(off, "invalid byte "+quoteByte(c)+" at start of value")
	}
}

// key parses a dictionary key at off, which must be a string, and returns
// the bounds of its bytes (ks:the first byte, ke: just past the key).
func (s *scanner) key(off int) (ks, ke int, err error) {
	if c := s.data[off]; c < '0' || c > '9' {
		return off, off, s.errAt(off, "dictionary key is not a string")
	}
	ks, ke, err = s.str(off)
	return ks, ke, err
}

// checkOrder enforces strictly increasing keys (sorted, no duplicates).
func (s *scanner) checkOrder(off int, key, prev []byte, first bool) error {
	if first {
		return nil
	}
	switch c := bytes.Compare(prev, key); {
	case c == 0:
		return s.errAt(off, "duplicate dictionary key "+quoteKey(key))
	case c > 0:
		return s.errAt(off, "dictionary key "+quoteKey(key)+" out of order")
	}
	return nil
}

func quoteKey(k []byte) string {
	if len(k) > 64 {
		k = k[:64]
	}
	return strconv.Quote(string(k))
}

// str parses a string at off and returns the bounds of its contents and the
// offset just past it.
func (s *scanner) str(off int) (start, end int, err error) {
	i := off
	n := 0
	for {
		if i >= len(s.data) {
			return off, i, s.errAt(i, msgEOF)
		}
		c := s.data[i]
		if c == ':' {
			break
		}
		if c < '0' || c > '9' {
			return off, i, s.errAt(i, "invalid byte "+quoteByte(c)+" in string length")
		}
		if n > (maxInt-9)/10 {
			return off, i, s.errAt(off, "string length overflows")
		}
		n = n*10 + int(c-'0')
		i++
	}
	if i == off {
		return off, i, s.errAt(i, "missing string length")
	}
	if s.strict && s.data[off] == '0' && i-off > 1 {
		return off, i, s.errAt(off, "string length has a leading zero")
	}
	start = i + 1
	if n > len(s.data)-start {
		return start, len(s.data), s.errAt(len(s.data), msgEOF)
	}
	return start, start + n, nil
}

const maxInt = int(^uint(0) >> 1)

// integer parses an integer at off ('i' … 'e'). It returns the value, the
// offset past the 'e', and whether the value overflows int64 (which is still
// valid bencode: bencode integers have no size limit).
func (s *scanner) integer(off int) (v int64, end int, overflow bool, err error) {
	i := off + 1
	neg := false
	if i < len(s.data) && s.data[i] == '-' {
		neg = true
		i++
	}
	digits := i
	var u uint64
	for ; i < len(s.data); i++ {
		c := s.data[i]
		if c == 'e' {
			break
		}
		if c < '0' || c > '9' {
			return 0, i, false, s.errAt(i, "invalid byte "+quoteByte(c)+" in integer")
		}
		if u > (1<<63)/10 || (u == (1<<63)/10 && c-'0' > 8) {
			overflow = true
		}
		u = u*10 + uint64(c-'0')
	}
	if i >= len(s.data) {
		return 0, i, false, s.errAt(i, msgEOF)
	}
	switch {
	case i == digits:
		return 0, i, false, s.errAt(i, "integer has no digits")
	case neg && s.data[digits] == '0' && i-digits == 1:
		return 0, i, false, s.errAt(off, "negative zero")
	case s.data[digits] == '0' && i-digits > 1:
		return 0, i, false, s.errAt(digits, "integer has a leading zero")
	}
	if overflow || (!neg && u > 1<<63-1) {
		return 0, i + 1, true, nil
	}
	if neg {
		return -int64(u), i + 1, false, nil
	}
	return int64(u), i + 1, false, nil
}

func quoteByte(c byte) string {
	if c >= 0x20 && c < 0x7f && c != '\'' {
		return "'" + string(rune(c)) + "'"
	}
	const hex = "0123456789abcdef"
	return "0x" + string([]byte{hex[c>>4], hex[c&15]})
}

// Valid reports whether data is exactly one valid bencode value.
func Valid(data []byte) bool {
	s := scanner{data: data, maxDepth: DefaultMaxDepth}
	end, err := s.skip(0, 0)
	return err == nil && end == len(data)
}
