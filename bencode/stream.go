package bencode

import (
	"errors"
	"io"
)

// An Encoder writes bencode values to an output stream.
type Encoder struct {
	w   io.Writer
	buf []byte
}

// NewEncoder returns an Encoder that writes to w.
func NewEncoder(w io.Writer) *Encoder { return &Encoder{w: w} }

// Encode writes the encoding of v to the stream with a single Write.
func (enc *Encoder) Encode(v any) error {
	var err error
	if enc.buf, err = appendValue(enc.buf[:0], v); err != nil {
		return err
	}
	_, err = enc.w.Write(enc.buf)
	return err
}

// A Token is one element of the token stream: a Delim, an int64 for an
// integer, or a []byte for a string.
type Token any

// A Delim is a list or dictionary delimiter: 'l', 'd', or 'e'.
type Delim byte

// String returns the delimiter as a one-character string.
func (d Delim) String() string { return string(rune(d)) }

// A Decoder reads bencode values from an input stream. It reads ahead and
// buffers: it may consume more of r than the values it returns.
type Decoder struct {
	r        io.Reader
	buf      []byte
	scanp    int   // start of unread data in buf
	base     int64 // input offset of buf[0]
	err      error // sticky read error
	strict   bool
	maxDepth int
	maxSize  int
	stack    []tokenFrame // open containers for Token
}

// tokenFrame tracks one open container in the token stream.
type tokenFrame struct {
	dict    bool
	wantKey bool   // in a dictionary, the next token is a key
	hasPrev bool   // strict mode: a previous key exists
	prev    []byte // strict mode: the previous key
}

// NewDecoder returns a Decoder that reads from r.
func NewDecoder(r io.Reader) *Decoder {
	return &Decoder{r: r, maxDepth: DefaultMaxDepth, maxSize: DefaultMaxSize}
}

// DisallowUnorderedKeys makes the Decoder reject dictionaries whose keys are
// not in strictly increasing byte order (unsorted or duplicated keys) and
// string lengths with leading zeros: the canonical form that BEP 3 requires.
// By default both are accepted, as real .torrent files contain them.
func (dec *Decoder) DisallowUnorderedKeys() { dec.strict = true }

// SetMaxDepth sets how deeply lists and dictionaries may nest
// (DefaultMaxDepth if never called). Deeper input fails with ErrTooDeep.
func (dec *Decoder) SetMaxDepth(n int) { dec.maxDepth = n }

// SetMaxSize sets the largest value, in bytes, that Decode reads, and the
// largest string that Token returns (DefaultMaxSize if never called).
// Larger values fail with ErrTooLarge.
func (dec *Decoder) SetMaxSize(n int) { dec.maxSize = n }

// InputOffset returns the input stream offset of the next unread byte.
func (dec *Decoder) InputOffset() int64 { return dec.base + int64(dec.scanp) }

// Buffered returns a reader of the data remaining in the Decoder's buffer.
func (dec *Decoder) Buffered() io.Reader { return &bufReader{dec.buf[dec.scanp:]} }

type bufReader struct{ b []byte }

func (r *bufReader) Read(p []byte) (int, error) {
	if len(r.b) == 0 {
		return 0, io.EOF
	}
	n := copy(p, r.b)
	r.b = r.b[n:]
	return n, nil
}

func (dec *Decoder) scanner() scanner {
	return scanner{data: dec.buf[dec.scanp:], base: dec.InputOffset(), strict: dec.strict, maxDepth: dec.maxDepth - len(dec.stack)}
}

// refill reads more input, keeping the unread part of the buffer.
func (dec *Decoder) refill() error {
	if dec.err != nil {
		return dec.err
	}
	if dec.scanp > 0 {
		dec.base += int64(dec.scanp)
		n := copy(dec.buf, dec.buf[dec.scanp:])
		dec.buf = dec.buf[:n]
		dec.scanp = 0
	}
	if len(dec.buf) >= dec.maxSize {
		return ErrTooLarge
	}
	const minRead = 4096
	if cap(dec.buf)-len(dec.buf) < minRead {
		grow := max(minRead, len(dec.buf))
		dec.buf = append(dec.buf, make([]byte, grow)...)[:len(dec.buf)]
	}
	limit := min(cap(dec.buf), dec.maxSize+1)
	n, err := dec.r.Read(dec.buf[len(dec.buf):limit])
	dec.buf = dec.buf[:len(dec.buf)+n]
	if err != nil {
		dec.err = err
		if n > 0 {
			return nil
		}
		return err
	}
	return nil
}

