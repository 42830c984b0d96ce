package bencode

import (
	"reflect"
	"sort"
	"strings"
	"sync"
)

var (
	marshalerType   = reflect.TypeFor[Marshaler]()
	unmarshalerType = reflect.TypeFor[Unmarshaler]()
)

var decoderCache sync.Map // reflect.Type -> decoderFunc

// typeDecoder returns the (cached) decoder for t. Recursive types get an
// indirect function while their decoder is being built.
func typeDecoder(t reflect.Type) decoderFunc {
	if f, ok := decoderCache.Load(t); ok {
		return f.(decoderFunc)
	}
	var (
		wg sync.WaitGroup
		f  decoderFunc
	)
	wg.Add(1)
	fi, loaded := decoderCache.LoadOrStore(t, decoderFunc(func(d *decodeState, v reflect.Value) error {
		wg.Wait()
		return f(d, v)
	}))
	if loaded {
		return fi.(decoderFunc)
	}
	f = newTypeDecoder(t)
	wg.Done()
	decoderCache.Store(t, f)
	return f
}

func newTypeDecoder(t reflect.Type) decoderFunc {
	if t.Kind() != reflect.Pointer && reflect.PointerTo(t).Implements(unmarshalerType) {
		return unmarshalerDecoder
	}
	if t.Kind() == reflect.Pointer && t.Implements(unmarshalerType) {
		return unmarshalerDecoder
	}
	switch t.Kind() {
	case reflect.Bool:
		return decodeBool
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return decodeInt
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return decodeUint
	case reflect.String:
		return decodeString
	case reflect.Interface:
		return decodeInterface
	case reflect.Pointer:
		return newPtrDecoder(t)
	case reflect.Slice:
		if t.Elem().Kind() == reflect.Uint8 {
			return decodeBytes
		}
		return newSliceDecoder(t)
	case reflect.Array:
		if t.Elem().Kind() == reflect.Uint8 {
			return decodeByteArray
		}
		return newArrayDecoder(t)
	case reflect.Map:
		return newMapDecoder(t)
	case reflect.Struct:
		return newStructDecoder(t)
	default:
		return func(d *decodeState, v reflect.Value) error { return d.saveTypeError(d.kind(), t) }
	}
}

// field is one bencode dictionary entry of a struct type.
type field struct {
	name      string // bencode key
	index     []int  // path through embedded structs
	typ       reflect.Type
	omitEmpty bool
}

// structFields holds a struct type's fields in key order and by key.
type structFields struct {
	list  []field
	byKey map[string]int // index into list
}

var fieldCache sync.Map // reflect.Type -> *structFields

func cachedFields(t reflect.Type) *structFields {
	if f, ok := fieldCache.Load(t); ok {
		return f.(*structFields)
	}
	f, _ := fieldCache.LoadOrStore(t, typeFields(t))
	return f.(*structFields)
}

// typeFields collects the fields of t, flattening untagged embedded structs
// as encoding/json does: a shallower field hides deeper ones of the same
// name, and a tie at the same depth hides them all.
func typeFields(t reflect.Type) *structFields {
	type candidate struct {
		field
		depth  int
		tagged bool
	}
	var all []candidate
	var walk func(t reflect.Type, index []int, depth int, seen map[reflect.Type]bool)
	walk = func(t reflect.Type, index []int, depth int, seen map[reflect.Type]bool) {
		if seen[t] {
			return
		}
		seen[t] = true
		for i := 0; i < t.NumField(); i++ {
			sf := t.Field(i)
			tag := sf.Tag.Get("bencode")
			if tag == "-" {
				continue
			}
			name, opts, _ := strings.Cut(tag, ",")
			idx := append(append([]int(nil), index...), i)
			ft := sf.Type
			if sf.Anonymous && name == "" {
				et := ft
				if et.Kind() == reflect.Pointer {
					et = et.Elem()
				}
				if et.Kind() == reflect.Struct {
					if !sf.IsExported() && ft.Kind() == reflect.Pointer {
						continue
					}
					walk(et, idx, depth+1, seen)
					continue
				}
			}
			if !sf.IsExported() {
				continue
			}
			c := candidate{depth: depth, tagged: name != ""}
			if name == "" {
				name = sf.Name
			}
			c.field = field{name: name, index: idx, typ: ft, omitEmpty: strings.Contains(","+opts+",", ",omitempty,")}
			all = append(all, c)
		}
		delete(seen, t)
	}
	walk(t, nil, 0, map[reflect.Type]bool{})

	sort.SliceStable(all, func(i, j int) bool {
		if all[i].name != all[j].name {
			return all[i].name < all[j].name
		}
		if all[i].depth != all[j].depth {
			return all[i].depth < all[j].depth
		}
		return all[i].tagged && !all[j].tagged
	})
	sf := &structFields{byKey: map[string]int{}}
	for i := 0; i < len(all); {
		j := i + 1
		for j < len(all) && all[j].name == all[i].name {
			j++
		}
		group := all[i:j]
		// The dominant field: the shallowest; among those, the only tagged one.
		if len(group) == 1 || group[0].depth < group[1].depth || (group[0].tagged && !group[1].tagged) {
			sf.list = append(sf.list, group[0].field)
		}
		i = j
	}
	for i, f := range sf.list {
		sf.byKey[f.name] = i
	}
	return sf
}
