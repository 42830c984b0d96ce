package peerwire

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// allMessages has one message of every type, as ReadMessage returns them.
func allMessages() []Message {
	root := [32]byte{1, 2, 3}
	hr := HashRequest{PiecesRoot: root, BaseLayer: 0, Index: 4, Length: 4, ProofLayers: 3}
	return []Message{
		&KeepAlive{}, &Choke{}, &Unchoke{}, &Interested{}, &NotInterested{},
		&Have{Index: 7}, &Bitfield{Bits: []byte{0xff, 0x80}},
		&Request{Index: 1, Begin: 16384, Length: 16384},
		&Piece{Index: 2, Begin: 0, Block: []byte("hello block")},
		&Cancel{Index: 1, Begin: 16384, Length: 16384}, &Port{Port: 6881},
		&Suggest{Index: 3}, &HaveAll{}, &HaveNone{},
		&Reject{Index: 1, Begin: 0, Length: 16384}, &AllowedFast{Index: 8},
		&Extended{ExtendedID: 0, Payload: []byte("d1:md6:ut_pexi1eee")},
		&hr, &Hashes{HashRequest: hr, Hashes: bytes.Repeat([]byte{9}, 32*6)},
		(*HashReject)(&hr), &Unknown{MessageID: 99, Payload: []byte{1, 2}},
	}
}

func TestRoundTripAllMessages(t *testing.T) {
	for _, m := range allMessages() {
		t.Run(m.String(), func(t *testing.T) {
			var buf bytes.Buffer
			f := NewFramer(&buf, &buf)
			f.SetPieceCount(10)
			require.NoError(t, f.WriteMessage(m))
			assert.Equal(t, m.AppendTo(nil), buf.Bytes())
			got, err := f.ReadMessage()
			require.NoError(t, err)
			assert.Equal(t, m, got)
			_, err = f.ReadMessage()
			assert.Equal(t, io.EOF, err)
		})
	}
}

func TestWireBytes(t *testing.T) {
	// Encodings checked by hand against BEP 3, 5, 6, 10 and 52.
	tests := []struct {
		m    Message
		want string
	}{
		{KeepAlive{}, "00000000"},
		{Choke{}, "0000000100"},
		{Unchoke{}, "0000000101"},
		{Interested{}, "0000000102"},
		{NotInterested{}, "0000000103"},
		{Have{0x01020304}, "000000050401020304"},
		{Bitfield{[]byte{0xa0}}, "0000000205a0"},
		{Request{1, 2, 3}, "0000000d06000000010000000200000003"},
		{Piece{1, 2, []byte{0xaa}}, "0000000a070000000100000002aa"},
		{Cancel{1, 2, 3}, "0000000d08000000010000000200000003"},
		{Port{0x1ae1}, "00000003091ae1"},
		{Suggest{5}, "000000050d00000005"},
		{HaveAll{}, "000000010e"},
		{HaveNone{}, "000000010f"},
		{Reject{1, 2, 3}, "0000000d10000000010000000200000003"},
		{AllowedFast{5}, "000000051100000005"},
		{Extended{3, []byte("de")}, "00000004140364" + "65"},
		{HashRequest{BaseLayer: 1, Index: 2, Length: 2, ProofLayers: 4}, "0000003115" + strings.Repeat("00", 32) + "00000001000000020000000200000004"},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, hexs(tt.m.AppendTo(nil)), tt.m.String())
	}
}

func hexs(b []byte) string {
	const digits = "0123456789abcdef"
	var s strings.Builder
	for _, c := range b {
		s.WriteByte(digits[c>>4])
		s.WriteByte(digits[c&15])
	}
	return s.String()
}

func frame(id ID, payload ...byte) []byte {
	b := binary.BigEndian.AppendUint32(nil, uint32(1+len(payload)))
	return append(append(b, byte(id)), payload...)
}

func u32(vs ...uint32) []byte {
	var b []byte
	for _, v := range vs {
		b = binary.BigEndian.AppendUint32(b, v)
	}
	return b
}

