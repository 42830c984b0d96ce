package bencode

import (
	"errors"
	"math"
	"reflect"
	"strconv"
	"testing"
)

// Every Go integer type decodes its whole range, and a value just outside
// it is an *UnmarshalTypeError naming the type; encoding round-trips.
func TestIntegerWidths(t *testing.T) {
	tests := []struct {
		typ      reflect.Type
		min, max string // the type's bounds
		below    string // min-1, or "" when below is any negative for unsigned
		above    string // max+1
	}{
		{reflect.TypeFor[int8](), "-128", "127", "-129", "128"},
		{reflect.TypeFor[int16](), "-32768", "32767", "-32769", "32768"},
		{reflect.TypeFor[int32](), "-2147483648", "2147483647", "-2147483649", "2147483648"},
		{reflect.TypeFor[int64](), "-9223372036854775808", "9223372036854775807", "-9223372036854775809", "9223372036854775808"},
		{reflect.TypeFor[int](), strconv.Itoa(math.MinInt), strconv.Itoa(math.MaxInt), "-9223372036854775809", "9223372036854775808"},
		{reflect.TypeFor[uint8](), "0", "255", "-1", "256"},
		{reflect.TypeFor[uint16](), "0", "65535", "-1", "65536"},
		{reflect.TypeFor[uint32](), "0", "4294967295", "-1", "4294967296"},
		{reflect.TypeFor[uint64](), "0", "18446744073709551615", "-1", "18446744073709551616"},
		{reflect.TypeFor[uint](), "0", strconv.FormatUint(math.MaxUint, 10), "-1", "18446744073709551616"},
		{reflect.TypeFor[uintptr](), "0", strconv.FormatUint(uint64(^uintptr(0)), 10), "-1", "18446744073709551616"},
	}
	for _, tt := range tests {
		for _, ok := range []string{tt.min, tt.max, "0"} {
			in := "i" + ok + "e"
			p := reflect.New(tt.typ)
			if err := Unmarshal([]byte(in), p.Interface()); err != nil {
				t.Errorf("%v: Unmarshal(%s): %v", tt.typ, in, err)
				continue
			}
			if got, err := Marshal(p.Elem().Interface()); err != nil || string(got) != in {
				t.Errorf("%v: %s re-encodes as %q, %v", tt.typ, in, got, err)
			}
		}
		for _, bad := range []string{tt.below, tt.above} {
			in := "i" + bad + "e"
			p := reflect.New(tt.typ)
			err := Unmarshal([]byte(in), p.Interface())
			var te *UnmarshalTypeError
			if !errors.As(err, &te) || te.Type != tt.typ {
				t.Errorf("%v: Unmarshal(%s) = %v, want an *UnmarshalTypeError for the type", tt.typ, in, err)
			}
		}
	}
}

// uint64 values above MaxInt64 decode into unsigned types (bencode integers
// have no size limit), and still not into int64 or any.
func TestUint64AboveInt64(t *testing.T) {
	var u uint64
	if err := Unmarshal([]byte("i18446744073709551615e"), &u); err != nil || u != math.MaxUint64 {
		t.Fatalf("got %d, %v", u, err)
	}
	if got, _ := Marshal(u); string(got) != "i18446744073709551615e" {
		t.Fatalf("Marshal = %q", got)
	}
	var i any
	var te *UnmarshalTypeError
	if err := Unmarshal([]byte("i9223372036854775808e"), &i); !errors.As(err, &te) {
		t.Fatalf("into any: %v", err)
	}
}
