package bencode_test

import (
	"bytes"
	"fmt"
	"io"

	"github.com/bittern/bittern/bencode"
)

func ExampleMarshal() {
	type announce struct {
		Interval int    `bencode:"interval"`
		Peers    []byte `bencode:"peers"`
		Warning  string `bencode:"warning message,omitempty"`
	}
	b, err := bencode.Marshal(announce{Interval: 1800, Peers: []byte{127, 0, 0, 1, 0x1a, 0xe1}})
	if err != nil {
		panic(err)
	}
	fmt.Printf("%q\n", b)
	// Output: "d8:intervali1800e5:peers6:\x7f\x00\x00\x01\x1a\xe1e"
}

func ExampleUnmarshal() {
	var t struct {
		Announce string             `bencode:"announce"`
		Info     bencode.RawMessage `bencode:"info"`
	}
	data := []byte("d8:announce19:http://t.example/an4:infod4:name3:fooee")
	if err := bencode.Unmarshal(data, &t); err != nil {
		panic(err)
	}
	fmt.Println(t.Announce)
	fmt.Println(string(t.Info))
	// Output:
	// http://t.example/an
	// d4:name3:fooe
}

func ExampleDecoder_Token() {
	dec := bencode.NewDecoder(bytes.NewReader([]byte("d1:ai42e1:bl4:spamee")))
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			panic(err)
		}
		switch tok := tok.(type) {
		case []byte:
			fmt.Printf("string %q\n", tok)
		default:
			fmt.Printf("%T %v\n", tok, tok)
		}
	}
	// Output:
	// bencode.Delim d
	// string "a"
	// int64 42
	// string "b"
	// bencode.Delim l
	// string "spam"
	// bencode.Delim e
	// bencode.Delim e
}

func ExampleSyntaxError() {
	var v any
	err := bencode.Unmarshal([]byte("d3:fooi03ee"), &v)
	fmt.Println(err)
	// Output: bencode: syntax error at offset 7: integer has a leading zero
}