func TestValidation(t *testing.T) {
	tests := []struct {
		name     string
		pieces   int
		pieceLen int64
		total    int64
		in       []byte
		sentinel error
		wantID   ID
	}{
		{"choke with payload", 0, 0, 0, frame(IDChoke, 0), ErrBadLength, IDChoke},
		{"have short", 0, 0, 0, frame(IDHave, 0, 0, 1), ErrBadLength, IDHave},
		{"have long", 0, 0, 0, frame(IDHave, 0, 0, 0, 1, 0), ErrBadLength, IDHave},
		{"have out of range", 10, 0, 0, frame(IDHave, u32(10)...), ErrIndexOutOfRange, IDHave},
		{"suggest out of range", 10, 0, 0, frame(IDSuggest, u32(11)...), ErrIndexOutOfRange, IDSuggest},
		{"allowed fast out of range", 10, 0, 0, frame(IDAllowedFast, u32(1<<31)...), ErrIndexOutOfRange, IDAllowedFast},
		{"bitfield too short", 10, 0, 0, frame(IDBitfield, 0xff), ErrBadBitfield, IDBitfield},
		{"bitfield too long", 10, 0, 0, frame(IDBitfield, 0xff, 0xc0, 0), ErrBadBitfield, IDBitfield},
		{"bitfield spare bits", 10, 0, 0, frame(IDBitfield, 0xff, 0xe0), ErrBadBitfield, IDBitfield},
		{"request zero length", 10, 0, 0, frame(IDRequest, u32(1, 0, 0)...), ErrBadRequestLength, IDRequest},
		{"request too long", 10, 0, 0, frame(IDRequest, u32(1, 0, MaxRequestLength+1)...), ErrBadRequestLength, IDRequest},
		{"request out of range", 10, 0, 0, frame(IDRequest, u32(10, 0, 16384)...), ErrIndexOutOfRange, IDRequest},
		{"request past piece end", 10, 32768, 0, frame(IDRequest, u32(1, 16385, 16384)...), ErrIndexOutOfRange, IDRequest},
		{"request past last piece", 10, 32768, 9*32768 + 100, frame(IDRequest, u32(9, 0, 101)...), ErrIndexOutOfRange, IDRequest},
		{"cancel short", 10, 0, 0, frame(IDCancel, u32(1, 0)...), ErrBadLength, IDCancel},
		{"reject too long", 10, 0, 0, frame(IDReject, u32(1, 0, 1<<20)...), ErrBadRequestLength, IDReject},
		{"piece short header", 10, 0, 0, frame(IDPiece, u32(1)...), ErrBadLength, IDPiece},
		{"piece empty block", 10, 0, 0, frame(IDPiece, u32(1, 0)...), ErrBadRequestLength, IDPiece},
		{"piece out of range", 10, 0, 0, frame(IDPiece, append(u32(12, 0), 1)...), ErrIndexOutOfRange, IDPiece},
		{"piece past piece end", 10, 16384, 0, frame(IDPiece, append(u32(1, 16384), 1)...), ErrIndexOutOfRange, IDPiece},
		{"port short", 0, 0, 0, frame(IDPort, 1), ErrBadLength, IDPort},
		{"have all with payload", 0, 0, 0, frame(IDHaveAll, 1), ErrBadLength, IDHaveAll},
		{"have none with payload", 0, 0, 0, frame(IDHaveNone, 1), ErrBadLength, IDHaveNone},
		{"extended empty", 0, 0, 0, frame(IDExtended), ErrBadLength, IDExtended},
		{"hash request short", 0, 0, 0, frame(IDHashRequest, make([]byte, 47)...), ErrBadLength, IDHashRequest},
		{"hash request zero length", 0, 0, 0, frame(IDHashRequest, append(make([]byte, 32), u32(0, 0, 0, 0)...)...), ErrBadHashRequest, IDHashRequest},
		{"hash request misaligned", 0, 0, 0, frame(IDHashRequest, append(make([]byte, 32), u32(0, 2, 4, 0)...)...), ErrBadHashRequest, IDHashRequest},
		{"hash request huge", 0, 0, 0, frame(IDHashRequest, append(make([]byte, 32), u32(0, 0, 1<<14, 0)...)...), ErrBadHashRequest, IDHashRequest},
		{"hash reject bad layer", 0, 0, 0, frame(IDHashReject, append(make([]byte, 32), u32(64, 0, 2, 0)...)...), ErrBadHashRequest, IDHashReject},
		{"hashes ragged", 0, 0, 0, frame(IDHashes, append(append(make([]byte, 32), u32(0, 0, 2, 0)...), make([]byte, 65)...)...), ErrBadLength, IDHashes},
		{"hashes too few", 0, 0, 0, frame(IDHashes, append(append(make([]byte, 32), u32(0, 0, 4, 0)...), make([]byte, 64)...)...), ErrBadHashRequest, IDHashes},
		{"huge length prefix", 0, 0, 0, append(u32(0xffffffff), 7), ErrMessageTooLarge, IDPiece},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := NewFramer(io.Discard, bytes.NewReader(tt.in))
			f.SetPieceCount(tt.pieces)
			f.SetPieceLength(tt.pieceLen, tt.total)
			_, err := f.ReadMessage()
			require.ErrorIs(t, err, tt.sentinel)
			var pe *ProtocolError
			require.ErrorAs(t, err, &pe)
			assert.Equal(t, tt.wantID, pe.ID)
			assert.Contains(t, pe.Error(), tt.wantID.String())
		})
	}
}

