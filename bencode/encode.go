package bencode

import (
	"reflect"
	"slices"
	"strconv"
	"sync"
)

// Marshaler is implemented by types that encode themselves as one complete
// bencode value. Marshal checks that the result is valid bencode.
type Marshaler interface {
	MarshalBencode() ([]byte, error)
}

// Marshal returns the canonical bencode encoding of v: dictionary keys are
// sorted, integers have no leading zeros. See the package documentation for
// how Go values map to bencode.
func Marshal(v any) ([]byte, error) {
	e := encodeStatePool.Get().(*encodeState)
	defer encodeStatePool.Put(e)
	var err error
	if e.buf, err = appendValue(e.buf[:0], v); err != nil {
		return nil, err
	}
	return slices.Clone(e.buf), nil
}

// appendValue appends the encoding of v to dst.
func appendValue(dst []byte, v any) ([]byte, error) {
	rv := reflect.ValueOf(v)
	if !rv.IsValid() {
		return dst, &UnsupportedValueError{Msg: "nil"}
	}
	e := encodeState{buf: dst}
	err := typeEncoder(rv.Type())(&e, rv)
	return e.buf, err
}

type encodeState struct {
	buf []byte
}

var encodeStatePool = sync.Pool{New: func() any { return new(encodeState) }}

// AppendString appends s encoded as a bencode string.
func AppendString(dst []byte, s string) []byte {
	dst = strconv.AppendInt(dst, int64(len(s)), 10)
	dst = append(dst, ':')
	return append(dst, s...)
}

// AppendBytes appends b encoded as a bencode string.
func AppendBytes(dst, b []byte) []byte {
	dst = strconv.AppendInt(dst, int64(len(b)), 10)
	dst = append(dst, ':')
	return append(dst, b...)
}

// AppendInt appends i encoded as a bencode integer.
func AppendInt(dst []byte, i int64) []byte {
	dst = append(dst, 'i')
	dst = strconv.AppendInt(dst, i, 10)
	return append(dst, 'e')
}

// encoderFunc appends the encoding of v.
type encoderFunc func(e *encodeState, v reflect.Value) error

var encoderCache sync.Map // reflect.Type -> encoderFunc

func typeEncoder(t reflect.Type) encoderFunc {
	if f, ok := encoderCache.Load(t); ok {
		return f.(encoderFunc)
	}
	var (
		wg sync.WaitGroup
		f  encoderFunc
	)
	wg.Add(1)
	fi, loaded := encoderCache.LoadOrStore(t, encoderFunc(func(e *encodeState, v reflect.Value) error {
		wg.Wait()
		return f(e, v)
	}))
	if loaded {
		return fi.(encoderFunc)
	}
	f = newTypeEncoder(t, true)
	wg.Done()
	encoderCache.Store(t, f)
	return f
}

func newTypeEncoder(t reflect.Type, allowAddr bool) encoderFunc {
	if t.Implements(marshalerType) {
		return marshalerEncoder
	}
	if t.Kind() != reflect.Pointer && allowAddr && reflect.PointerTo(t).Implements(marshalerType) {
		return newCondAddrEncoder(addrMarshalerEncoder, newTypeEncoder(t, false))
	}
	switch t.Kind() {
	case reflect.Bool:
		return func(e *encodeState, v reflect.Value) error {
			if v.Bool() {
				e.buf = append(e.buf, "i1e"...)
			} else {
				e.buf = append(e.buf, "i0e"...)
			}
			return nil
		}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return func(e *encodeState, v reflect.Value) error {
			e.buf = AppendInt(e.buf, v.Int())
			return nil
		}
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return func(e *encodeState, v reflect.Value) error {
			e.buf = append(e.buf, 'i')
			e.buf = strconv.AppendUint(e.buf, v.Uint(), 10)
			e.buf = append(e.buf, 'e')
			return nil
		}
	case reflect.String:
		return func(e *encodeState, v reflect.Value) error {
			e.buf = AppendString(e.buf, v.String())
			return nil
		}
	case reflect.Interface:
		return func(e *encodeState, v reflect.Value) error {
			if v.IsNil() {
				return &UnsupportedValueError{Msg: "nil interface"}
			}
			return typeEncoder(v.Elem().Type())(e, v.Elem())
		}
	case reflect.Pointer:
		elem := typeEncoder(t.Elem())
		return func(e *encodeState, v reflect.Value) error {
			if v.IsNil() {
				return &UnsupportedValueError{Msg: "nil pointer " + t.String()}
			}
			return elem(e, v.Elem())
		}
	case reflect.Slice:
		if t.Elem().Kind() == reflect.Uint8 && !reflect.PointerTo(t.Elem()).Implements(marshalerType) {
			return func(e *encodeState, v reflect.Value) error {
				e.buf = AppendBytes(e.buf, v.Bytes())
				return nil
			}
		}
		return newListEncoder(t)
	case reflect.Array:
		if t.Elem().Kind() == reflect.Uint8 && !reflect.PointerTo(t.Elem()).Implements(marshalerType) {
			return func(e *encodeState, v reflect.Value) error {
				e.buf = strconv.AppendInt(e.buf, int64(v.Len()), 10)
				e.buf = append(e.buf, ':')
				n := len(e.buf)
				e.buf = append(e.buf, make([]byte, v.Len())...)
				reflect.Copy(reflect.ValueOf(e.buf[n:]), v)
				return nil
			}
		}
		return newListEncoder(t)
	case reflect.Map:
		return newMapEncoder(t)
	case reflect.Struct:
		return newStructEncoder(t)
	default:
		return func(e *encodeState, v reflect.Value) error { return &UnsupportedTypeError{Type: t} }
	}
}

