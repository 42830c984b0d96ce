package bencode

import (
	"errors"
	"math"
	"reflect"
	"testing"
)

func TestUnmarshalAny(t *testing.T) {
	tests := []struct {
		in   string
		want any
	}{
		{"i0e", int64(0)},
		{"i42e", int64(42)},
		{"i-42e", int64(-42)},
		{"i9223372036854775807e", int64(math.MaxInt64)},
		{"i-9223372036854775808e", int64(math.MinInt64)},
		{"0:", ""},
		{"4:spam", "spam"},
		{"le", []any{}},
		{"l4:spami42ee", []any{"spam", int64(42)}},
		{"de", map[string]any{}},
		{"d3:cow3:moo4:spam4:eggse", map[string]any{"cow": "moo", "spam": "eggs"}},
		{"d4:spaml1:a1:bee", map[string]any{"spam": []any{"a", "b"}}},
		{"d1:b0:1:a0:e", map[string]any{"a": "", "b": ""}}, // unordered: accepted by default
		{"d1:ai1e1:ai2ee", map[string]any{"a": int64(2)}},  // duplicate: last wins
		{"03:abc", "abc"},                            // leading zero in a length: lenient
		{"d0:i1ee", map[string]any{"": int64(1)}},    // empty key
		{"5:\x00\x01\x02\xff:", "\x00\x01\x02\xff:"}, // binary
		{"llleee", []any{[]any{[]any{}}}},
	}
	for _, tt := range tests {
		var got any
		if err := Unmarshal([]byte(tt.in), &got); err != nil {
			t.Errorf("Unmarshal(%q): %v", tt.in, err)
			continue
		}
		if !reflect.DeepEqual(got, tt.want) {
			t.Errorf("Unmarshal(%q) = %#v, want %#v", tt.in, got, tt.want)
		}
	}
}

func TestUnmarshalSyntaxErrors(t *testing.T) {
	tests := []struct {
		in     string
		offset int64
	}{
		{"", 0},
		{"i", 1},
		{"ie", 1},
		{"i-e", 2},
		{"i03e", 1},
		{"i-0e", 0},
		{"i-03e", 2},
		{"i1.5e", 2},
		{"i 1e", 1},
		{"i12", 3},
		{"5:abc", 5},
		{"-1:a", 0},
		{"3a:abc", 1},
		{":abc", 0},
		{"99999999999999999999999:a", 0},
		{"l", 1},
		{"li1e", 4},
		{"d", 1},
		{"di1ei2ee", 1},
		{"d1:a", 4},
		{"dle", 1},
		{"d1:ae", 4},
		{"e", 0},
		{"x", 0},
		{"i1ei2e", 3},
		{"4:spamx", 6},
		{"le ", 2},
	}
	for _, tt := range tests {
		var got any
		err := Unmarshal([]byte(tt.in), &got)
		var se *SyntaxError
		if !errors.As(err, &se) {
			t.Errorf("Unmarshal(%q) = %v, want *SyntaxError", tt.in, err)
			continue
		}
		if se.Offset != tt.offset {
			t.Errorf("Unmarshal(%q): offset %d (%v), want %d", tt.in, se.Offset, err, tt.offset)
		}
	}
}

func TestUnmarshalDepthLimit(t *testing.T) {
	deep := make([]byte, 0, 2*(DefaultMaxDepth+1))
	for range DefaultMaxDepth + 1 {
		deep = append(deep, 'l')
	}
	for range DefaultMaxDepth + 1 {
		deep = append(deep, 'e')
	}
	var v any
	if err := Unmarshal(deep, &v); !errors.Is(err, ErrTooDeep) {
		t.Fatalf("got %v, want ErrTooDeep", err)
	}
	if err := Unmarshal(deep[1:len(deep)-1], &v); err != nil {
		t.Fatalf("at the limit: %v", err)
	}
}

type inner struct {
	X int `bencode:"x"`
}

