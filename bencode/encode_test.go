package bencode

import (
	"errors"
	"math"
	"testing"
)

func TestMarshal(t *testing.T) {
	tests := []struct {
		v    any
		want string
	}{
		{0, "i0e"},
		{-3, "i-3e"},
		{int64(math.MinInt64), "i-9223372036854775808e"},
		{uint64(math.MaxUint64), "i18446744073709551615e"},
		{true, "i1e"},
		{"", "0:"},
		{"spam", "4:spam"},
		{[]byte{0, 1}, "2:\x00\x01"},
		{[3]byte{'a', 'b', 'c'}, "3:abc"},
		{[]int{1, 2}, "li1ei2ee"},
		{[]string(nil), "le"},
		{map[string]int{"b": 2, "a": 1, "": 0}, "d0:i0e1:ai1e1:bi2ee"},
		{map[string]any{"list": []any{"x", int64(1)}}, "d4:listl1:xi1eee"},
		{struct {
			Z int    `bencode:"z"`
			A string `bencode:"a,omitempty"`
			M string `bencode:"m"`
			P *int   `bencode:"p"`
			S string `bencode:"-"`
		}{Z: 1, M: "x", S: "skip"}, "d1:m1:x1:zi1ee"},
		{RawMessage("d1:b0:1:a0:e"), "d1:b0:1:a0:e"},
		{&inner{X: 5}, "d1:xi5ee"},
	}
	for _, tt := range tests {
		got, err := Marshal(tt.v)
		if err != nil {
			t.Errorf("Marshal(%#v): %v", tt.v, err)
			continue
		}
		if string(got) != tt.want {
			t.Errorf("Marshal(%#v) = %q, want %q", tt.v, got, tt.want)
		}
	}
}

// Struct keys are sorted as raw bytes, including flattened embedded fields.
func TestMarshalStructOrder(t *testing.T) {
	type E struct {
		B int `bencode:"b"`
	}
	v := struct {
		E
		C    int `bencode:"c"`
		A    int `bencode:"a"`
		Long int `bencode:"aa"`
	}{E{2}, 3, 1, 4}
	got, err := Marshal(v)
	if err != nil || string(got) != "d1:ai1e2:aai4e1:bi2e1:ci3ee" {
		t.Fatalf("got %q, %v", got, err)
	}
}

type badMarshaler struct{ out string }

func (b badMarshaler) MarshalBencode() ([]byte, error) { return []byte(b.out), nil }

func TestMarshalErrors(t *testing.T) {
	var ute *UnsupportedTypeError
	if _, err := Marshal(1.5); !errors.As(err, &ute) {
		t.Errorf("float: %v", err)
	}
	var uve *UnsupportedValueError
	if _, err := Marshal(nil); !errors.As(err, &uve) {
		t.Errorf("nil: %v", err)
	}
	if _, err := Marshal(map[int]int{1: 1}); !errors.As(err, &uve) {
		t.Errorf("int keys: %v", err)
	}
	if _, err := Marshal([]any{nil}); !errors.As(err, &uve) {
		t.Errorf("nil in list: %v", err)
	}
	var me *MarshalerError
	for _, out := range []string{"", "i1", "i1ei2e", "d1:ae"} {
		if _, err := Marshal(badMarshaler{out}); !errors.As(err, &me) {
			t.Errorf("invalid Marshaler output %q accepted: %v", out, err)
		}
	}
	if _, err := Marshal(struct{ R RawMessage }{}); err != nil {
		t.Errorf("nil RawMessage field should be left out: %v", err)
	}
}

func TestAppendHelpers(t *testing.T) {
	b := AppendInt(nil, -7)
	b = AppendString(b, "ab")
	b = AppendBytes(b, []byte{})
	if string(b) != "i-7e2:ab0:" {
		t.Fatalf("%q", b)
	}
	buf := make([]byte, 0, 64)
	if n := testing.AllocsPerRun(100, func() {
		buf = AppendString(AppendInt(buf[:0], 123456), "abcdef")
	}); n != 0 {
		t.Fatalf("append helpers allocate: %v", n)
	}
}

func TestRoundTripStruct(t *testing.T) {
	in := sample{
		Embedded: Embedded{E: "e"}, Name: "n", Length: -1, Small: 3, U: 4, Private: true,
		Pieces: []byte("xyz"), Hash: [4]byte{1, 2, 3, 4}, List: []string{"q"},
		Nested: []inner{{9}}, M: map[string]int{"k": 1}, Ptr: &inner{2},
		Raw: RawMessage("le"), Any: map[string]any{"x": "y"}, Plain: "p",
		MM: map[string][]byte{"z": {0}},
	}
	b, err := Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	var out sample
	if err := Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	b2, err := Marshal(out)
	if err != nil || string(b2) != string(b) {
		t.Fatalf("round trip differs:\n%q\n%q (%v)", b, b2, err)
	}
}
