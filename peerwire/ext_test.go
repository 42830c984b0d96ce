package peerwire

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"net/netip"
	"os"
	"strconv"
	"testing"

	"github.com/bittern/bittern/bencode"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const vectors = "testdata/"

func readVectors(t testing.TB, name string, v any) {
	b, err := os.ReadFile(vectors + name)
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(b, v))
}

func TestAllowedFastSetVectors(t *testing.T) {
	var f struct {
		Vectors []struct {
			K              int      `json:"k"`
			NumPieces      int      `json:"num_pieces"`
			InfoHash       string   `json:"infohash_hex"`
			IP             string   `json:"ip"`
			AllowedFastSet []uint32 `json:"allowed_fast_set"`
		} `json:"vectors"`
	}
	readVectors(t, "bep0006.json", &f)
	require.NotEmpty(t, f.Vectors)
	for _, v := range f.Vectors {
		ih, err := hex.DecodeString(v.InfoHash)
		require.NoError(t, err)
		got := AllowedFastSet(v.K, v.NumPieces, [20]byte(ih), netip.MustParseAddr(v.IP))
		assert.Equal(t, v.AllowedFastSet, got)
		// The low byte of the address does not matter; mapped form is the same.
		got = AllowedFastSet(v.K, v.NumPieces, [20]byte(ih), netip.MustParseAddr("::ffff:80.4.4.1"))
		assert.Equal(t, v.AllowedFastSet, got)
	}
	assert.Nil(t, AllowedFastSet(7, 100, [20]byte{}, netip.MustParseAddr("2001:db8::1")))
	assert.Nil(t, AllowedFastSet(7, 0, [20]byte{}, netip.MustParseAddr("1.2.3.4")))
	// k above the piece count is capped, and terminates.
	small := AllowedFastSet(10, 3, [20]byte{}, netip.MustParseAddr("1.2.3.4"))
	assert.ElementsMatch(t, []uint32{0, 1, 2}, small)
}

func TestPeerPriorityVectors(t *testing.T) {
	var f struct {
		Vectors []struct {
			Client   string `json:"client"`
			Peer     string `json:"peer"`
			Priority string `json:"priority_hex"`
		} `json:"vectors"`
	}
	readVectors(t, "bep0040.json", &f)
	require.NotEmpty(t, f.Vectors)
	for _, v := range f.Vectors {
		c := netip.AddrPortFrom(netip.MustParseAddr(v.Client), 6881)
		p := netip.AddrPortFrom(netip.MustParseAddr(v.Peer), 51413)
		want, err := hex.DecodeString(v.Priority)
		require.NoError(t, err)
		got := PeerPriority(c, p)
		assert.Equal(t, want, []byte{byte(got >> 24), byte(got >> 16), byte(got >> 8), byte(got)}, "%s %s", v.Client, v.Peer)
		assert.Equal(t, got, PeerPriority(p, c), "symmetric")
	}
	// Equal addresses: by ports, symmetric.
	a := netip.MustParseAddrPort("10.0.0.1:1000")
	b := netip.MustParseAddrPort("10.0.0.1:2000")
	assert.Equal(t, PeerPriority(a, b), PeerPriority(b, a))
	assert.NotZero(t, PeerPriority(a, b))
	// IPv6: symmetric, and the masks depend on the shared prefix.
	x := netip.MustParseAddrPort("[2001:db8:1:2::1]:1")
	y := netip.MustParseAddrPort("[2001:db8:1:3::1]:1")
	assert.Equal(t, PeerPriority(x, y), PeerPriority(y, x))
	assert.Zero(t, PeerPriority(a, x))
}

func TestExtendedHandshakeVector(t *testing.T) {
	// BEP 10's example, corrected per the errata in bep0010.json.
	in := []byte("d1:md11:LT_metadatai1e6:ut_pexi2ee1:pi6881e1:v13:\xc2\xb5Torrent 1.2e")
	h, err := ParseExtendedHandshake(in)
	require.NoError(t, err)
	assert.Equal(t, map[string]int{"LT_metadata": 1, "ut_pex": 2}, h.M)
	assert.Equal(t, uint16(6881), h.Port)
	assert.Equal(t, "µTorrent 1.2", h.Version)
	out, err := h.AppendTo(nil)
	require.NoError(t, err)
	assert.Equal(t, string(in), string(out))
}

