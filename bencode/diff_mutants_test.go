package bencode

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"testing"
)

// oracleAccepts lists every kind of invalid input that
// jackpal/bencode-go v1.0.2 accepts and we reject, keyed by the message of
// our *SyntaxError, with the reason we are right. TestDifferentialMutants
// fails on any disagreement not listed here.
var oracleAccepts = map[string]string{
	"trailing data after top-level value": "the oracle decodes the first value and ignores the rest; " +
		"Unmarshal takes exactly one value, as encoding/json does (a Decoder reads a stream of values)",
	"integer has a leading zero": "BEP 3: \"i03e is invalid\"; the oracle parses integers with strconv.ParseInt",
	"negative zero":              "BEP 3: \"i-0e is invalid\"; strconv.ParseInt reads it as 0",
	"invalid byte '+' in integer": "BEP 3: an integer is an optional minus and base-ten digits; " +
		"strconv.ParseInt also takes a plus sign",
	"dictionary key is not a string": "BEP 3: keys are strings; the oracle reads a key's length with " +
		"strconv.ParseInt without looking at its first byte, so \"d+1:a…\" and \"d-0:…\" pass",
	"invalid byte '+' at start of value": "BEP 3: a string's length is base-ten digits; the oracle takes " +
		"\"+3:abc\" for \"3:abc\" (strconv.ParseInt again)",
	"invalid byte '-' at start of value": "BEP 3, as above: the oracle takes \"-0:\" for an empty string " +
		"(a negative length other than -0 makes it fail or panic)",
	ErrTooDeep.Error(): "our nesting limit (DefaultMaxDepth, against hostile input); the oracle recurses without bound",
}

// mutate returns a copy of in with one random edit of a kind that tends to
// produce near-valid bencode.
func mutate(r *rand.Rand, in []byte) []byte {
	const alphabet = "ilde0123456789:-+. x"
	out := bytes.Clone(in)
	if len(out) == 0 {
		return []byte{alphabet[r.IntN(len(alphabet))]}
	}
	p := r.IntN(len(out))
	switch r.IntN(6) {
	case 0: // replace a byte
		out[p] = alphabet[r.IntN(len(alphabet))]
	case 1: // insert a byte
		out = append(out[:p], append([]byte{alphabet[r.IntN(len(alphabet))]}, out[p:]...)...)
	case 2: // delete a byte
		out = append(out[:p], out[p+1:]...)
	case 3: // truncate
		out = out[:p]
	case 4: // append bytes
		out = append(out, alphabet[r.IntN(len(alphabet))], alphabet[r.IntN(len(alphabet))])
	default: // duplicate a span
		q := p + r.IntN(min(16, len(out)-p)) + 1
		out = append(out[:q], append(bytes.Clone(out[p:q]), out[q:]...)...)
	}
	return out
}

// hugeLength reports whether the oracle, reading in as it does, would meet
// a string that declares more than 16 MiB beyond the input: it allocates a
// declared length before reading, so such inputs are not given to it. It
// follows the oracle's grammar (lengths and integers read up to ':' or 'e'
// with strconv.ParseInt).
func hugeLength(in []byte) bool {
	huge := false
	var value func(off, depth int) (int, bool)
	readInt := func(off int, delim byte) (int64, int, bool) {
		end := bytes.IndexByte(in[off:], delim)
		if end < 0 {
			return 0, 0, false
		}
		n, err := strconv.ParseInt(string(in[off:off+end]), 10, 64)
		return n, off + end + 1, err == nil
	}
	str := func(off int) (int, bool) {
		n, end, ok := readInt(off, ':')
		if !ok || n < 0 {
			return 0, false
		}
		if n > int64(len(in)-end) {
			huge = huge || n-int64(len(in)-end) > 16<<20
			return 0, false
		}
		return end + int(n), true
	}
	value = func(off, depth int) (int, bool) {
		if off >= len(in) || depth > 1000 {
			return 0, false
		}
		switch c := in[off]; {
		case c >= '0' && c <= '9':
			return str(off)
		case c == 'i':
			_, end, ok := readInt(off+1, 'e')
			return end, ok
		case c == 'l' || c == 'd':
			off++
			for off < len(in) && in[off] != 'e' {
				var ok bool
				if c == 'd' {
					if off, ok = str(off); !ok {
						return 0, false
					}
				}
				if off, ok = value(off, depth+1); !ok {
					return 0, false
				}
			}
			return off + 1, off < len(in)
		}
		return 0, false
	}
	value(0, 0)
	return huge
}