// readValue makes sure a whole value is buffered at scanp and returns its length.
func (dec *Decoder) readValue() (int, error) {
	for {
		s := dec.scanner()
		end, err := s.skip(0, 0)
		if err == nil {
			if end > dec.maxSize {
				return 0, ErrTooLarge
			}
			return end, nil
		}
		if !truncated(err) {
			return 0, err
		}
		if rerr := dec.refill(); rerr != nil {
			return 0, dec.eofError(rerr, len(dec.buf) > dec.scanp)
		}
	}
}

// eofError turns a read error into the error to return: io.EOF at a clean
// end, io.ErrUnexpectedEOF inside a value.
func (dec *Decoder) eofError(err error, inValue bool) error {
	if err == io.EOF && (inValue || len(dec.stack) > 0) {
		return io.ErrUnexpectedEOF
	}
	return err
}

// Decode reads the next bencode value from the stream and stores it in the
// value pointed to by v, as Unmarshal does. It may be mixed with Token: in a
// dictionary, Decode reads a key or a value, whichever comes next.
func (dec *Decoder) Decode(v any) error {
	if err := dec.checkKey(); err != nil {
		return err
	}
	n, err := dec.readValue()
	if err != nil {
		return err
	}
	d := decodeState{scanner: scanner{data: dec.buf[dec.scanp : dec.scanp+n], base: dec.InputOffset(), strict: dec.strict, maxDepth: dec.maxDepth}}
	err = d.unmarshalValid(v)
	dec.consumed(n)
	return err
}

// checkKey rejects a container where a dictionary key is due.
func (dec *Decoder) checkKey() error {
	if len(dec.stack) == 0 {
		return nil
	}
	f := &dec.stack[len(dec.stack)-1]
	if !f.wantKey {
		return nil
	}
	if err := dec.need(1); err != nil {
		return err
	}
	if c := dec.buf[dec.scanp]; c == 'd' || c == 'l' || c == 'i' {
		s := dec.scanner()
		return s.errAt(0, "dictionary key is not a string")
	}
	return nil
}

// consumed advances past a complete value of n bytes.
func (dec *Decoder) consumed(n int) {
	dec.scanp += n
	if len(dec.stack) > 0 {
		f := &dec.stack[len(dec.stack)-1]
		if f.dict {
			f.wantKey = !f.wantKey
		}
	}
}

// need makes sure at least n unread bytes are buffered.
func (dec *Decoder) need(n int) error {
	for len(dec.buf)-dec.scanp < n {
		if err := dec.refill(); err != nil {
			return dec.eofError(err, len(dec.buf) > dec.scanp)
		}
	}
	return nil
}

// More reports whether the current list or dictionary (or, at top level, the
// stream) has another element.
func (dec *Decoder) More() bool {
	if dec.need(1) != nil {
		return false
	}
	return dec.buf[dec.scanp] != 'e'
}

// Token returns the next token of the stream: a Delim for the start ('l',
// 'd') and end ('e') of lists and dictionaries, an int64, or a []byte
// string. A returned []byte aliases the Decoder's buffer and is valid only
// until the next call to Token or Decode. At the end of the input Token
// returns nil and io.EOF. ReadToken does the same without allocating.
func (dec *Decoder) Token() (Token, error) {
	t, err := dec.ReadToken()
	if err != nil {
		return nil, err
	}
	switch t.Kind {
	case KindInt:
		return t.Int, nil
	case KindString:
		return t.Bytes, nil
	}
	return Delim(t.Kind), nil
}

// A Kind is the kind of a RawToken.
type Kind byte

