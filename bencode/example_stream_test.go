package bencode_test

import (
	"bytes"
	"crypto/sha1"
	"fmt"
	"io"

	"github.com/bittern/bittern/bencode"
)

// An Encoder writes one value after another to a stream; a Decoder reads
// them back, one Decode per value, while More reports input left.
func ExampleEncoder() {
	var stream bytes.Buffer
	enc := bencode.NewEncoder(&stream)
	enc.Encode(map[string]any{"y": "q", "q": "ping"})
	enc.Encode([]int{1, 2, 3})
	fmt.Println(stream.String())

	dec := bencode.NewDecoder(&stream)
	for dec.More() {
		var v any
		if err := dec.Decode(&v); err != nil {
			fmt.Println(err)
			return
		}
		fmt.Printf("%v\n", v)
	}
	// Output:
	// d1:q4:ping1:y1:qeli1ei2ei3ee
	// map[q:ping y:q]
	// [1 2 3]
}

// ReadToken walks a document without allocating: string bytes alias the
// Decoder's buffer until the next call.
func ExampleDecoder_ReadToken() {
	dec := bencode.NewDecoder(bytes.NewReader([]byte("d4:spaml1:ai-7eee")))
	depth := 0
	for {
		tok, err := dec.ReadToken()
		if err == io.EOF {
			break
		}
		if err != nil {
			fmt.Println(err)
			return
		}
		if tok.Kind == bencode.KindEnd {
			depth--
		}
		fmt.Printf("%*s%c", 2*depth, "", tok.Kind)
		switch tok.Kind {
		case bencode.KindInt:
			fmt.Printf(" %d", tok.Int)
		case bencode.KindString:
			fmt.Printf(" %q", tok.Bytes)
		case bencode.KindList, bencode.KindDict:
			depth++
		}
		fmt.Println()
	}
	// Output:
	// d
	//   s "spam"
	//   l
	//     s "a"
	//     i -7
	//   e
	// e
}

// A RawMessage keeps a value's bytes exactly as they came, which is how
// an info-hash is computed: over the info dictionary's original bytes,
// whatever order or form a re-encoding would give them.
func ExampleRawMessage() {
	var torrent struct {
		Info bencode.RawMessage `bencode:"info"`
	}
	data := []byte("d4:infod6:lengthi5e4:name5:hello12:piece lengthi16384e6:pieces0:ee")
	if err := bencode.Unmarshal(data, &torrent); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("%s\n%x\n", torrent.Info, sha1.Sum(torrent.Info))
	// Output:
	// d6:lengthi5e4:name5:hello12:piece lengthi16384e6:pieces0:e
	// b0cec18aeb1c1bbdb157c866e9c882b3297e200e
}
