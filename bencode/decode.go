package bencode

import (
	"bytes"
	"math"
	"reflect"
	"strconv"
	"strings"
	"sync"
)

// Unmarshaler is implemented by types that decode themselves from one
// complete bencode value. When the call comes from Unmarshal, data is a
// subslice of Unmarshal's input, which an Unmarshaler may keep (aliasing it,
// without a copy) if the caller keeps the input unchanged. When it comes
// from a Decoder, data is only valid during the call: copy it to keep it.
type Unmarshaler interface {
	UnmarshalBencode(data []byte) error
}

// Unmarshal decodes data, which must hold exactly one bencode value, into the
// value pointed to by v, following the rules described in the package
// documentation.
//
// Syntax errors (including trailing data) are *SyntaxError and stop
// decoding. A value that does not fit its Go destination is skipped and the
// rest is still decoded; the first such *UnmarshalTypeError is returned.
func Unmarshal(data []byte, v any) error {
	d := decodeStatePool.Get().(*decodeState)
	*d = decodeState{scanner: scanner{data: data, maxDepth: DefaultMaxDepth}, bounds: d.bounds[:0]}
	err := d.unmarshal(v)
	*d = decodeState{bounds: d.bounds[:0]} // keep the scratch, not the input
	decodeStatePool.Put(d)
	return err
}

// decodeStatePool recycles decode states and their scratch space.
var decodeStatePool = sync.Pool{New: func() any { return new(decodeState) }}

// decodeState decodes one value held in memory.
type decodeState struct {
	scanner
	off     int
	depth   int
	field   string   // struct field being decoded, for errors
	typeErr error    // first type error seen
	bounds  [][2]int // scratch for string lists
}

func (d *decodeState) unmarshal(v any) error {
	rv := reflect.ValueOf(v)
	if rv.Kind() != reflect.Pointer || rv.IsNil() {
		return &InvalidUnmarshalError{Type: reflect.TypeOf(v)}
	}
	// Validate first: a syntax error anywhere fails the whole input, and the
	// decoders below may then trust the structure they walk.
	end, err := d.skip(0, 0)
	if err != nil {
		return err
	}
	if end != len(d.data) {
		return d.errAt(end, "trailing data after top-level value")
	}
	return d.unmarshalValid(v)
}

// unmarshalValid decodes d.data, which holds exactly one valid value, into v.
func (d *decodeState) unmarshalValid(v any) error {
	rv := reflect.ValueOf(v)
	if rv.Kind() != reflect.Pointer || rv.IsNil() {
		return &InvalidUnmarshalError{Type: reflect.TypeOf(v)}
	}
	if err := typeDecoder(rv.Type().Elem())(d, rv.Elem()); err != nil {
		return err
	}
	return d.typeErr
}

// saveTypeError records the first type error and skips the current value.
func (d *decodeState) saveTypeError(what string, t reflect.Type) error {
	if d.typeErr == nil {
		d.typeErr = &UnmarshalTypeError{Value: what, Type: t, Offset: d.base + int64(d.off), Field: d.field}
	}
	return d.skipValue()
}

// skipValue moves past the current (already validated) value.
func (d *decodeState) skipValue() error {
	d.off = d.skipValid(d.off)
	return nil
}

// skipValid returns the offset just past the value at off, which the
// validation pass has already checked: it finds the end without checking
// again. Recursion is bounded by the depth limit that pass enforced.
func (d *decodeState) skipValid(off int) int {
	switch c := d.data[off]; c {
	case 'i':
		return off + bytes.IndexByte(d.data[off:], 'e') + 1
	case 'l', 'd': // a dictionary alternates keys and values: all values
		off++
		for d.data[off] != 'e' {
			off = d.skipValid(off)
		}
		return off + 1
	default:
		n := 0
		for ; d.data[off] != ':'; off++ {
			n = n*10 + int(d.data[off]-'0')
		}
		return off + 1 + n
	}
}

// kind returns a description of the value at the current offset for errors.
func (d *decodeState) kind() string {
	switch c := d.data[d.off]; {
	case c == 'i':
		end := d.off
		for end < len(d.data) && d.data[end] != 'e' {
			end++
		}
		return "integer " + string(d.data[d.off+1:end])
	case c == 'l':
		return "list"
	case c == 'd':
		return "dictionary"
	default:
		return "string"
	}
}