func TestValidAtLimits(t *testing.T) {
	f := NewFramer(io.Discard, bytes.NewReader(bytes.Join([][]byte{
		frame(IDBitfield, 0xff, 0xc0),
		frame(IDHave, u32(9)...),
		frame(IDRequest, u32(8, 0, MaxRequestLength)...),
		frame(IDPiece, append(u32(9, 16383), 1)...),
		frame(IDHashes, append(append(make([]byte, 32), u32(0, 4, 3, 0)...), make([]byte, 96)...)...),
	}, nil)))
	f.SetPieceCount(10)
	f.SetPieceLength(1<<20, 9<<20+16384)
	for range 5 {
		m, err := f.ReadMessage()
		require.NoError(t, err, "%v", m)
	}
}

func TestTruncatedStreams(t *testing.T) {
	for _, m := range allMessages() {
		full := m.AppendTo(nil)
		for cut := 1; cut < len(full); cut++ {
			f := NewFramer(io.Discard, bytes.NewReader(full[:cut]))
			_, err := f.ReadMessage()
			require.ErrorIs(t, err, io.ErrUnexpectedEOF, "%v cut at %d", m, cut)
		}
	}
}

func TestHugeLengthDoesNotAllocate(t *testing.T) {
	// A length prefix of 4 GiB followed by nothing: refused at once, no
	// payload read and no buffer grown.
	f := NewFramer(io.Discard, bytes.NewReader(append(u32(0xfffffff0), byte(IDBitfield))))
	_, err := f.ReadMessage()
	require.ErrorIs(t, err, ErrMessageTooLarge)
	assert.Zero(t, cap(f.rbuf))

	// Just under the default limit is read (bounded by it).
	f = NewFramer(io.Discard, bytes.NewReader(frame(99, make([]byte, DefaultMaxMessageLength-1)...)))
	m, err := f.ReadMessage()
	require.NoError(t, err)
	assert.Len(t, m.(*Unknown).Payload, DefaultMaxMessageLength-1)

	// SetMaxMessageLength lowers it, but never below a maximal piece.
	f = NewFramer(io.Discard, bytes.NewReader(frame(IDPiece, append(u32(0, 0), make([]byte, MaxRequestLength)...)...)))
	f.SetMaxMessageLength(10)
	m, err = f.ReadMessage()
	require.NoError(t, err)
	assert.Len(t, m.(*Piece).Block, MaxRequestLength)
}

func TestEndlessKeepAlives(t *testing.T) {
	// Keep-alives cost nothing to read, and an endless stream of them ends
	// in an error after MaxKeepAlives.
	f := NewFramer(io.Discard, zeroReader{})
	var n int
	var err error
	allocs := testing.AllocsPerRun(1, func() {
		for err == nil {
			var m Message
			m, err = f.ReadMessage()
			if err == nil {
				n++
				if _, ok := m.(*KeepAlive); !ok {
					t.Fatalf("got %v", m)
				}
			}
		}
	})
	assert.Zero(t, allocs)
	assert.Equal(t, MaxKeepAlives, n)
	require.ErrorIs(t, err, ErrTooManyKeepAlives)
	assert.Contains(t, err.Error(), "keep-alive")

	// Any other message resets the count.
	var in []byte
	for range 3 {
		in = append(in, bytes.Repeat([]byte{0, 0, 0, 0}, MaxKeepAlives)...)
		in = append(in, Choke{}.AppendTo(nil)...)
	}
	f = NewFramer(io.Discard, bytes.NewReader(in))
	for {
		_, err := f.ReadMessage()
		if err != nil {
			require.Equal(t, io.EOF, err)
			break
		}
	}
}

