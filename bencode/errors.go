package bencode

import (
	"errors"
	"reflect"
	"strconv"
)

// ErrTooDeep is returned when input nests lists and dictionaries more deeply
// than the decoder's limit (DefaultMaxDepth unless set with SetMaxDepth).
var ErrTooDeep = errors.New("bencode: nesting too deep")

// ErrTooLarge is returned by a Decoder when one value is larger than its
// size limit (DefaultMaxSize unless set with SetMaxSize).
var ErrTooLarge = errors.New("bencode: value too large")

// A SyntaxError describes input that is not valid bencode. Offset is the
// byte offset, from the start of the input, where the problem was found.
type SyntaxError struct {
	Offset int64  // byte offset of the error
	Msg    string // description of the problem
}

func (e *SyntaxError) Error() string {
	return "bencode: syntax error at offset " + strconv.FormatInt(e.Offset, 10) + ": " + e.Msg
}

// An UnmarshalTypeError describes a bencode value that cannot be stored in
// a Go value of a given type: a list for a string, an integer that overflows
// its field, a string of the wrong length for a [N]byte.
type UnmarshalTypeError struct {
	Value  string       // description of the bencode value: "integer 300", "list", …
	Type   reflect.Type // Go type it could not be assigned to
	Offset int64        // byte offset of the value in the input
	Field  string       // dotted path of the struct field, if any
}

func (e *UnmarshalTypeError) Error() string {
	s := "bencode: cannot unmarshal " + e.Value + " into Go "
	if e.Field != "" {
		s += "struct field " + e.Field + " of "
	}
	return s + "type " + e.Type.String() + " (offset " + strconv.FormatInt(e.Offset, 10) + ")"
}

// An InvalidUnmarshalError describes an invalid argument passed to Unmarshal
// or Decode: not a non-nil pointer.
type InvalidUnmarshalError struct {
	Type reflect.Type
}

func (e *InvalidUnmarshalError) Error() string {
	if e.Type == nil {
		return "bencode: Unmarshal(nil)"
	}
	if e.Type.Kind() != reflect.Pointer {
		return "bencode: Unmarshal(non-pointer " + e.Type.String() + ")"
	}
	return "bencode: Unmarshal(nil " + e.Type.String() + ")"
}

// An UnsupportedTypeError is returned by Marshal for a Go type that has no
// bencode form (floats, complex numbers, channels, functions).
type UnsupportedTypeError struct {
	Type reflect.Type
}

func (e *UnsupportedTypeError) Error() string {
	return "bencode: unsupported type: " + e.Type.String()
}

// An UnsupportedValueError is returned by Marshal for a value that has no
// bencode form: a nil pointer or interface where a value is required, or a
// map key that is not a string.
type UnsupportedValueError struct {
	Msg string
}

func (e *UnsupportedValueError) Error() string { return "bencode: unsupported value: " + e.Msg }

// A MarshalerError wraps an error returned by a Marshaler or Unmarshaler.
type MarshalerError struct {
	Type reflect.Type
	Err  error
}

func (e *MarshalerError) Error() string {
	return "bencode: error calling method of " + e.Type.String() + ": " + e.Err.Error()
}

// Unwrap returns the underlying error.
func (e *MarshalerError) Unwrap() error { return e.Err }