// readInt decodes the integer at the current offset.
func (d *decodeState) readInt(t reflect.Type) (v int64, ok bool, err error) {
	if d.data[d.off] != 'i' {
		return 0, false, d.saveTypeError(d.kind(), t)
	}
	v, end, overflow, err := d.integer(d.off)
	if err != nil {
		return 0, false, err
	}
	if overflow {
		return 0, false, d.saveTypeError(d.kind(), t)
	}
	d.off = end
	return v, true, nil
}

// readString returns the contents of the string at the current offset,
// aliasing the input.
func (d *decodeState) readString(t reflect.Type) (b []byte, ok bool, err error) {
	if c := d.data[d.off]; c < '0' || c > '9' {
		return nil, false, d.saveTypeError(d.kind(), t)
	}
	start, end, err := d.str(d.off)
	if err != nil {
		return nil, false, err
	}
	d.off = end
	return d.data[start:end], true, nil
}

// decodeAny decodes any value into the natural Go types: int64, string,
// []any and map[string]any.
func (d *decodeState) decodeAny(t reflect.Type) (any, error) {
	switch c := d.data[d.off]; {
	case c == 'i':
		v, ok, err := d.readInt(t)
		if !ok {
			return nil, err
		}
		return v, nil
	case c == 'l':
		d.off++
		d.depth++
		list := []any{}
		for d.data[d.off] != 'e' {
			v, err := d.decodeAny(t)
			if err != nil {
				return nil, err
			}
			list = append(list, v)
		}
		d.off++
		d.depth--
		return list, nil
	case c == 'd':
		d.off++
		d.depth++
		m := map[string]any{}
		for d.data[d.off] != 'e' {
			k, _, err := d.readString(t)
			if err != nil {
				return nil, err
			}
			v, err := d.decodeAny(t)
			if err != nil {
				return nil, err
			}
			m[string(k)] = v
		}
		d.off++
		d.depth--
		return m, nil
	default:
		b, _, err := d.readString(t)
		return string(b), err
	}
}

// decoderFunc decodes the value at the current offset into v.
type decoderFunc func(d *decodeState, v reflect.Value) error

func decodeBool(d *decodeState, v reflect.Value) error {
	i, ok, err := d.readInt(v.Type())
	if ok {
		v.SetBool(i != 0)
	}
	return err
}

func decodeInt(d *decodeState, v reflect.Value) error {
	start := d.off
	i, ok, err := d.readInt(v.Type())
	if ok {
		if v.OverflowInt(i) {
			d.off = start
			return d.saveTypeError("integer "+strconv.FormatInt(i, 10), v.Type())
		}
		v.SetInt(i)
	}
	return err
}

// decodeUint decodes an unsigned integer of any width, uint64 values above
// MaxInt64 included.
func decodeUint(d *decodeState, v reflect.Value) error {
	if d.data[d.off] != 'i' {
		return d.saveTypeError(d.kind(), v.Type())
	}
	_, end, _, err := d.integer(d.off)
	if err != nil {
		return err
	}
	// The value is valid: an optional '-', then digits without a leading zero.
	digits := d.data[d.off+1 : end-1]
	var u uint64
	ok := digits[0] != '-'
	for _, c := range digits {
		if !ok {
			break
		}
		n := uint64(c - '0')
		ok = u <= (math.MaxUint64-n)/10
		u = u*10 + n
	}
	if !ok || v.OverflowUint(u) {
		return d.saveTypeError("integer "+string(digits), v.Type())
	}
	v.SetUint(u)
	d.off = end
	return nil
}

func decodeString(d *decodeState, v reflect.Value) error {
	b, ok, err := d.readString(v.Type())
	if ok {
		v.SetString(string(b))
	}
	return err
}

func decodeBytes(d *decodeState, v reflect.Value) error {
	b, ok, err := d.readString(v.Type())
	if ok {
		v.SetBytes(append([]byte(nil), b...))
	}
	return err
}

func decodeByteArray(d *decodeState, v reflect.Value) error {
	start := d.off
	b, ok, err := d.readString(v.Type())
	if ok {
		if len(b) != v.Len() {
			d.off = start
			return d.saveTypeError("string of "+strconv.Itoa(len(b))+" bytes", v.Type())
		}
		reflect.Copy(v, reflect.ValueOf(b))
	}
	return err
}

func decodeInterface(d *decodeState, v reflect.Value) error {
	if v.NumMethod() != 0 {
		return d.saveTypeError(d.kind(), v.Type())
	}
	x, err := d.decodeAny(v.Type())
	if err == nil && x != nil {
		v.Set(reflect.ValueOf(x))
	}
	return err
}