type zeroReader struct{}

func (zeroReader) Read(p []byte) (int, error) { clear(p); return len(p), nil }

func TestUnknownMessageIgnorable(t *testing.T) {
	in := append(frame(10, 1, 2, 3), frame(IDChoke)...)
	f := NewFramer(io.Discard, bytes.NewReader(in))
	m, err := f.ReadMessage()
	require.NoError(t, err)
	assert.Equal(t, &Unknown{MessageID: 10, Payload: []byte{1, 2, 3}}, m)
	m, err = f.ReadMessage()
	require.NoError(t, err)
	assert.IsType(t, &Choke{}, m)
}

func TestAllocBlock(t *testing.T) {
	dst := make([]byte, 100)
	var gotIndex, gotBegin uint32
	in := frame(IDPiece, append(u32(3, 200), []byte("abc")...)...)
	f := NewFramer(io.Discard, bytes.NewReader(in))
	f.AllocBlock = func(index, begin uint32, n int) []byte {
		gotIndex, gotBegin = index, begin
		return dst[10 : 10+n]
	}
	m, err := f.ReadMessage()
	require.NoError(t, err)
	assert.Equal(t, []byte("abc"), dst[10:13])
	assert.Equal(t, uint32(3), gotIndex)
	assert.Equal(t, uint32(200), gotBegin)
	assert.Equal(t, "abc", string(m.(*Piece).Block))

	f = NewFramer(io.Discard, bytes.NewReader(in))
	f.AllocBlock = func(uint32, uint32, int) []byte { return nil }
	_, err = f.ReadMessage()
	require.Error(t, err)
}

func TestPooledBlocks(t *testing.T) {
	in := frame(IDPiece, append(u32(0, 0), make([]byte, BlockSize)...)...)
	f := NewFramer(io.Discard, bytes.NewReader(in))
	m, err := f.ReadMessage()
	require.NoError(t, err)
	b := m.(*Piece).Block
	assert.Equal(t, BlockSize, cap(b))
	PutBlock(b)
	PutBlock(make([]byte, 10)) // not from the pool: ignored
	assert.Len(t, GetBlock(), BlockSize)
}

type countingWriter struct {
	calls int
	buf   bytes.Buffer
}

func (w *countingWriter) Write(p []byte) (int, error) { w.calls++; return w.buf.Write(p) }

func TestOneWritePerMessage(t *testing.T) {
	var w countingWriter
	f := NewFramer(&w, bytes.NewReader(nil))
	writes := []func() error{
		f.WriteKeepAlive, f.WriteChoke, f.WriteUnchoke, f.WriteInterested, f.WriteNotInterested,
		func() error { return f.WriteHave(1) },
		func() error { return f.WriteBitfield([]byte{0x80}) },
		func() error { return f.WriteRequest(1, 0, 16384) },
		func() error { return f.WritePiece(1, 0, make([]byte, BlockSize)) },
		func() error { return f.WriteCancel(1, 0, 16384) },
		func() error { return f.WritePort(6881) },
		func() error { return f.WriteSuggest(1) },
		f.WriteHaveAll, f.WriteHaveNone,
		func() error { return f.WriteReject(1, 0, 16384) },
		func() error { return f.WriteAllowedFast(1) },
		func() error { return f.WriteExtended(1, []byte("de")) },
		func() error { return f.WriteHashRequest(HashRequest{Length: 2}) },
		func() error { return f.WriteHashes(Hashes{HashRequest{Length: 2}, make([]byte, 64)}) },
		func() error { return f.WriteHashReject(HashReject{Length: 2}) },
	}
	for i, w2 := range writes {
		require.NoError(t, w2())
		assert.Equal(t, i+1, w.calls)
	}
	// And everything written reads back.
	r := NewFramer(io.Discard, &w.buf)
	for range writes {
		_, err := r.ReadMessage()
		require.NoError(t, err)
	}
}

