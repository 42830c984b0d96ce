package peerwire_test

import (
	"fmt"
	"net"

	"github.com/bittern/bittern/peerwire"
)

// A downloader and a seeder on the two ends of a connection (net.Pipe here,
// a net.Conn from net.Dial or Accept in real use): the handshake, then
// interested, unchoke, one request and the piece that answers it.
func Example_connection() {
	infoHash := [20]byte{0xca, 0xfe}
	downloaderEnd, seederEnd := net.Pipe()
	done := make(chan struct{})
	defer func() { downloaderEnd.Close(); <-done }()

	// The seeder answers handshakes for the one torrent it has, then
	// serves requests from its single piece until the connection closes.
	go func() {
		defer close(done)
		defer seederEnd.Close()
		_, err := peerwire.Answer(seederEnd, func(theirs peerwire.Handshake) (peerwire.Handshake, bool) {
			ours := peerwire.Handshake{Reserved: peerwire.DefaultReserved, InfoHash: infoHash, PeerID: peerwire.NewPeerID(peerwire.PeerIDPrefix)}
			return ours, theirs.InfoHash == infoHash
		})
		if err != nil {
			return
		}
		f := peerwire.NewFramer(seederEnd, seederEnd)
		f.SetPieceLength(11, 11) // one piece of 11 bytes
		piece := []byte("hello, peer")
		for {
			m, err := f.ReadMessage()
			if err != nil {
				return
			}
			switch m := m.(type) {
			case *peerwire.Interested:
				f.WriteUnchoke()
			case *peerwire.Request:
				f.WritePiece(m.Index, m.Begin, piece[m.Begin:m.Begin+m.Length])
			}
		}
	}()

	ours := peerwire.Handshake{Reserved: peerwire.DefaultReserved, InfoHash: infoHash, PeerID: peerwire.NewPeerID(peerwire.PeerIDPrefix)}
	theirs, err := peerwire.Initiate(downloaderEnd, ours, [20]byte{})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("handshake with", peerwire.ClientName(theirs.PeerID), "fast extension:", theirs.Reserved.Has(peerwire.ReservedFast))

	f := peerwire.NewFramer(downloaderEnd, downloaderEnd)
	f.SetPieceLength(11, 11)
	f.WriteInterested()
	// Messages arrive as pointers into the Framer, valid until the next
	// ReadMessage; a block from the pool goes back with PutBlock.
	for {
		m, err := f.ReadMessage()
		if err != nil {
			fmt.Println(err)
			return
		}
		fmt.Println("got", m)
		switch m := m.(type) {
		case *peerwire.Unchoke:
			f.WriteRequest(0, 7, 4)
		case *peerwire.Piece:
			fmt.Printf("block %q\n", m.Block)
			peerwire.PutBlock(m.Block)
			return
		}
	}
	// Output:
	// handshake with bittern 0.1.0.0 fast extension: true
	// got unchoke
	// got piece 0:7+4
	// block "peer"
}