// unmarshalerDecoder calls UnmarshalBencode on *v with the raw value.
func unmarshalerDecoder(d *decodeState, v reflect.Value) error {
	start := d.off
	if err := d.skipValue(); err != nil {
		return err
	}
	if v.Kind() == reflect.Pointer && v.IsNil() {
		v.Set(reflect.New(v.Type().Elem()))
	}
	var u Unmarshaler
	if v.Kind() == reflect.Pointer {
		u = v.Interface().(Unmarshaler)
	} else {
		u = v.Addr().Interface().(Unmarshaler)
	}
	if err := u.UnmarshalBencode(d.data[start:d.off]); err != nil {
		return &MarshalerError{Type: v.Type(), Err: err}
	}
	return nil
}

func newPtrDecoder(t reflect.Type) decoderFunc {
	elem := typeDecoder(t.Elem())
	return func(d *decodeState, v reflect.Value) error {
		if v.IsNil() {
			v.Set(reflect.New(t.Elem()))
		}
		return elem(d, v.Elem())
	}
}

func newSliceDecoder(t reflect.Type) decoderFunc {
	switch t.Elem() {
	case reflect.TypeFor[string]():
		return decodeStringSlice
	case reflect.TypeFor[[]byte]():
		return decodeBytesSlice
	}
	return newGenericSliceDecoder(t)
}

// countElems returns the number of elements in the (valid) list at d.off.
func (d *decodeState) countElems() int {
	off, n := d.off+1, 0
	for d.data[off] != 'e' {
		off = d.skipValid(off)
		n++
	}
	return n
}

// stringElems gathers the bounds of the strings in the list at d.off, and
// their total length, or reports that the list holds something else.
func (d *decodeState) stringElems(bounds [][2]int) (_ [][2]int, total, end int, ok bool) {
	if d.data[d.off] != 'l' {
		return bounds, 0, 0, false
	}
	off := d.off + 1
	for d.data[off] != 'e' {
		if c := d.data[off]; c < '0' || c > '9' {
			return bounds, 0, 0, false
		}
		start, end, _ := d.str(off)
		bounds = append(bounds, [2]int{start, end})
		total += end - start
		off = end
	}
	return bounds, total, off + 1, true
}

// decodeStringSlice decodes a list of strings with two allocations: the
// slice and one string holding all the contents.
func decodeStringSlice(d *decodeState, v reflect.Value) error {
	bounds, total, end, ok := d.stringElems(d.bounds[:0])
	d.bounds = bounds
	if !ok {
		return decodeSliceSlow(d, v)
	}
	var sb strings.Builder
	sb.Grow(total)
	for _, b := range bounds {
		sb.Write(d.data[b[0]:b[1]])
	}
	all := sb.String()
	out := make([]string, len(bounds))
	pos := 0
	for i, b := range bounds {
		out[i] = all[pos : pos+b[1]-b[0]]
		pos += b[1] - b[0]
	}
	setSlice(v, out)
	d.off = end
	return nil
}

// decodeBytesSlice decodes a list of strings into [][]byte with two
// allocations: the slice and one buffer that the elements share (each
// element's capacity is its length, so appending to one never overwrites
// another).
func decodeBytesSlice(d *decodeState, v reflect.Value) error {
	bounds, total, end, ok := d.stringElems(d.bounds[:0])
	d.bounds = bounds
	if !ok {
		return decodeSliceSlow(d, v)
	}
	buf := make([]byte, 0, total)
	out := make([][]byte, len(bounds))
	for i, b := range bounds {
		start := len(buf)
		buf = append(buf, d.data[b[0]:b[1]]...)
		out[i] = buf[start:len(buf):len(buf)]
	}
	setSlice(v, out)
	d.off = end
	return nil
}

func newGenericSliceDecoder(t reflect.Type) decoderFunc {
	elem := typeDecoder(t.Elem())
	return func(d *decodeState, v reflect.Value) error {
		if d.data[d.off] != 'l' {
			return d.saveTypeError(d.kind(), t)
		}
		n := d.countElems()
		if v.Cap() < n {
			v.Set(reflect.MakeSlice(t, n, n))
		} else {
			if v.IsNil() {
				v.Set(reflect.MakeSlice(t, 0, 0))
			}
			v.SetLen(n)
		}
		d.off++
		d.depth++
		for i := range n {
			ev := v.Index(i)
			ev.SetZero()
			if err := elem(d, ev); err != nil {
				return err
			}
		}
		d.off++
		d.depth--
		return nil
	}
}

var sliceSlowCache sync.Map // reflect.Type -> decoderFunc