type Embedded struct {
	E string `bencode:"e"`
}

type sample struct {
	Embedded
	Name    string            `bencode:"name"`
	Length  int64             `bencode:"length"`
	Small   int8              `bencode:"small"`
	U       uint16            `bencode:"u"`
	Private bool              `bencode:"private"`
	Pieces  []byte            `bencode:"pieces"`
	Hash    [4]byte           `bencode:"hash"`
	List    []string          `bencode:"list"`
	Nested  []inner           `bencode:"nested"`
	M       map[string]int    `bencode:"m"`
	Ptr     *inner            `bencode:"ptr"`
	Raw     RawMessage        `bencode:"raw"`
	Any     any               `bencode:"any"`
	Skip    string            `bencode:"-"`
	Plain   string            // key "Plain"
	MM      map[string][]byte `bencode:"mm,omitempty"`
}

func TestUnmarshalStruct(t *testing.T) {
	in := "d1:Q4:junk5:Plain1:p3:anyli1ee1:e2:ee4:hash4:abcd6:lengthi1099511627776e4:listl1:a1:be1:md1:ai1ee4:name3:foo6:nestedld1:xi1eed1:xi2eee6:pieces3:\x00\x01\x027:privatei1e3:ptrd1:xi7ee3:rawd1:b1:a1:a1:be5:smalli-5e1:ui65535ee"
	var s sample
	if err := Unmarshal([]byte(in), &s); err != nil {
		t.Fatal(err)
	}
	want := sample{
		Embedded: Embedded{E: "ee"},
		Name:     "foo", Length: 1 << 40, Small: -5, U: 65535, Private: true,
		Pieces: []byte{0, 1, 2}, Hash: [4]byte{'a', 'b', 'c', 'd'},
		List: []string{"a", "b"}, Nested: []inner{{1}, {2}}, M: map[string]int{"a": 1},
		Ptr: &inner{7}, Raw: RawMessage("d1:b1:a1:a1:be"), Any: []any{int64(1)}, Plain: "p",
	}
	if !reflect.DeepEqual(s, want) {
		t.Fatalf("got  %+v\nwant %+v", s, want)
	}
}

func TestUnmarshalTypeErrors(t *testing.T) {
	tests := []struct {
		in    string
		v     any
		field string
	}{
		{"d5:smalli300ee", &sample{}, "small"},
		{"d1:ui-1ee", &sample{}, "u"},
		{"d4:hash3:abce", &sample{}, "hash"},
		{"d4:name3:fooe", &struct {
			Name int `bencode:"name"`
		}{}, "name"},
		{"d4:listi1ee", &sample{}, "list"},
		{"d1:mli1eee", &sample{}, "m"},
		{"i99999999999999999999e", new(int64), ""},
		{"i99999999999999999999e", new(any), ""},
		{"4:spam", new(float64), ""},
		{"l1:ae", new(map[string]int), ""},
		{"li1ei2ei3ee", new([2]int), ""},
	}
	for _, tt := range tests {
		err := Unmarshal([]byte(tt.in), tt.v)
		var te *UnmarshalTypeError
		if !errors.As(err, &te) {
			t.Errorf("Unmarshal(%q, %T) = %v, want *UnmarshalTypeError", tt.in, tt.v, err)
			continue
		}
		if te.Field != tt.field {
			t.Errorf("Unmarshal(%q): field %q, want %q", tt.in, te.Field, tt.field)
		}
	}
}

// A type error skips the value and keeps decoding, as encoding/json does.
func TestUnmarshalTypeErrorContinues(t *testing.T) {
	var s sample
	err := Unmarshal([]byte("d6:lengthi3e4:name1:x5:smalli300e1:ui5ee"), &s)
	var te *UnmarshalTypeError
	if !errors.As(err, &te) {
		t.Fatalf("got %v", err)
	}
	if s.Length != 3 || s.Name != "x" || s.U != 5 {
		t.Fatalf("fields after the error not decoded: %+v", s)
	}
}

