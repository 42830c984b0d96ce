package bencode

import (
	"bytes"
	"errors"
	"io"
	"reflect"
	"testing"
)

func addSeeds(f *testing.F) {
	for _, s := range []string{"i0e", "i-1e", "4:spam", "le", "de", "d1:ai1e1:bl1:xee", "d1:b0:1:a0:e", "i03e", "-1:a", "l"} {
		f.Add([]byte(s))
	}
	f.Add(benchKRPC())
	f.Add(benchTrackerReply())
	f.Add(benchTorrentFiles(3))
	for _, b := range corpus(f) {
		f.Add(b)
	}
}

// FuzzRoundTrip: any input either fails cleanly or decodes to a value whose
// canonical encoding decodes to the same value; canonical input re-encodes
// to itself.
func FuzzRoundTrip(f *testing.F) {
	addSeeds(f)
	f.Fuzz(func(t *testing.T, in []byte) {
		var v any
		if err := Unmarshal(in, &v); err != nil {
			var se *SyntaxError
			var te *UnmarshalTypeError
			if !errors.As(err, &se) && !errors.As(err, &te) && !errors.Is(err, ErrTooDeep) {
				t.Fatalf("unexpected error type %T: %v", err, err)
			}
			return
		}
		out, err := Marshal(v)
		if err != nil {
			t.Fatalf("Marshal of decoded value: %v", err)
		}
		var v2 any
		if err := Unmarshal(out, &v2); err != nil || !reflect.DeepEqual(v, v2) {
			t.Fatalf("round trip: %v", err)
		}
		dec := NewDecoder(bytes.NewReader(in))
		dec.DisallowUnorderedKeys()
		var v3 any
		if dec.Decode(&v3) == nil && !bytes.Equal(in, out) {
			t.Fatalf("canonical input %q re-encoded as %q", in, out)
		}
		var raw RawMessage
		if err := Unmarshal(in, &raw); err != nil || !bytes.Equal(raw, in) {
			t.Fatalf("RawMessage changed the bytes")
		}
	})
}

// FuzzTokenVsDecode: the token stream and the reflective decoder accept the
// same inputs and see the same values.
func FuzzTokenVsDecode(f *testing.F) {
	addSeeds(f)
	f.Fuzz(func(t *testing.T, in []byte) {
		var v any
		errDecode := Unmarshal(in, &v)
		dec := NewDecoder(bytes.NewReader(in))
		tv, errToken := tokenValue(dec)
		if errToken == nil {
			if _, err := dec.Token(); err != io.EOF {
				errToken = errors.New("trailing data")
			}
		}
		var te *UnmarshalTypeError
		if errors.As(errDecode, &te) {
			return // an integer beyond int64: Token fails differently
		}
		if (errDecode == nil) != (errToken == nil) {
			t.Fatalf("Unmarshal: %v; Token: %v", errDecode, errToken)
		}
		if errDecode == nil && !reflect.DeepEqual(v, tv) {
			t.Fatalf("values differ: %#v vs %#v", v, tv)
		}
	})
}

// tokenValue rebuilds a value from the token stream.
func tokenValue(dec *Decoder) (any, error) {
	tok, err := dec.Token()
	if err != nil {
		return nil, err
	}
	switch tok := tok.(type) {
	case int64:
		return tok, nil
	case []byte:
		return string(tok), nil
	case Delim:
		switch tok {
		case 'l':
			l := []any{}
			for dec.More() {
				v, err := tokenValue(dec)
				if err != nil {
					return nil, err
				}
				l = append(l, v)
			}
			_, err := dec.Token()
			return l, err
		case 'd':
			m := map[string]any{}
			for dec.More() {
				k, err := dec.Token()
				if err != nil {
					return nil, err
				}
				key := string(k.([]byte))
				v, err := tokenValue(dec)
				if err != nil {
					return nil, err
				}
				m[key] = v
			}
			_, err := dec.Token()
			return m, err
		}
	}
	return nil, errors.New("unexpected token")
}
