// Package peerwiretest provides connected peer wire pairs for tests: two
// in-memory connections with the BitTorrent handshake already done and a
// peerwire.Framer on each end, so that a test can play one side of the
// protocol against the code under test on the other.
//
//	a, b := peerwiretest.Pipe(t, peerwiretest.Handshake(ih), peerwiretest.Handshake(ih))
//	go runPeer(b.Conn) // or drive b.Framer directly
//	a.Framer.WriteInterested()
//	a.Expect(t, peerwire.Unchoke{})
package peerwiretest