func TestUnmarshalInvalidArgument(t *testing.T) {
	var ie *InvalidUnmarshalError
	if err := Unmarshal([]byte("i1e"), nil); !errors.As(err, &ie) {
		t.Errorf("nil: %v", err)
	}
	var x int
	if err := Unmarshal([]byte("i1e"), x); !errors.As(err, &ie) {
		t.Errorf("non-pointer: %v", err)
	}
}

type recursive struct {
	Name     string      `bencode:"n"`
	Children []recursive `bencode:"c,omitempty"`
}

func TestRecursiveType(t *testing.T) {
	in := "d1:cld1:n1:bed1:cld1:n1:cee1:n1:dee1:n1:ae"
	var r recursive
	if err := Unmarshal([]byte(in), &r); err != nil {
		t.Fatal(err)
	}
	out, err := Marshal(r)
	if err != nil || string(out) != in {
		t.Fatalf("round trip: %q, %v", out, err)
	}
}

type upper string

func (u *upper) UnmarshalBencode(b []byte) error {
	var s string
	if err := Unmarshal(b, &s); err != nil {
		return err
	}
	*u = upper("<" + s + ">")
	return nil
}

func TestUnmarshaler(t *testing.T) {
	var v struct {
		A upper  `bencode:"a"`
		B *upper `bencode:"b"`
	}
	if err := Unmarshal([]byte("d1:a1:x1:b1:ye"), &v); err != nil {
		t.Fatal(err)
	}
	if v.A != "<x>" || v.B == nil || *v.B != "<y>" {
		t.Fatalf("%+v", v)
	}
	var me *MarshalerError
	if err := Unmarshal([]byte("d1:ai1ee"), &v); !errors.As(err, &me) {
		t.Fatalf("error from UnmarshalBencode not wrapped: %v", err)
	}
}

// RawMessage keeps bytes exactly, even when they are not canonical.
func TestRawMessagePreservesBytes(t *testing.T) {
	in := "d4:infod1:b1:x1:a1:y1:a1:we1:zi1ee"
	var v struct {
		Info RawMessage `bencode:"info"`
		Z    int        `bencode:"z"`
	}
	if err := Unmarshal([]byte(in), &v); err != nil {
		t.Fatal(err)
	}
	if string(v.Info) != "d1:b1:x1:a1:y1:a1:we" { // unordered, and "a" twice
		t.Fatalf("info = %q", v.Info)
	}
	out, err := Marshal(v)
	if err != nil || string(out) != in {
		t.Fatalf("Marshal = %q, %v", out, err)
	}
}

func TestStringSlices(t *testing.T) {
	type names []string
	var v struct {
		S  []string `bencode:"s"`
		B  [][]byte `bencode:"b"`
		E  []string `bencode:"e"`
		N  names    `bencode:"n"`
		Bd []string `bencode:"x"`
	}
	err := Unmarshal([]byte("d1:bl1:a0:2:bce1:ele1:nl1:ze1:sl3:one3:twoe1:xl1:ai1e1:bee"), &v)
	var te *UnmarshalTypeError
	if !errors.As(err, &te) || te.Field != "x" {
		t.Fatalf("want a type error for x, got %v", err)
	}
	if !reflect.DeepEqual(v.S, []string{"one", "two"}) || !reflect.DeepEqual(v.B, [][]byte{[]byte("a"), {}, []byte("bc")}) ||
		v.E == nil || len(v.E) != 0 || !reflect.DeepEqual(v.N, names{"z"}) || !reflect.DeepEqual(v.Bd, []string{"a", "", "b"}) {
		t.Fatalf("%#v", v)
	}
	v.B[0] = append(v.B[0], 'X')
	if string(v.B[1]) != "" || string(v.B[2]) != "bc" {
		t.Fatal("appending to one element changed another")
	}
}
