package bencode

import (
	"bytes"
	"errors"
	"io"
	"reflect"
	"strings"
	"testing"
	"testing/iotest"
)

func TestDecoderStream(t *testing.T) {
	in := "i1e4:spamd1:ai2eeli3ee"
	for name, r := range map[string]io.Reader{
		"whole":    strings.NewReader(in),
		"bytewise": iotest.OneByteReader(strings.NewReader(in)),
	} {
		dec := NewDecoder(r)
		var got []any
		for {
			var v any
			err := dec.Decode(&v)
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			got = append(got, v)
		}
		want := []any{int64(1), "spam", map[string]any{"a": int64(2)}, []any{int64(3)}}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("%s: %#v", name, got)
		}
		if dec.InputOffset() != int64(len(in)) {
			t.Fatalf("%s: offset %d", name, dec.InputOffset())
		}
	}
}

func TestDecoderTruncated(t *testing.T) {
	dec := NewDecoder(iotest.OneByteReader(strings.NewReader("d1:ai1e")))
	var v any
	if err := dec.Decode(&v); err != io.ErrUnexpectedEOF {
		t.Fatalf("got %v", err)
	}
}

func TestDecoderMaxSize(t *testing.T) {
	dec := NewDecoder(strings.NewReader("l" + strings.Repeat("i1e", 1000) + "e"))
	dec.SetMaxSize(100)
	var v any
	if err := dec.Decode(&v); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("got %v", err)
	}
	dec = NewDecoder(strings.NewReader("99999999:abc"))
	dec.SetMaxSize(1000)
	if _, err := dec.Token(); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("token: got %v", err)
	}
}

func TestDecoderStrict(t *testing.T) {
	for _, in := range []string{"d1:b0:1:a0:e", "d1:a0:1:a0:e", "03:abc"} {
		dec := NewDecoder(strings.NewReader(in))
		dec.DisallowUnorderedKeys()
		var v any
		var se *SyntaxError
		if err := dec.Decode(&v); !errors.As(err, &se) {
			t.Errorf("strict Decode(%q) = %v", in, err)
		}
		// Token stream too.
		dec = NewDecoder(strings.NewReader(in))
		dec.DisallowUnorderedKeys()
		var err error
		for err == nil {
			_, err = dec.Token()
		}
		if !errors.As(err, &se) {
			t.Errorf("strict Token(%q) ended with %v", in, err)
		}
	}
	dec := NewDecoder(strings.NewReader("d1:a0:1:b0:e"))
	dec.DisallowUnorderedKeys()
	var v any
	if err := dec.Decode(&v); err != nil {
		t.Fatal(err)
	}
}

func tokens(t *testing.T, in string) ([]Token, error) {
	t.Helper()
	dec := NewDecoder(iotest.OneByteReader(strings.NewReader(in)))
	var out []Token
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return out, err
		}
		if b, ok := tok.([]byte); ok {
			tok = string(b)
		}
		out = append(out, tok)
	}
}

func TestToken(t *testing.T) {
	got, err := tokens(t, "d1:ali1ei-2ee1:bd1:c0:ee4:spam")
	if err != nil {
		t.Fatal(err)
	}
	want := []Token{Delim('d'), "a", Delim('l'), int64(1), int64(-2), Delim('e'), "b", Delim('d'), "c", "", Delim('e'), Delim('e'), "spam"}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %v\nwant %v", got, want)
	}
	for _, bad := range []string{"di1ei2ee", "dlee", "e", "d1:ae", "i01e", "x", "l"} {
		if _, err := tokens(t, bad); err == nil {
			t.Errorf("Token accepted %q", bad)
		}
	}
}

// Token and Decode mix: walk into a dictionary, then decode its values.
func TestTokenThenDecode(t *testing.T) {
	dec := NewDecoder(strings.NewReader("d1:ad1:xi1ee1:bli2eee"))
	if tok, err := dec.Token(); err != nil || tok != Delim('d') {
		t.Fatal(tok, err)
	}
	got := map[string]any{}
	for dec.More() {
		k, err := dec.Token()
		if err != nil {
			t.Fatal(err)
		}
		key := string(k.([]byte))
		var v any
		if err := dec.Decode(&v); err != nil {
			t.Fatal(err)
		}
		got[key] = v
	}
	if tok, err := dec.Token(); err != nil || tok != Delim('e') {
		t.Fatal(tok, err)
	}
	want := map[string]any{"a": map[string]any{"x": int64(1)}, "b": []any{int64(2)}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("%v", got)
	}
}

func TestEncoder(t *testing.T) {
	var buf bytes.Buffer
	enc := NewEncoder(&buf)
	for _, v := range []any{1, "a", []int{2}} {
		if err := enc.Encode(v); err != nil {
			t.Fatal(err)
		}
	}
	if buf.String() != "i1e1:ali2ee" {
		t.Fatalf("%q", buf.String())
	}
}

func TestDepthLimitDecoder(t *testing.T) {
	dec := NewDecoder(strings.NewReader("lllleeee"))
	dec.SetMaxDepth(3)
	var v any
	if err := dec.Decode(&v); !errors.Is(err, ErrTooDeep) {
		t.Fatalf("Decode: %v", err)
	}
	dec = NewDecoder(strings.NewReader("lllleeee"))
	dec.SetMaxDepth(3)
	var err error
	for err == nil {
		_, err = dec.Token()
	}
	if !errors.Is(err, ErrTooDeep) {
		t.Fatalf("Token: %v", err)
	}
}

// ReadToken allocates nothing per token: walking four values costs what
// walking one does (the Decoder and its buffers).
func TestReadTokenNoAlloc(t *testing.T) {
	one := benchKRPC()
	four := bytes.Repeat(one, 4)
	if len(four) > 4096 {
		t.Fatal("inputs must fit the first buffer")
	}
	walk := func(in []byte) float64 {
		return testing.AllocsPerRun(20, func() {
			dec := NewDecoder(bytes.NewReader(in))
			for {
				tok, err := dec.ReadToken()
				if err == io.EOF {
					return
				}
				if err != nil || tok.Kind == 0 {
					t.Fatal(tok, err)
				}
			}
		})
	}
	if a1, a4 := walk(one), walk(four); a1 != a4 {
		t.Fatalf("allocations grow with tokens: %v for one value, %v for four", a1, a4)
	}
}
