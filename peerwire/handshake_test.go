package peerwire

import (
	"bytes"
	"errors"
	"io"
	"net"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestReservedBits(t *testing.T) {
	// Bit positions from BEP 5, 6, 10 and 52 (bep-vectors: bep0006
	// "reserved[7] |= 0x04", bep0010 "reserved_byte[5] & 0x10").
	var r Reserved
	assert.Equal(t, Reserved{7: 0x01}, r.Set(ReservedDHT))
	assert.Equal(t, Reserved{7: 0x04}, r.Set(ReservedFast))
	assert.Equal(t, Reserved{5: 0x10}, r.Set(ReservedExtension))
	assert.Equal(t, Reserved{7: 0x10}, r.Set(ReservedV2))
	r = DefaultReserved.Set(ReservedV2)
	assert.False(t, DefaultReserved.Has(ReservedV2))
	for _, b := range []ReservedBit{ReservedDHT, ReservedFast, ReservedExtension, ReservedV2} {
		assert.True(t, r.Has(b))
		assert.False(t, r.Clear(b).Has(b))
	}
	both := Reserved{}.Set(ReservedFast).Set(ReservedDHT).Intersect(Reserved{}.Set(ReservedFast))
	assert.Equal(t, Reserved{}.Set(ReservedFast), both)
}

func TestHandshakeWire(t *testing.T) {
	h := Handshake{Reserved: DefaultReserved, InfoHash: [20]byte{0xaa, 19: 0xbb}, PeerID: NewPeerID(PeerIDPrefix)}
	b := AppendHandshake(nil, h)
	require.Len(t, b, HandshakeLength)
	assert.Equal(t, "\x13BitTorrent protocol", string(b[:20]))
	assert.Equal(t, h.Reserved[:], b[20:28])
	assert.Equal(t, h.InfoHash[:], b[28:48])
	assert.Equal(t, h.PeerID[:], b[48:])
	got, err := ReadHandshake(bytes.NewReader(b))
	require.NoError(t, err)
	assert.Equal(t, h, got)

	var w countingWriter
	require.NoError(t, WriteHandshake(&w, h))
	assert.Equal(t, 1, w.calls)
	assert.Equal(t, b, w.buf.Bytes())
}

func TestReadHandshakeErrors(t *testing.T) {
	good := AppendHandshake(nil, Handshake{})
	_, err := ReadHandshake(bytes.NewReader(nil))
	assert.Equal(t, io.EOF, err)
	for cut := 1; cut < len(good); cut++ {
		_, err := ReadHandshake(bytes.NewReader(good[:cut]))
		assert.ErrorIs(t, err, io.ErrUnexpectedEOF, cut)
	}
	bad := bytes.Clone(good)
	bad[0] = 18
	_, err = ReadHandshake(bytes.NewReader(bad))
	assert.ErrorIs(t, err, ErrBadProtocol)
	// A peer speaking HTTP is refused after 20 bytes, without waiting for 68.
	_, err = ReadHandshake(strings.NewReader("GET / HTTP/1.1\r\nHost: x\r\n"))
	assert.ErrorIs(t, err, ErrBadProtocol)
	// ReadHandshake reads no further than the handshake.
	r := bytes.NewReader(append(bytes.Clone(good), 0, 0, 0, 0))
	_, err = ReadHandshake(r)
	require.NoError(t, err)
	assert.Equal(t, 4, r.Len())
	_, err = ParseHandshake(good[:67])
	assert.Error(t, err)
}

func TestInitiateAnswer(t *testing.T) {
	ih1, ih2, v2 := [20]byte{1}, [20]byte{2}, [20]byte{3}
	served := map[[20]byte]bool{ih1: true, v2: true}
	run := func(ours Handshake, upgrade [20]byte, answerWith [20]byte) (Handshake, error, Handshake, error) {
		a, b := net.Pipe()
		defer a.Close()
		defer b.Close()
		type res struct {
			h   Handshake
			err error
		}
		done := make(chan res, 1)
		go func() {
			h, err := Answer(b, func(theirs Handshake) (Handshake, bool) {
				if !served[theirs.InfoHash] {
					return Handshake{}, false
				}
				ih := theirs.InfoHash
				if answerWith != ([20]byte{}) {
					ih = answerWith
				}
				return Handshake{Reserved: DefaultReserved, InfoHash: ih, PeerID: [20]byte{'B'}}, true
			})
			if err != nil {
				b.Close()
			}
			done <- res{h, err}
		}()
		h, err := Initiate(a, ours, upgrade)
		a.Close()
		r := <-done
		return h, err, r.h, r.err
	}

	ours := Handshake{Reserved: DefaultReserved.Set(ReservedV2), InfoHash: ih1, PeerID: [20]byte{'A'}}
	theirs, err, seen, aerr := run(ours, [20]byte{}, [20]byte{})
	require.NoError(t, err)
	require.NoError(t, aerr)
	assert.Equal(t, [20]byte{'B'}, theirs.PeerID)
	assert.Equal(t, ours, seen)

	// Unknown torrent: the receiver refuses and writes nothing.
	_, err, seen, aerr = run(Handshake{InfoHash: ih2}, [20]byte{}, [20]byte{})
	assert.Error(t, err)
	assert.ErrorIs(t, aerr, ErrUnknownInfoHash)
	assert.Equal(t, ih2, seen.InfoHash)

	// BEP 52 upgrade: the receiver answers a hybrid's v1 hash with the v2 one.
	theirs, err, _, aerr = run(ours, v2, v2)
	require.NoError(t, err)
	require.NoError(t, aerr)
	assert.Equal(t, v2, theirs.InfoHash)
	// … but not if we did not offer it.
	_, err, _, _ = run(ours.withReserved(Reserved{}), v2, v2)
	var mm *InfoHashMismatchError
	require.True(t, errors.As(err, &mm))
	assert.Equal(t, v2, mm.Got)
	assert.Contains(t, mm.Error(), "info-hash")
	// A wrong answer is a mismatch.
	_, err, _, _ = run(ours, [20]byte{}, ih2)
	require.ErrorAs(t, err, &mm)
}

func (h Handshake) withReserved(r Reserved) Handshake { h.Reserved = r; return h }

func TestNewPeerID(t *testing.T) {
	a, b := NewPeerID(PeerIDPrefix), NewPeerID(PeerIDPrefix)
	assert.NotEqual(t, a, b)
	assert.Equal(t, PeerIDPrefix, string(a[:8]))
	assert.Equal(t, "bittern 0.1.0.0", ClientName(a))
	long := NewPeerID(strings.Repeat("x", 30))
	assert.Equal(t, strings.Repeat("x", 20), string(long[:]))
}

func TestClientName(t *testing.T) {
	id := func(s string) [20]byte {
		var b [20]byte
		copy(b[:], s+strings.Repeat("\x00", 20))
		return b
	}
	tests := map[string]string{
		"-TR3000-abcdefghijkl": "Transmission 3.0.0.0",
		"-LT2080-abcdefghijkl": "libtorrent 2.0.8.0",
		"-lt0D80-abcdefghijkl": "libTorrent (rakshasa) 0.13.8.0",
		"-qB4520-abcdefghijkl": "qBittorrent 4.5.2.0",
		"-UT355B-abcdefghijkl": "µTorrent 3.5.5.11", "-UT355b-abcdefghijkl": "µTorrent 3.5.5.b",
		"-AZ5770-abcdefghijkl": "Azureus 5.7.7.0",
		"M7-4-3--abcdefghijkl": "Mainline 7.4.3",
		"M4-20-8-abcdefghijkl": "Mainline 4.20.8",
		"T03I--abcdefghijklmn": "BitTornado 0.3.18",
		"S58B-----abcdefghijk": "Shadow 5.8.11",
		"A310--abcdefghijklmn": "ABC 3.1.0",
		"exbc0123456789abcdef": "BitComet (old)",
		"-ML2.7.2-kgjjfkd1234": "MLDonkey",
		"OP1234abcdefghijklmn": "Opera",
		"TIX0193-abcdefghijkl": "Tixati",
		"A2-1-36-0-abcdefghij": "aria2 1.36.0",
		"A2-1-x-0-abcdefghijk": "",
		"A2-1-36abcdefghijklm": "",
		"-ZZ1000-abcdefghijkl": "",
		"\x00\x00\x00":         "",
		"M1-2":                 "", "M1-2-3-4-5": "",
		"Mx-2--": "",
	}
	for in, want := range tests {
		assert.Equal(t, want, ClientName(id(in)), in)
	}
}

func FuzzReadHandshake(f *testing.F) {
	f.Add(AppendHandshake(nil, Handshake{Reserved: DefaultReserved, InfoHash: [20]byte{1}, PeerID: NewPeerID(PeerIDPrefix)}))
	f.Add([]byte("\x13BitTorrent protocol"))
	f.Add([]byte("GET / HTTP/1.1\r\n"))
	f.Fuzz(func(t *testing.T, in []byte) {
		h, err := ReadHandshake(bytes.NewReader(in))
		if err != nil {
			return
		}
		if !bytes.Equal(AppendHandshake(nil, h), in[:HandshakeLength]) {
			t.Fatalf("round trip mismatch")
		}
		_ = ClientName(h.PeerID)
	})
}