// The kinds of token. The delimiters' values are their bytes.
const (
	KindInt    Kind = 'i'
	KindString Kind = 's'
	KindList   Kind = 'l'
	KindDict   Kind = 'd'
	KindEnd    Kind = 'e'
)

// A RawToken is one token as ReadToken returns it.
type RawToken struct {
	Kind  Kind
	Int   int64  // the value, for KindInt
	Bytes []byte // the string, for KindString; aliases the Decoder's buffer
}

// ReadToken returns the next token of the stream, as Token does, without
// allocating: the token's kind, its integer value, or its string bytes, which
// alias the Decoder's buffer and are valid only until the next call to
// ReadToken, Token or Decode. At the end of the input it returns io.EOF.
func (dec *Decoder) ReadToken() (RawToken, error) {
	if err := dec.need(1); err != nil {
		return RawToken{}, err
	}
	var top *tokenFrame
	if len(dec.stack) > 0 {
		top = &dec.stack[len(dec.stack)-1]
	}
	c := dec.buf[dec.scanp]
	s := dec.scanner()
	switch {
	case c == 'e':
		if top == nil {
			return RawToken{}, s.errAt(0, "unexpected end of container")
		}
		if top.dict && !top.wantKey {
			return RawToken{}, s.errAt(0, "dictionary key has no value")
		}
		dec.stack = dec.stack[:len(dec.stack)-1]
		dec.consumed(1)
		return RawToken{Kind: KindEnd}, nil
	case top != nil && top.wantKey && (c < '0' || c > '9'):
		return RawToken{}, s.errAt(0, "dictionary key is not a string")
	case c == 'd' || c == 'l':
		if len(dec.stack) >= dec.maxDepth {
			return RawToken{}, ErrTooDeep
		}
		dec.scanp++
		dec.stack = append(dec.stack, tokenFrame{dict: c == 'd', wantKey: c == 'd'})
		return RawToken{Kind: Kind(c)}, nil
	case c == 'i':
		return dec.intToken()
	case c >= '0' && c <= '9':
		return dec.stringToken(top)
	default:
		return RawToken{}, s.errAt(0, "invalid byte "+quoteByte(c)+" at start of value")
	}
}

func (dec *Decoder) intToken() (RawToken, error) {
	for {
		s := dec.scanner()
		v, end, overflow, err := s.integer(0)
		if err == nil {
			if overflow {
				return RawToken{}, s.errAt(0, "integer overflows int64")
			}
			dec.consumed(end)
			return RawToken{Kind: KindInt, Int: v}, nil
		}
		if !truncated(err) {
			return RawToken{}, err
		}
		if len(dec.buf)-dec.scanp > 32 {
			return RawToken{}, s.errAt(0, "integer too long")
		}
		if rerr := dec.refill(); rerr != nil {
			return RawToken{}, dec.eofError(rerr, true)
		}
	}
}

func (dec *Decoder) stringToken(top *tokenFrame) (RawToken, error) {
	for {
		s := dec.scanner()
		start, end, err := s.str(0)
		if err == nil {
			b := s.data[start:end]
			if dec.strict && top != nil && top.dict && top.wantKey {
				if err := s.checkOrder(0, b, top.prev, !top.hasPrev); err != nil {
					return RawToken{}, err
				}
				top.prev, top.hasPrev = append(top.prev[:0], b...), true
			}
			dec.consumed(end)
			return RawToken{Kind: KindString, Bytes: b}, nil
		}
		if !truncated(err) {
			return RawToken{}, err
		}
		if n, ok := declaredLen(s.data); ok && n > dec.maxSize {
			return RawToken{}, ErrTooLarge
		}
		if rerr := dec.refill(); rerr != nil {
			if errors.Is(rerr, ErrTooLarge) {
				return RawToken{}, rerr
			}
			return RawToken{}, dec.eofError(rerr, true)
		}
	}
}

// declaredLen parses the length prefix of a string at the start of data.
func declaredLen(data []byte) (int, bool) {
	n := 0
	for i, c := range data {
		switch {
		case c == ':' && i > 0:
			return n, true
		case c < '0' || c > '9' || n > (maxInt-9)/10:
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	return 0, false
}
