package utp

import (
	"encoding/binary"
	"net"
	"net/netip"
	"testing"
	"testing/synctest"
	"time"
)

// attacker is a raw packet conn beside a testNet.
func attacker(t *testing.T, tn *testNet) net.PacketConn {
	t.Helper()
	pc, err := tn.net.Listen(netip.MustParseAddrPort("10.0.0.3:666"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pc.Close() })
	return pc
}

func TestHostilePackets(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tn := newTestNet(t, nil, nil, nil, nil)
		ca, cb := tn.connect(t)
		evil := attacker(t, tn)
		to := tn.b.Addr()
		send := func(b []byte) {
			evil.WriteTo(b, to)
			synctest.Wait()
		}
		buf := make([]byte, 2000)
		expectReset := func(what string) {
			evil.SetReadDeadline(time.Now().Add(time.Second))
			n, _, err := evil.ReadFrom(buf)
			if err != nil {
				t.Fatalf("%s: no reset: %v", what, err)
			}
			h, _, err := decodePacket(buf[:n])
			if err != nil || h.typ != stReset {
				t.Fatalf("%s: answer %+v %v", what, h, err)
			}
		}
		expectSilence := func(what string) {
			evil.SetReadDeadline(time.Now().Add(time.Second))
			if n, _, err := evil.ReadFrom(buf); err == nil {
				t.Fatalf("%s: answered % x", what, buf[:n])
			}
		}
		before := tn.b.Stats()

		// Data for a connection that does not exist: ST_RESET.
		send(appendPacket(nil, &header{typ: stData, connID: 4242, seq: 7}, []byte("x")))
		expectReset("unknown connection")
		// A stray reset is not answered.
		send(appendPacket(nil, &header{typ: stReset, connID: 4242}, nil))
		expectSilence("stray reset")
		// Not version 1: not uTP, to the fallback.
		send([]byte{0x42, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0})
		expectSilence("version 2")
		// An extension chain past the end: invalid, ignored.
		bad := appendPacket(nil, &header{typ: stData, connID: 4242}, nil)
		bad[1] = 7
		send(append(bad, 0, 200, 1))
		expectSilence("broken extension chain")
		// A SYN flood past the backlog is refused, never a panic.
		for i := range 100 {
			send(appendPacket(nil, &header{typ: stSyn, connID: uint16(1000 + 2*i), seq: 1}, nil))
		}
		st := tn.b.Stats()
		if st.ResetsSent-before.ResetsSent < 1 || st.Fallback-before.Fallback != 1 || st.Invalid-before.Invalid != 1 || st.Refused == 0 {
			t.Fatalf("stats before %+v after %+v", before, st)
		}
		if st.Conns > DefaultAcceptBacklog+1 {
			t.Fatalf("%d conns", st.Conns)
		}

		// Packets forged into the established connection (injected as if
		// from its address): an ack of data never sent, a maximal
		// selective ack, data far past the window, a SYN.
		from := net.UDPAddrFromAddrPort(netip.MustParseAddrPort("10.0.0.1:6881"))
		cb.mu.Lock()
		id, seqB, ackB := cb.recvID, cb.seq, cb.ack
		cb.mu.Unlock()
		ignored := tn.b.Stats().Ignored
		tn.b.handle(appendPacket(nil, &header{typ: stState, connID: id, seq: ackB + 1, ack: seqB + 100, wnd: 1 << 20}, nil), from, false)
		if tn.b.Stats().Ignored != ignored+1 {
			t.Fatal("an ack of unsent data was not ignored")
		}
		mask := make([]byte, 252)
		for i := range mask {
			mask[i] = 0xff
		}
		tn.b.handle(appendPacket(nil, &header{typ: stState, connID: id, seq: ackB + 1, ack: seqB - 1, wnd: 1 << 20, sack: mask}, nil), from, false)
		tn.b.handle(appendPacket(nil, &header{typ: stData, connID: id, seq: ackB + 30000, ack: seqB - 1, wnd: 1 << 20}, []byte("far")), from, false)
		tn.b.handle(appendPacket(nil, &header{typ: stSyn, connID: id - 1, seq: 1}, nil), from, false)
		// The connection still works both ways.
		exchange(t, ca, cb, randomBytes(5, 200000), randomBytes(6, 200000))
	})
}