// decodeSliceSlow decodes a []string or [][]byte element by element, so
// that a wrong element type is reported like any other.
func decodeSliceSlow(d *decodeState, v reflect.Value) error {
	t := v.Type()
	f, ok := sliceSlowCache.Load(t)
	if !ok {
		f, _ = sliceSlowCache.LoadOrStore(t, newGenericSliceDecoder(t))
	}
	return f.(decoderFunc)(d, v)
}

func newArrayDecoder(t reflect.Type) decoderFunc {
	elem := typeDecoder(t.Elem())
	return func(d *decodeState, v reflect.Value) error {
		if d.data[d.off] != 'l' {
			return d.saveTypeError(d.kind(), t)
		}
		start := d.off
		d.off++
		d.depth++
		n := 0
		for d.data[d.off] != 'e' {
			if n >= v.Len() {
				d.off, d.depth = start, d.depth-1
				return d.saveTypeError("list longer than "+strconv.Itoa(v.Len()), t)
			}
			if err := elem(d, v.Index(n)); err != nil {
				return err
			}
			n++
		}
		for i := n; i < v.Len(); i++ {
			v.Index(i).SetZero()
		}
		d.off++
		d.depth--
		return nil
	}
}

func newMapDecoder(t reflect.Type) decoderFunc {
	if t.Key().Kind() != reflect.String {
		return func(d *decodeState, v reflect.Value) error { return d.saveTypeError(d.kind(), t) }
	}
	elem := typeDecoder(t.Elem())
	return func(d *decodeState, v reflect.Value) error {
		if d.data[d.off] != 'd' {
			return d.saveTypeError(d.kind(), t)
		}
		if v.IsNil() {
			v.Set(reflect.MakeMap(t))
		}
		d.off++
		d.depth++
		ev := reflect.New(t.Elem()).Elem()
		kv := reflect.New(t.Key()).Elem()
		for d.data[d.off] != 'e' {
			k, _, err := d.readString(t.Key())
			if err != nil {
				return err
			}
			ev.SetZero()
			if err := elem(d, ev); err != nil {
				return err
			}
			kv.SetString(string(k))
			v.SetMapIndex(kv, ev)
		}
		d.off++
		d.depth--
		return nil
	}
}

func newStructDecoder(t reflect.Type) decoderFunc {
	fields := cachedFields(t)
	decs := make([]decoderFunc, len(fields.list))
	for i, f := range fields.list {
		decs[i] = typeDecoder(f.typ)
	}
	return func(d *decodeState, v reflect.Value) error {
		if d.data[d.off] != 'd' {
			return d.saveTypeError(d.kind(), t)
		}
		d.off++
		d.depth++
		saved := d.field
		next := 0 // index of the field expected next
		for d.data[d.off] != 'e' {
			k, _, err := d.readString(t)
			if err != nil {
				return err
			}
			// Keys usually come in the fields' (sorted) order: try the
			// field after the last one matched before hashing the key.
			i, ok := next, next < len(fields.list) && fields.list[next].name == string(k)
			if !ok {
				i, ok = fields.byKey[string(k)]
			}
			if !ok {
				if err := d.skipValue(); err != nil {
					return err
				}
				continue
			}
			next = i + 1
			f := &fields.list[i]
			fv, ok := fieldByIndex(v, f.index)
			if !ok {
				if err := d.skipValue(); err != nil {
					return err
				}
				continue
			}
			d.field = f.name
			if err := decs[i](d, fv); err != nil {
				return err
			}
		}
		d.field = saved
		d.off++
		d.depth--
		return nil
	}
}

// fieldByIndex walks an embedded-field index path, allocating nil embedded
// struct pointers. It fails only for unexported embedded pointers.
func fieldByIndex(v reflect.Value, index []int) (reflect.Value, bool) {
	for i, x := range index {
		if i > 0 && v.Kind() == reflect.Pointer {
			if v.IsNil() {
				if !v.CanSet() {
					return reflect.Value{}, false
				}
				v.Set(reflect.New(v.Type().Elem()))
			}
			v = v.Elem()
		}
		v = v.Field(x)
	}
	return v, true
}

// setSlice stores s in v, a settable value whose type has s's underlying
// type, without boxing s in an interface (an allocation per call).
func setSlice[S ~[]E, E any](v reflect.Value, s S) {
	if v.CanAddr() {
		*(*S)(v.Addr().UnsafePointer()) = s
		return
	}
	v.Set(reflect.ValueOf(s).Convert(v.Type()))
}