func TestWriteError(t *testing.T) {
	f := NewFramer(errWriter{}, bytes.NewReader(nil))
	assert.Error(t, f.WriteChoke())
	assert.Error(t, f.WritePiece(0, 0, []byte{1}))
}

type errWriter struct{}

func (errWriter) Write([]byte) (int, error) { return 0, errors.New("boom") }

func TestBitfieldHas(t *testing.T) {
	b := Bitfield{Bits: []byte{0x81, 0x40}}
	for i, want := range map[int]bool{0: true, 1: false, 7: true, 9: true, 10: false, 16: false, -1: false} {
		assert.Equal(t, want, b.Has(i), i)
	}
	assert.Equal(t, 2, BitfieldLength(9))
	assert.Equal(t, 1, BitfieldLength(8))
	assert.Equal(t, 0, BitfieldLength(0))
}

func TestIDString(t *testing.T) {
	assert.Equal(t, "hash reject", IDHashReject.String())
	assert.Equal(t, "unknown(200)", ID(200).String())
	for _, m := range allMessages() {
		assert.NotEmpty(t, m.String())
	}
}

func FuzzReadMessage(f *testing.F) {
	for _, m := range allMessages() {
		f.Add(m.AppendTo(nil), uint16(10))
	}
	f.Add(frame(IDBitfield, 0xff, 0xe0), uint16(10))
	f.Add(append(u32(0xffffffff), 1), uint16(0))
	f.Fuzz(func(t *testing.T, in []byte, pieces uint16) {
		fr := NewFramer(io.Discard, bytes.NewReader(in))
		fr.SetPieceCount(int(pieces))
		consumed := 0
		for {
			m, err := fr.ReadMessage()
			if err != nil {
				return
			}
			// A message that parsed re-encodes to exactly the bytes read.
			enc := m.AppendTo(nil)
			if !bytes.Equal(enc, in[consumed:consumed+len(enc)]) {
				t.Fatalf("%v re-encodes to %x, read %x", m, enc, in[consumed:consumed+len(enc)])
			}
			consumed += len(enc)
		}
	})
}

func TestSetExtensions(t *testing.T) {
	fastOnly := Reserved{}.Set(ReservedFast)
	extOnly := Reserved{}.Set(ReservedExtension)
	tests := []struct {
		ext  *Reserved
		in   []byte
		fail bool
	}{
		{nil, HaveAll{}.AppendTo(nil), false},
		{nil, Extended{0, []byte("de")}.AppendTo(nil), false},
		{&fastOnly, HaveAll{}.AppendTo(nil), false},
		{&fastOnly, Extended{0, []byte("de")}.AppendTo(nil), true},
		{&extOnly, Extended{0, []byte("de")}.AppendTo(nil), false},
		{&extOnly, HaveNone{}.AppendTo(nil), true},
		{&extOnly, Suggest{1}.AppendTo(nil), true},
		{&extOnly, Reject{1, 0, 1}.AppendTo(nil), true},
		{&extOnly, AllowedFast{1}.AppendTo(nil), true},
		{&extOnly, Have{1}.AppendTo(nil), false},
		{&Reserved{}, Port{1}.AppendTo(nil), false},
	}
	for _, tt := range tests {
		f := NewFramer(io.Discard, bytes.NewReader(tt.in))
		if tt.ext != nil {
			f.SetExtensions(*tt.ext)
		}
		_, err := f.ReadMessage()
		if tt.fail {
			assert.ErrorIs(t, err, ErrNotNegotiated, "%x", tt.in)
		} else {
			assert.NoError(t, err, "%x", tt.in)
		}
	}
	// All bits survive the round trip through the atomic.
	f := NewFramer(io.Discard, nil)
	all := Reserved{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}
	f.SetExtensions(all)
	for _, b := range []ReservedBit{ReservedDHT, ReservedFast, ReservedExtension, ReservedV2} {
		assert.True(t, f.negotiated(b))
	}
}