// FuzzSocket feeds arbitrary packets to a socket holding an established
// connection, half of them patched to carry its connection ID; whatever
// happens to the connection, nothing panics and everything closes.
func FuzzSocket(f *testing.F) {
	f.Add([]byte{20, 0x01, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0})
	f.Add(appendPacket([]byte{40}, &header{typ: stState, sack: []byte{0xff, 0xff, 0xff, 0xff}}, []byte("0123456789")))
	f.Add(appendPacket([]byte{25}, &header{typ: stFin, seq: 3}, []byte("abcde")))
	f.Fuzz(func(t *testing.T, in []byte) {
		synctest.Test(t, func(t *testing.T) {
			tn := newTestNet(t, nil, nil, nil, nil)
			ca, cb := tn.connect(t)
			cb.mu.Lock()
			id, seq, ack := cb.recvID, cb.seq, cb.ack
			cb.mu.Unlock()
			from := net.UDPAddrFromAddrPort(netip.MustParseAddrPort("10.0.0.1:6881"))
			for i := 0; len(in) > 0; i++ {
				n := min(int(in[0]), len(in)-1)
				p := append([]byte(nil), in[1:1+n]...)
				in = in[1+n:]
				if i%2 == 0 && len(p) >= headerSize {
					binary.BigEndian.PutUint16(p[2:], id)
					// Near the connection's numbers, so it gets processed.
					binary.BigEndian.PutUint16(p[16:], ack+binary.BigEndian.Uint16(p[16:])%8)
					binary.BigEndian.PutUint16(p[18:], seq-binary.BigEndian.Uint16(p[18:])%8)
				}
				tn.b.handle(p, from, false)
			}
			go ca.Write([]byte("after"))
			cb.SetReadDeadline(time.Now().Add(5 * time.Second))
			cb.Read(make([]byte, 10))
			ca.Close()
			cb.Close()
		})
	})
}

// TestOutOfOrderLimit: packets past a gap are held up to MaxOutOfOrder and
// within the receive window; the rest are dropped for the peer to resend.
func TestOutOfOrderLimit(t *testing.T) {
	for _, tc := range []struct {
		cfg  Config
		held int
	}{
		{Config{MaxOutOfOrder: 8, RecvBuffer: 64 << 10}, 8}, // the packet limit binds
		{Config{MaxOutOfOrder: 100, RecvBuffer: 4096}, 4},   // the window binds
	} {
		synctest.Test(t, func(t *testing.T) {
			tn := newTestNet(t, nil, nil, nil, &tc.cfg)
			_, cb := tn.connect(t)
			from := net.UDPAddrFromAddrPort(netip.MustParseAddrPort("10.0.0.1:6881"))
			cb.mu.Lock()
			id, seq, ack := cb.recvID, cb.seq, cb.ack
			cb.mu.Unlock()
			payload := make([]byte, 1000)
			// Leave a gap at ack+1, then 20 packets after it.
			for i := range 20 {
				tn.b.handle(appendPacket(nil, &header{typ: stData, connID: id, seq: ack + 2 + uint16(i), ack: seq - 1, wnd: 1 << 20}, payload), from, false)
			}
			cb.mu.Lock()
			held, bytes := len(cb.ooo), cb.oooBytes
			cb.mu.Unlock()
			if held != tc.held || bytes != 1000*tc.held {
				t.Fatalf("%+v: held %d packets, %d bytes", tc.cfg, held, bytes)
			}
		})
	}
}