func TestExtendedHandshakeRoundTrip(t *testing.T) {
	h := &ExtendedHandshake{
		M:            map[string]int{ExtMetadata: 3, ExtPEX: 1, ExtDontHave: 7, ExtHolepunch: 4},
		Port:         51413,
		Version:      "bittern 0.1",
		YourIP:       netip.MustParseAddr("203.0.113.9"),
		IPv4:         netip.MustParseAddr("198.51.100.1"),
		IPv6:         netip.MustParseAddr("2001:db8::7"),
		Reqq:         500,
		MetadataSize: 31235,
		UploadOnly:   true,
		Extra:        map[string]bencode.RawMessage{"complete_ago": []byte("i-1e"), "lt_v2": []byte("d1:xi1ee")},
	}
	b, err := h.AppendTo([]byte("prefix"))
	require.NoError(t, err)
	assert.Equal(t, "prefix", string(b[:6]))
	got, err := ParseExtendedHandshake(b[6:])
	require.NoError(t, err)
	assert.Equal(t, h, got)
}

func TestExtendedHandshakeErrors(t *testing.T) {
	for in, field := range map[string]string{
		"":                                "",
		"le":                              "",
		"d1:mi1ee":                        "m",
		"d1:md1:ai300eee":                 "m",
		"d1:pi70000ee":                    "p",
		"d1:p1:xe":                        "p",
		"d6:yourip3:abce":                 "yourip",
		"d4:ipv416:aaaaaaaaaaaaaaaae":     "ipv4",
		"d4:ipv64:aaaae":                  "ipv6",
		"d4:reqqi-1ee":                    "reqq",
		"d13:metadata_sizei-5ee":          "metadata_size",
		"d13:metadata_sizei99999999999ee": "metadata_size",
		"d11:upload_only1:xe":             "upload_only",
		"d1:v1:ae trailing":               "",
	} {
		_, err := ParseExtendedHandshake([]byte(in))
		var fe *FieldError
		require.ErrorAs(t, err, &fe, in)
		assert.Equal(t, field, fe.Field, in)
		assert.ErrorIs(t, err, ErrBadExtension)
	}
}

func TestMetadataVectors(t *testing.T) {
	// BEP 9 examples (bep0009.json), with the reject erratum corrected.
	m, err := ParseMetadataMessage([]byte("d8:msg_typei0e5:piecei0ee"))
	require.NoError(t, err)
	assert.Equal(t, MetadataMessage{Type: MetadataRequest}, m)
	assert.Equal(t, "d8:msg_typei0e5:piecei0ee", string(m.AppendTo(nil)))

	m, err = ParseMetadataMessage([]byte("d8:msg_typei2e5:piecei0ee"))
	require.NoError(t, err)
	assert.Equal(t, MetadataReject, m.Type)

	data := bytes.Repeat([]byte{'x'}, 3425)
	in := append([]byte("d8:msg_typei1e5:piecei0e10:total_sizei3425ee"), data...)
	m, err = ParseMetadataMessage(in)
	require.NoError(t, err)
	assert.Equal(t, MetadataMessage{Type: MetadataData, Piece: 0, TotalSize: 3425, Data: data}, m)
	assert.Equal(t, in, m.AppendTo(nil))

	// Second and last piece of 20000 bytes.
	last := MetadataMessage{Type: MetadataData, Piece: 1, TotalSize: 20000, Data: make([]byte, 20000-16384)}
	m, err = ParseMetadataMessage(last.AppendTo(nil))
	require.NoError(t, err)
	assert.Equal(t, last, m)
	assert.Equal(t, 2, NumMetadataPieces(20000))
	assert.Equal(t, 1, NumMetadataPieces(16384))
}

func TestMetadataErrors(t *testing.T) {
	for in, field := range map[string]string{
		"d5:piecei0ee":                                           "msg_type",
		"d8:msg_typei0ee":                                        "piece",
		"d8:msg_typei0e5:piecei-1ee":                             "piece",
		"d8:msg_typei0e5:piecei0eeextra":                         "",
		"d8:msg_typei1e5:piecei0ee":                              "total_size",
		"d8:msg_typei1e5:piecei0e10:total_sizei0ee":              "total_size",
		"d8:msg_typei1e5:piecei0e10:total_sizei999999999ee":      "total_size",
		"d8:msg_typei1e5:piecei1e10:total_sizei10eexxxxxxxxxx":   "piece",
		"d8:msg_typei1e5:piecei0e10:total_sizei10eexxxx":         "data",
		"d8:msg_typei1e5:piecei0e10:total_sizei10eexxxxxxxxxxxx": "data",
		"i1e":    "",
		"d8:msg": "",
	} {
		_, err := ParseMetadataMessage([]byte(in))
		var fe *FieldError
		require.ErrorAs(t, err, &fe, in)
		assert.Equal(t, field, fe.Field, in)
	}
}

