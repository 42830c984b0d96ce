// Package memnet is an in-memory datagram network for tests.
//
// A [Network] hands out [PacketConn] values, each bound to an address, that
// implement [net.PacketConn]. Packets are delivered in order to the queue of
// the destination conn, optionally after a fixed latency; packets to an
// address nobody listens on, and packets that overflow a full queue, are
// dropped, as UDP would. Everything is built from channels and timers, so a
// whole network runs inside a [testing/synctest] bubble in virtual time:
//
//	synctest.Test(t, func(t *testing.T) {
//		net := memnet.New(nil)
//		a, _ := net.Listen(netip.MustParseAddrPort("10.0.0.1:6881"))
//		b, _ := net.Listen(netip.MustParseAddrPort("10.0.0.2:6881"))
//		a.WriteTo([]byte("hi"), b.LocalAddr())
//		buf := make([]byte, 1500)
//		n, from, _ := b.ReadFrom(buf)
//	})
//
// Create the Network inside the bubble that uses it.
package memnet
