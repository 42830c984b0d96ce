package peerwire_test

import (
	"bytes"
	"fmt"
	"net/netip"

	"github.com/bittern/bittern/peerwire"
)

func ExampleFramer() {
	var conn bytes.Buffer // stands in for a net.Conn
	f := peerwire.NewFramer(&conn, &conn)
	f.SetPieceCount(10)

	f.WriteBitfield([]byte{0xff, 0xc0})
	f.WriteRequest(3, 0, peerwire.BlockSize)
	f.WritePiece(3, 0, []byte("block"))
	f.WriteHave(12) // out of range for 10 pieces

	for {
		m, err := f.ReadMessage()
		if err != nil {
			fmt.Println("error:", err)
			return
		}
		switch m := m.(type) {
		case *peerwire.Bitfield:
			fmt.Println("peer has piece 9:", m.Has(9))
		case *peerwire.Piece:
			fmt.Printf("piece %d at %d: %q\n", m.Index, m.Begin, m.Block)
			peerwire.PutBlock(m.Block)
		default:
			fmt.Println(m)
		}
	}
	// Output:
	// peer has piece 9: true
	// request 3:0+16384
	// piece 3 at 0: "block"
	// error: peerwire: bad have message (length 5): piece index out of range: piece 12 of 10
}

func ExampleHandshake() {
	h := peerwire.Handshake{
		Reserved: peerwire.DefaultReserved,
		InfoHash: [20]byte{0xde, 0xad, 0xbe, 0xef},
		PeerID:   [20]byte([]byte("-TR3000-abcdefghijkl")),
	}
	b := peerwire.AppendHandshake(nil, h)
	got, _ := peerwire.ReadHandshake(bytes.NewReader(b))
	fmt.Println(len(b), got.Reserved.Has(peerwire.ReservedFast), got.Reserved.Has(peerwire.ReservedExtension))
	fmt.Println(peerwire.ClientName(got.PeerID))
	// Output:
	// 68 true true
	// Transmission 3.0.0.0
}

func ExampleParseExtendedHandshake() {
	payload := []byte("d1:md11:ut_metadatai3e6:ut_pexi1ee1:pi6881e13:metadata_sizei31235e1:v13:\xc2\xb5Torrent 1.2e")
	h, err := peerwire.ParseExtendedHandshake(payload)
	if err != nil {
		panic(err)
	}
	fmt.Println(h.M[peerwire.ExtMetadata], h.M[peerwire.ExtPEX], h.Port, h.MetadataSize, h.Version)
	// Output: 3 1 6881 31235 µTorrent 1.2
}

func ExampleAllowedFastSet() {
	// The example of BEP 6.
	var ih [20]byte
	for i := range ih {
		ih[i] = 0xaa
	}
	fmt.Println(peerwire.AllowedFastSet(7, 1313, ih, netip.MustParseAddr("80.4.4.200")))
	// Output: [1059 431 808 1217 287 376 1188]
}

func ExamplePeerPriority() {
	// The first example of BEP 40.
	p := peerwire.PeerPriority(netip.MustParseAddrPort("123.213.32.10:6881"), netip.MustParseAddrPort("98.76.54.32:6881"))
	fmt.Printf("%08x\n", p)
	// Output: ec2d7224
}

func ExampleParsePEX() {
	b, _ := peerwire.PEX{Added: []peerwire.PEXPeer{
		{Addr: netip.MustParseAddrPort("192.0.2.1:6881"), Flags: peerwire.PEXSeed | peerwire.PEXUTP},
	}}.AppendTo(nil)
	p, _ := peerwire.ParsePEX(b)
	fmt.Println(p.Added[0].Addr, p.Added[0].Flags&peerwire.PEXSeed != 0)
	// Output: 192.0.2.1:6881 true
}