func TestPEX(t *testing.T) {
	p := PEX{
		Added: []PEXPeer{
			{netip.MustParseAddrPort("1.2.3.4:6881"), PEXEncryption | PEXSeed},
			{netip.MustParseAddrPort("[2001:db8::1]:51413"), PEXUTP | PEXHolepunch},
			{netip.MustParseAddrPort("5.6.7.8:1"), PEXReachable},
		},
		Dropped: []netip.AddrPort{netip.MustParseAddrPort("9.9.9.9:9"), netip.MustParseAddrPort("[::1]:2")},
	}
	b, err := p.AppendTo(nil)
	require.NoError(t, err)
	assert.Equal(t, "d5:added12:\x01\x02\x03\x04\x1a\xe1\x05\x06\x07\x08\x00\x017:added.f2:\x03\x106:added618:"+
		"\x20\x01\x0d\xb8\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x01\xc8\xd5"+
		"8:added6.f1:\x0c7:dropped6:\x09\x09\x09\x09\x00\x098:dropped618:"+
		"\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x01\x00\x02e", string(b))
	got, err := ParsePEX(b)
	require.NoError(t, err)
	// Parsed order is by family: IPv4 then IPv6.
	assert.ElementsMatch(t, p.Added, got.Added)
	assert.ElementsMatch(t, p.Dropped, got.Dropped)

	// Mapped addresses go out as IPv4.
	b, err = PEX{Added: []PEXPeer{{Addr: netip.MustParseAddrPort("[::ffff:1.2.3.4]:5")}}}.AppendTo(nil)
	require.NoError(t, err)
	assert.Contains(t, string(b), "5:added6:")

	// Mismatched flags are ignored.
	got, err = ParsePEX([]byte("d5:added6:\x01\x02\x03\x04\x00\x017:added.f2:\x01\x01e"))
	require.NoError(t, err)
	assert.Equal(t, PEXFlags(0), got.Added[0].Flags)

	// Empty message.
	got, err = ParsePEX([]byte("de"))
	require.NoError(t, err)
	assert.Empty(t, got.Added)
}

func TestPEXErrors(t *testing.T) {
	huge := "d5:added" + itoa(6*(MaxPEXPeers+1)) + ":" + string(make([]byte, 6*(MaxPEXPeers+1))) + "e"
	for in, field := range map[string]string{
		"d5:added5:abcdee":    "added",
		"d6:added67:abcdefge": "added6",
		"d7:dropped1:xe":      "dropped",
		"d8:dropped61:xe":     "dropped6",
		huge:                  "added",
		"d5:addedi1ee":        "",
		"l":                   "",
	} {
		_, err := ParsePEX([]byte(in))
		var fe *FieldError
		require.ErrorAs(t, err, &fe, in)
		assert.Equal(t, field, fe.Field, in)
	}
}

func itoa(i int) string { return strconv.Itoa(i) }

func TestDontHave(t *testing.T) {
	b := AppendDontHave(nil, 0x01020304)
	assert.Equal(t, []byte{1, 2, 3, 4}, b)
	i, err := ParseDontHave(b)
	require.NoError(t, err)
	assert.Equal(t, uint32(0x01020304), i)
	_, err = ParseDontHave([]byte{1, 2, 3})
	assert.ErrorIs(t, err, ErrBadExtension)
}

func TestHolepunch(t *testing.T) {
	for _, h := range []Holepunch{
		{HolepunchRendezvous, netip.MustParseAddrPort("1.2.3.4:5"), 0},
		{HolepunchConnect, netip.MustParseAddrPort("[2001:db8::1]:6881"), 0},
		{HolepunchError, netip.MustParseAddrPort("1.2.3.4:5"), HolepunchNotConnected},
	} {
		b := h.AppendTo(nil)
		got, err := ParseHolepunch(b)
		require.NoError(t, err)
		assert.Equal(t, h, got)
	}
	assert.Equal(t, []byte{2, 0, 1, 2, 3, 4, 0, 5, 0, 0, 0, 4},
		Holepunch{HolepunchError, netip.MustParseAddrPort("1.2.3.4:5"), HolepunchNoSelf}.AppendTo(nil))
	for _, bad := range [][]byte{nil, {0}, {0, 2, 1, 2, 3, 4, 0, 5, 0, 0, 0, 0}, {0, 0, 1, 2, 3, 4, 0, 5, 0, 0, 0}, {0, 1, 1, 2, 3, 4, 0, 5, 0, 0, 0, 0}} {
		_, err := ParseHolepunch(bad)
		assert.ErrorIs(t, err, ErrBadExtension, "%x", bad)
	}
}