func marshalerEncoder(e *encodeState, v reflect.Value) error {
	if v.Kind() == reflect.Pointer && v.IsNil() {
		return &UnsupportedValueError{Msg: "nil " + v.Type().String()}
	}
	b, err := v.Interface().(Marshaler).MarshalBencode()
	if err != nil {
		return &MarshalerError{Type: v.Type(), Err: err}
	}
	s := scanner{data: b, maxDepth: DefaultMaxDepth}
	end, err := s.skip(0, 0)
	if err == nil && end != len(b) {
		err = s.errAt(end, "trailing data after value")
	}
	if err != nil {
		return &MarshalerError{Type: v.Type(), Err: err}
	}
	e.buf = append(e.buf, b...)
	return nil
}

func addrMarshalerEncoder(e *encodeState, v reflect.Value) error {
	return marshalerEncoder(e, v.Addr())
}

func newCondAddrEncoder(canAddr, elseEnc encoderFunc) encoderFunc {
	return func(e *encodeState, v reflect.Value) error {
		if v.CanAddr() {
			return canAddr(e, v)
		}
		return elseEnc(e, v)
	}
}

func newListEncoder(t reflect.Type) encoderFunc {
	elem := typeEncoder(t.Elem())
	return func(e *encodeState, v reflect.Value) error {
		e.buf = append(e.buf, 'l')
		for i := 0; i < v.Len(); i++ {
			if err := elem(e, v.Index(i)); err != nil {
				return err
			}
		}
		e.buf = append(e.buf, 'e')
		return nil
	}
}

func newMapEncoder(t reflect.Type) encoderFunc {
	if t.Key().Kind() != reflect.String {
		return func(e *encodeState, v reflect.Value) error {
			return &UnsupportedValueError{Msg: "map key type " + t.Key().String() + " is not a string"}
		}
	}
	elem := typeEncoder(t.Elem())
	return func(e *encodeState, v reflect.Value) error {
		keys := v.MapKeys()
		slices.SortFunc(keys, func(a, b reflect.Value) int {
			as, bs := a.String(), b.String()
			switch {
			case as < bs:
				return -1
			case as > bs:
				return 1
			}
			return 0
		})
		e.buf = append(e.buf, 'd')
		for _, k := range keys {
			e.buf = AppendString(e.buf, k.String())
			if err := elem(e, v.MapIndex(k)); err != nil {
				return err
			}
		}
		e.buf = append(e.buf, 'e')
		return nil
	}
}

func newStructEncoder(t reflect.Type) encoderFunc {
	fields := cachedFields(t)
	encs := make([]encoderFunc, len(fields.list))
	for i, f := range fields.list {
		encs[i] = typeEncoder(f.typ)
	}
	return func(e *encodeState, v reflect.Value) error {
		e.buf = append(e.buf, 'd')
	next:
		for i := range fields.list {
			f := &fields.list[i]
			fv := v
			for j, x := range f.index {
				if j > 0 && fv.Kind() == reflect.Pointer {
					if fv.IsNil() {
						continue next
					}
					fv = fv.Elem()
				}
				fv = fv.Field(x)
			}
			if (f.omitEmpty && isEmptyValue(fv)) || isNilValue(fv) {
				continue
			}
			e.buf = AppendString(e.buf, f.name)
			if err := encs[i](e, fv); err != nil {
				return err
			}
		}
		e.buf = append(e.buf, 'e')
		return nil
	}
}

// isNilValue reports a nil pointer or interface, or an empty RawMessage:
// bencode has no null, so such struct fields are always left out.
func isNilValue(v reflect.Value) bool {
	switch v.Kind() {
	case reflect.Pointer, reflect.Interface:
		return v.IsNil()
	case reflect.Slice:
		return v.Len() == 0 && v.Type() == rawMessageType
	}
	return false
}

var rawMessageType = reflect.TypeFor[RawMessage]()

func isEmptyValue(v reflect.Value) bool {
	switch v.Kind() {
	case reflect.Array, reflect.Map, reflect.Slice, reflect.String:
		return v.Len() == 0
	case reflect.Bool:
		return !v.Bool()
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return v.Int() == 0
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return v.Uint() == 0
	case reflect.Pointer, reflect.Interface:
		return v.IsNil()
	}
	return false
}
