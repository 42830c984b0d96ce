package utp

import (
	"bytes"
	"errors"
	"testing"
)

func TestPacketRoundTrip(t *testing.T) {
	h := header{typ: stState, connID: 0xbeef, timestamp: 1, tsDiff: 2, wnd: 3, seq: 0xffff, ack: 7, sack: []byte{1, 0, 0, 0x80}}
	b := appendPacket(nil, &h, []byte("payload"))
	if len(b) != headerSize+2+4+7 {
		t.Fatalf("length %d", len(b))
	}
	if b[0] != 0x21 || b[1] != extSack {
		t.Fatalf("type/version byte %#x, extension %d", b[0], b[1])
	}
	got, payload, err := decodePacket(b)
	if err != nil {
		t.Fatal(err)
	}
	if got.typ != h.typ || got.connID != h.connID || got.timestamp != 1 || got.tsDiff != 2 || got.wnd != 3 || got.seq != 0xffff || got.ack != 7 || !bytes.Equal(got.sack, h.sack) {
		t.Fatalf("got %+v", got)
	}
	if string(payload) != "payload" {
		t.Fatalf("payload %q", payload)
	}
	if !sackHas(got.sack, 0) || sackHas(got.sack, 1) || !sackHas(got.sack, 31) || sackHas(got.sack, 32) {
		t.Fatal("sack bits: bit 0 is ack+2, the top bit of byte 3 is ack+33")
	}
}

func TestPacketDecodeErrors(t *testing.T) {
	valid := appendPacket(nil, &header{typ: stData, connID: 1}, nil)
	mod := func(f func(b []byte) []byte) []byte { return f(append([]byte(nil), valid...)) }
	for _, tc := range []struct {
		name string
		b    []byte
		want error
	}{
		{"short", valid[:19], errShort},
		{"version 0 (a UDP tracker reply)", []byte{0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}, errVersion},
		{"bencoded (a DHT message)", []byte("d1:ad2:id20:aaaaaaaaaaaaaaaaaaaae1:q4:ping1:t2:aa1:y1:qe"), errVersion},
		{"type 5", mod(func(b []byte) []byte { b[0] = 5<<4 | 1; return b }), errType},
		{"extension without header", mod(func(b []byte) []byte { b[1] = extSack; return b }), errExtension},
		{"extension past the end", mod(func(b []byte) []byte { b[1] = 9; return append(b, 0, 10, 1, 2) }), errExtension},
		{"chain running off the end", mod(func(b []byte) []byte { b[1] = 9; return append(b, 9, 0, 9, 0, 9) }), errExtension},
	} {
		if _, _, err := decodePacket(tc.b); !errors.Is(err, tc.want) {
			t.Errorf("%s: %v, want %v", tc.name, err, tc.want)
		}
	}
	// libtorrent sends selective acks of any length, down to one byte.
	for _, n := range []int{1, 3, 5} {
		b := mod(func(b []byte) []byte { b[1] = extSack; return append(append(b, 0, byte(n)), make([]byte, n)...) })
		if h, _, err := decodePacket(b); err != nil || len(h.sack) != n {
			t.Errorf("sack of %d bytes: %v, %d", n, err, len(h.sack))
		}
	}
	// A second selective ack is ignored.
	b2 := mod(func(b []byte) []byte { b[1] = extSack; return append(b, extSack, 4, 1, 0, 0, 0, 0, 4, 2, 0, 0, 0) })
	if h, _, err := decodePacket(b2); err != nil || h.sack[0] != 1 {
		t.Errorf("two sacks: %v %x", err, h.sack)
	}
	// Unknown extensions (libtorrent's close reason is 3) are skipped.
	b := mod(func(b []byte) []byte { b[1] = 3; return append(b, extSack, 4, 0, 0, 0, 9, 0, 4, 1, 0, 0, 0, 'x') })
	h, p, err := decodePacket(b)
	if err != nil || len(h.sack) != 4 || string(p) != "x" {
		t.Fatalf("chain 3→1: %+v %q %v", h, p, err)
	}
}

func TestSeqLess(t *testing.T) {
	for _, tc := range []struct {
		a, b uint16
		want bool
	}{{1, 2, true}, {2, 1, false}, {0xfffe, 1, true}, {1, 0xfffe, false}, {5, 5, false}} {
		if seqLess(tc.a, tc.b) != tc.want {
			t.Errorf("seqLess(%d, %d) != %v", tc.a, tc.b, tc.want)
		}
	}
}

func FuzzDecodePacket(f *testing.F) {
	f.Add(appendPacket(nil, &header{typ: stSyn, connID: 5, seq: 1}, nil))
	f.Add(appendPacket(nil, &header{typ: stState, sack: []byte{0xff, 0, 0, 1}}, nil))
	f.Add(appendPacket(nil, &header{typ: stData, seq: 9}, []byte("data")))
	f.Add([]byte("d1:y1:qe"))
	f.Fuzz(func(t *testing.T, b []byte) {
		h, payload, err := decodePacket(b)
		if err != nil {
			return
		}
		// What decodes re-encodes (unknown extensions dropped) and decodes
		// to the same header and payload.
		again, p2, err := decodePacket(appendPacket(nil, &h, payload))
		if err != nil {
			t.Fatalf("re-decoding: %v", err)
		}
		if again.typ != h.typ || again.connID != h.connID || again.seq != h.seq || again.ack != h.ack ||
			again.wnd != h.wnd || again.timestamp != h.timestamp || again.tsDiff != h.tsDiff ||
			!bytes.Equal(again.sack, h.sack) || !bytes.Equal(p2, payload) {
			t.Fatalf("round trip changed %+v to %+v", h, again)
		}
	})
}