// TestDifferentialMutants decodes a large corpus of near-valid inputs (one
// random edit of every generated value and real file of the valid corpus)
// with both decoders: where we accept, the oracle must accept the same value;
// where we reject and the oracle accepts, the reason must be one listed in
// oracleAccepts.
func TestDifferentialMutants(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	var bases [][]byte
	for range 3000 {
		b, err := Marshal(randValue(r, 0))
		if err != nil {
			t.Fatal(err)
		}
		bases = append(bases, b)
	}
	names := []string{}
	files := corpus(t)
	for n := range files {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		bases = append(bases, files[n])
	}
	bases = append(bases, benchKRPC(), benchTrackerReply(), benchTorrentFiles(50))

	var agreeValid, bothReject, oraclePanics, skipped int
	seen := map[string]int{}
	for i := range 40000 {
		in := mutate(r, bases[i%len(bases)])
		if i%7 == 0 { // some inputs with two edits
			in = mutate(r, in)
		}
		var ours any
		errOurs := Unmarshal(in, &ours)
		if hugeLength(in) {
			if errOurs == nil {
				t.Errorf("%.80q: accepted a string longer than the input", in)
			}
			skipped++
			continue
		}
		theirs, errTheirs := jackpalDecode(in)
		switch {
		case errOurs == nil && errTheirs == nil:
			if !reflect.DeepEqual(ours, theirs) {
				t.Errorf("%.80q: both accept, values differ", in)
			}
			agreeValid++
		case errOurs == nil:
			t.Errorf("%.80q: we accept, the oracle rejects: %v", in, errTheirs)
		case errTheirs != nil:
			bothReject++
			if strings.HasPrefix(errTheirs.Error(), "panic") {
				oraclePanics++
			}
		default:
			reason := errOurs.Error()
			var se *SyntaxError
			if errors.As(errOurs, &se) {
				reason = se.Msg
			}
			if _, ok := oracleAccepts[reason]; !ok {
				t.Errorf("%.80q: unlisted disagreement: we reject (%v), the oracle accepts", in, errOurs)
				continue
			}
			if reason == "trailing data after top-level value" {
				// The oracle's value is the one before the trailing data.
				var first any
				if err := Unmarshal(in[:se.Offset], &first); err != nil || !reflect.DeepEqual(first, theirs) {
					t.Errorf("%.80q: the oracle's value is not the first value", in)
				}
			}
			seen[reason]++
		}
	}
	t.Logf("%d both accept with equal values, %d both reject (%d by an oracle panic), %d skipped (huge declared length)",
		agreeValid, bothReject, oraclePanics, skipped)
	reasons := make([]string, 0, len(seen))
	for msg := range seen {
		reasons = append(reasons, msg)
	}
	sort.Strings(reasons)
	for _, msg := range reasons {
		t.Logf("oracle accepts, we reject: %d × %s", seen[msg], msg)
	}
	if agreeValid < 1000 || bothReject < 1000 {
		t.Errorf("corpus too one-sided: %d valid, %d invalid", agreeValid, bothReject)
	}
}

// TestDifferentialDepth: the only other disagreement is our nesting limit,
// which the oracle lacks (it recurses without bound).
func TestDifferentialDepth(t *testing.T) {
	in := []byte(strings.Repeat("l", DefaultMaxDepth+1) + strings.Repeat("e", DefaultMaxDepth+1))
	var v any
	if err := Unmarshal(in, &v); !errors.Is(err, ErrTooDeep) {
		t.Fatalf("Unmarshal: %v, want ErrTooDeep", err)
	}
	if _, err := jackpalDecode(in); err != nil {
		t.Fatalf("oracle: %v (the table says it accepts)", err)
	}
}
