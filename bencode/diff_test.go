package bencode

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	jackpal "github.com/jackpal/bencode-go"
)

// jackpalDecode decodes with the oracle, turning its panics into errors.
func jackpalDecode(in []byte) (v any, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("panic: %v", r)
		}
	}()
	return jackpal.Decode(bytes.NewReader(in))
}

// randValue builds a random value of the kinds bencode has.
func randValue(r *rand.Rand, depth int) any {
	k := r.IntN(4)
	if depth > 4 {
		k = r.IntN(2)
	}
	switch k {
	case 0:
		switch r.IntN(3) {
		case 0:
			return int64(r.IntN(200) - 100)
		case 1:
			return r.Int64() - r.Int64()
		}
		return int64(0)
	case 1:
		b := make([]byte, r.IntN(40))
		for i := range b {
			b[i] = byte(r.IntN(256))
		}
		return string(b)
	case 2:
		l := []any{}
		for range r.IntN(6) {
			l = append(l, randValue(r, depth+1))
		}
		return l
	default:
		m := map[string]any{}
		for range r.IntN(6) {
			m[fmt.Sprint(r.IntN(1000))] = randValue(r, depth+1)
		}
		return m
	}
}

// corpus returns real bencoded files shipped in the repository.
func corpus(t testing.TB) map[string][]byte {
	files := map[string][]byte{}
	for _, pat := range []string{"testdata/*", "../metainfo/testdata/*.torrent", "../metainfo/testdata/*/*.torrent"} {
		names, _ := filepath.Glob(pat)
		for _, n := range names {
			if b, err := os.ReadFile(n); err == nil {
				files[n] = b
			}
		}
	}
	return files
}

// TestDifferentialValid: on every valid input, our decoder and
// jackpal/bencode-go v1.0.2 produce the same value.
func TestDifferentialValid(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	inputs := map[string][]byte{}
	for i := range 2000 {
		b, err := Marshal(randValue(r, 0))
		if err != nil {
			t.Fatal(err)
		}
		inputs[fmt.Sprint("generated ", i)] = b
	}
	inputs["unsorted keys"] = []byte("d1:b0:1:a0:e")
	inputs["large torrent"] = benchTorrentFiles(200)
	inputs["krpc"] = benchKRPC()
	for name, b := range corpus(t) {
		inputs[name] = b
	}
	n := 0
	for name, in := range inputs {
		var ours any
		if err := Unmarshal(in, &ours); err != nil {
			if !strings.HasPrefix(name, "generated") && !Valid(in) {
				continue // an invalid corpus file: covered by the invalid-input test
			}
			t.Errorf("%s: we reject valid input: %v", name, err)
			continue
		}
		theirs, err := jackpalDecode(in)
		if err != nil {
			t.Errorf("%s: oracle rejects: %v", name, err)
			continue
		}
		if !reflect.DeepEqual(ours, theirs) {
			t.Errorf("%s: values differ", name)
		}
		n++
	}
	t.Logf("%d inputs agree", n)
}

// TestDifferentialInvalid lists every input on which the two decoders
// disagree, each with the reason we are right.
func TestDifferentialInvalid(t *testing.T) {
	tests := []struct {
		in     string
		oracle string // "accepts", "rejects" or "panics"
		why    string
	}{
		{"i03e", "accepts", "BEP 3: integers with leading zeros are invalid"},
		{"i-0e", "accepts", "BEP 3: i-0e is invalid"},
		{"i+1e", "accepts", "BEP 3: integers are an optional minus and digits"},
		{"i1ei2e", "accepts", "trailing data: the oracle reads one value and ignores the rest"},
		{"le ", "accepts", "trailing data"},
		{"-1:a", "panics", "a negative length; the oracle panics"},
		{"ie", "rejects", ""},
		{"i-e", "rejects", ""},
		{"i1.5e", "rejects", ""},
		{"5:abc", "rejects", ""},
		{"di1ei2ee", "rejects", ""},
		{"e", "rejects", ""},
		{"d1:ae", "rejects", ""},
		{"l", "rejects", ""},
		{"i99999999999999999999e", "rejects", "valid bencode but not an int64: both refuse to decode it into any"},
	}
	for _, tt := range tests {
		var v any
		if err := Unmarshal([]byte(tt.in), &v); err == nil {
			t.Errorf("%q: we accept it", tt.in)
		}
		_, err := jackpalDecode([]byte(tt.in))
		got := "accepts"
		switch {
		case err != nil && strings.HasPrefix(err.Error(), "panic"):
			got = "panics"
		case err != nil:
			got = "rejects"
		}
		if got != tt.oracle {
			t.Errorf("%q: oracle %s, table says %s", tt.in, got, tt.oracle)
		}
	}
}
