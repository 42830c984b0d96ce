// Package mse implements Message Stream Encryption (MSE, also called
// Protocol Encryption, PE), the obfuscation layer BitTorrent clients run
// under the peer wire protocol: a 768-bit Diffie-Hellman exchange with
// random padding, a verification constant, negotiation of the payload
// method (plaintext or RC4 with the first 1024 bytes of keystream
// discarded) and an initial payload, as specified by Azureus/Vuze and
// implemented by libtorrent, Transmission and others. MSE has no BEP.
//
// A bittern.Session uses it as Config.Encryption says. Import mse to speak
// MSE from a peer or tool of your own. It hides BitTorrent traffic from
// simple traffic shaping; it is not authenticated and is no substitute for
// real transport security.
//
// The initiator knows the torrent's info-hash (the stream key, SKEY) and
// usually sends its BitTorrent handshake as the initial payload:
//
//	c, err := mse.Initiate(ctx, conn, infoHash, peerwire.AppendHandshake(nil, ours), nil)
//	if err != nil { … close conn … }
//	theirs, err := peerwire.ReadHandshake(c)
//
// The receiver serves many torrents and finds which one a connection is
// for from HASH('req2', SKEY) xor HASH('req3', S), with one map lookup
// (SKeys). Its Conn reads back the initial payload first, so the plain
// BitTorrent handshake code runs unchanged on top; with the Preferred
// policy, a peer that skips MSE and sends a plain handshake is accepted
// too:
//
//	var keys mse.SKeys
//	keys.Add(infoHash)
//	c, err := mse.Accept(ctx, conn, &keys, nil)
//	theirs, err := peerwire.ReadHandshake(c)
//
// Policies: Preferred (the zero value) and Required encrypt outgoing
// connections; Required refuses incoming plaintext; PlaintextOnly never
// uses MSE. Config.Methods chooses which payload methods are offered and
// accepted.
//
// # Concurrency and limits
//
// The handshakes run on the caller's goroutine and start none; ctx's
// deadline bounds them, and on error the caller closes conn. A Conn, like
// any net.Conn, allows one Read and one Write at once. SKeys is safe for
// concurrent use, so a listener can add and remove torrents while
// accepting. Padding is at most 512 bytes each way, as the specification
// says (longer fails with ErrBadPadding); the synchronisation patterns are
// searched for within that window only (ErrNoSync); the initial payload is
// at most 65535 bytes.
package mse