func FuzzParseExtendedHandshake(f *testing.F) {
	f.Add([]byte("d1:md11:LT_metadatai1e6:ut_pexi2ee1:pi6881e1:v13:\xc2\xb5Torrent 1.2e"))
	f.Add([]byte("d1:md11:ut_metadatai3ee13:metadata_sizei31235ee"))
	f.Add([]byte("d6:yourip4:\x01\x02\x03\x044:reqqi250e11:upload_onlyi1e4:ipv616:aaaaaaaaaaaaaaaae"))
	f.Fuzz(func(t *testing.T, in []byte) {
		h, err := ParseExtendedHandshake(in)
		if err != nil {
			return
		}
		out, err := h.AppendTo(nil)
		if err != nil {
			t.Fatal(err)
		}
		h2, err := ParseExtendedHandshake(out)
		if err != nil {
			t.Fatalf("re-encoding %q does not parse: %v", out, err)
		}
		out2, _ := h2.AppendTo(nil)
		if !bytes.Equal(out, out2) {
			t.Fatalf("not stable: %q vs %q", out, out2)
		}
	})
}

func FuzzParseMetadataMessage(f *testing.F) {
	f.Add([]byte("d8:msg_typei0e5:piecei0ee"))
	f.Add([]byte("d8:msg_typei2e5:piecei3ee"))
	f.Add(MetadataMessage{Type: MetadataData, Piece: 1, TotalSize: 16390, Data: make([]byte, 6)}.AppendTo(nil))
	f.Fuzz(func(t *testing.T, in []byte) {
		m, err := ParseMetadataMessage(in)
		if err != nil {
			return
		}
		m2, err := ParseMetadataMessage(m.AppendTo(nil))
		if err != nil {
			t.Fatal(err)
		}
		if m2.Type != m.Type || m2.Piece != m.Piece || m2.TotalSize != m.TotalSize || !bytes.Equal(m2.Data, m.Data) {
			t.Fatalf("%+v != %+v", m2, m)
		}
	})
}

func FuzzParsePEX(f *testing.F) {
	b, _ := PEX{Added: []PEXPeer{{netip.MustParseAddrPort("1.2.3.4:6881"), 3}, {netip.MustParseAddrPort("[::2]:1"), 4}},
		Dropped: []netip.AddrPort{netip.MustParseAddrPort("9.9.9.9:9")}}.AppendTo(nil)
	f.Add(b)
	f.Add([]byte("de"))
	f.Fuzz(func(t *testing.T, in []byte) {
		p, err := ParsePEX(in)
		if err != nil {
			return
		}
		out, err := p.AppendTo(nil)
		if err != nil {
			t.Fatal(err)
		}
		p2, err := ParsePEX(out)
		if err != nil || len(p2.Added) != len(p.Added) || len(p2.Dropped) != len(p.Dropped) {
			t.Fatalf("round trip: %v %+v %+v", err, p, p2)
		}
	})
}

func FuzzParseDontHave(f *testing.F) {
	f.Add(AppendDontHave(nil, 7))
	f.Fuzz(func(t *testing.T, in []byte) {
		i, err := ParseDontHave(in)
		if err == nil && !bytes.Equal(AppendDontHave(nil, i), in) {
			t.Fatal("round trip")
		}
	})
}

func FuzzParseHolepunch(f *testing.F) {
	f.Add(Holepunch{HolepunchConnect, netip.MustParseAddrPort("1.2.3.4:5"), 0}.AppendTo(nil))
	f.Add(Holepunch{HolepunchError, netip.MustParseAddrPort("[::1]:5"), 3}.AppendTo(nil))
	f.Fuzz(func(t *testing.T, in []byte) {
		h, err := ParseHolepunch(in)
		if err != nil {
			return
		}
		// IPv4-mapped IPv6 endpoints re-encode as IPv4; others exactly.
		if h.Addr.Addr().Is4In6() {
			return
		}
		if !bytes.Equal(h.AppendTo(nil), in) {
			t.Fatalf("round trip %x", in)
		}
	})
}
