package bencode

import (
	"errors"
	"math/rand/v2"
	"reflect"
	"testing"
)

// canonSample is sample without its RawMessage, which keeps non-canonical
// bytes as they are and so differs from a canonical re-encoding by design.
type canonSample struct {
	Embedded
	Name    string            `bencode:"name"`
	Length  int64             `bencode:"length"`
	Small   int8              `bencode:"small"`
	U       uint16            `bencode:"u"`
	Private bool              `bencode:"private"`
	Hash    [4]byte           `bencode:"hash"`
	List    []string          `bencode:"list"`
	Nested  []inner           `bencode:"nested"`
	M       map[string]int    `bencode:"m"`
	Ptr     *inner            `bencode:"ptr"`
	Any     any               `bencode:"any"`
	Plain   string            // key "Plain"
	MM      map[string][]byte `bencode:"mm,omitempty"`
}

// typedTargets returns fresh pointers to the typed destinations the
// mutant test decodes into: they skip unknown keys, count list elements and
// hit type errors, all on input the validation pass has already checked.
func typedTargets() []any {
	return []any{new(torrent), new(krpcReply), new(trackerReply), new(canonSample), new([]torrentFile), new(map[string][]string)}
}

// TestTypedDecodeMutants decodes thousands of near-valid inputs into typed
// values: no panic; a syntax error exactly when decoding into any has one;
// and where the input is valid, the typed value equals the one decoded from
// the canonical re-encoding of the same input (so skipping and counting
// found every value's end).
func TestTypedDecodeMutants(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	var bases [][]byte
	for _, b := range corpus(t) {
		bases = append(bases, b)
	}
	bases = append(bases, benchKRPC(), benchTrackerReply(), benchTorrentFiles(20), benchTorrentSingle()[:2000],
		[]byte("d1:Q4:junk5:Plain1:p3:anyli1ee1:e2:ee4:hash4:abcd6:lengthi5e4:listl1:a1:be1:md1:ai1ee4:name3:foo3:ptrd1:xi7ee3:rawd1:b1:a1:a1:be5:smalli-5e1:ui6ee"))
	syntaxErr := func(err error) bool {
		var se *SyntaxError
		return errors.As(err, &se) || errors.Is(err, ErrTooDeep)
	}
	checked := 0
	for i := range 20000 {
		in := bases[i%len(bases)]
		if i >= len(bases) {
			in = mutate(r, in)
		}
		var v any
		errAny := Unmarshal(in, &v)
		var canon []byte
		if errAny == nil {
			canon, _ = Marshal(v)
		}
		for _, target := range typedTargets() {
			err := Unmarshal(in, target)
			if syntaxErr(err) != syntaxErr(errAny) {
				t.Fatalf("%.80q into %T: %v; into any: %v", in, target, err, errAny)
			}
			if err != nil || canon == nil {
				continue
			}
			again := reflect.New(reflect.TypeOf(target).Elem()).Interface()
			if err := Unmarshal(canon, again); err != nil || !reflect.DeepEqual(target, again) {
				t.Fatalf("%.80q into %T differs from its canonical form (%v)", in, target, err)
			}
			checked++
		}
	}
	t.Logf("%d typed decodes compared with their canonical input", checked)
}
