// Package peerwire implements the BitTorrent peer wire protocol: the
// handshake, a framer for every message, and the codecs of the extension
// messages that ride on it. It does no I/O scheduling of its own and starts
// no goroutines; a connection's owner drives it.
//
// A bittern.Session speaks this protocol for you. Import peerwire to write
// a peer of your own, a protocol checker (as examples/btspec does) or a
// tool that inspects traffic.
//
// The happy path of an outgoing connection:
//
//	ours := peerwire.Handshake{Reserved: peerwire.DefaultReserved, InfoHash: ih, PeerID: id}
//	theirs, err := peerwire.Initiate(conn, ours, [20]byte{})
//	f := peerwire.NewFramer(conn, conn)
//	f.SetExtensions(ours.Reserved.Intersect(theirs.Reserved))
//	f.SetPieceCount(numPieces)
//	f.WriteBitfield(bits)
//	for {
//		m, err := f.ReadMessage()
//		switch m := m.(type) {
//		case *peerwire.Piece:
//			// m.Block was read straight into a pooled (or AllocBlock) buffer
//		case *peerwire.Extended:
//			// decode m.Payload with ParseExtendedHandshake, ParsePEX, …
//		}
//	}
//
// A listener serving several torrents answers with Answer, which looks the
// incoming info-hash up before replying. Encrypted connections
// (Message Stream Encryption) come from package mse, whose Conn is used in
// place of conn above.
//
// # Specifications
//
//   - BEP 3: handshake, keep-alive, choke, unchoke, interested, not
//     interested, have, bitfield, request, piece, cancel.
//   - BEP 5: the DHT reserved bit and the port message.
//   - BEP 6 (Fast Extension): suggest piece, have all, have none, reject
//     request, allowed fast, and the allowed fast set (AllowedFastSet).
//   - BEP 9: ut_metadata request, data and reject (MetadataMessage).
//   - BEP 10 (Extension Protocol): the extended message and handshake
//     (ExtendedHandshake), including BEP 21's upload_only.
//   - BEP 11: ut_pex (PEX).
//   - BEP 20: peer ID conventions (NewPeerID, ClientName).
//   - BEP 40: canonical peer priority (PeerPriority).
//   - BEP 52: the v2 reserved bit, upgrade of a hybrid torrent's handshake,
//     hash request, hashes and hash reject.
//   - BEP 54: lt_donthave. BEP 55: ut_holepunch.
//
// # Concurrency
//
// A Framer serves one connection: ReadMessage may run on one goroutine
// while the Write methods run on another (one reader and one writer per
// connection), but neither side is safe for concurrent use on its own.
// Everything else — the handshake functions, the message types' AppendTo,
// the extension codecs, AllowedFastSet, PeerPriority — keeps no shared
// state and is safe for concurrent use.
//
// # Limits
//
// Every message is checked before its payload is read: a length prefix
// above the framer's maximum (DefaultMaxMessageLength) fails with
// ErrMessageTooLarge, a length that does not fit the message type with
// ErrBadLength, messages of extensions the handshake did not negotiate
// with ErrNotNegotiated, and once the piece count is known (SetPieceCount) bitfields
// of the wrong size or with spare bits set, and out-of-range indexes, fail
// too — all as a *ProtocolError naming the message. Requests and blocks
// are limited to MaxRequestLength, and more than MaxKeepAlives keep-alives
// in a row fail with ErrTooManyKeepAlives. A peer therefore cannot make a Framer
// buffer more than the maximum message length. Extension payloads have
// their own limits (MaxMetadataSize, MaxPEXPeers).
//
// # Performance
//
// Reading and writing allocate nothing: ReadMessage returns messages owned
// by the framer (valid until the next call), piece blocks land in
// caller-provided (Framer.AllocBlock) or pooled buffers through a 32 KiB
// read buffer that batches syscalls, and WritePiece sends header and block
// with one writev on TCP, without copying the block.
package peerwire
