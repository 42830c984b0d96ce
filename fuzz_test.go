package bittern

import (
	"context"
	"io"
	"net/netip"
	"testing"
	"testing/synctest"
	"time"

	"github.com/bittern/bittern/bencode"
	"github.com/bittern/bittern/peerwire"
	"github.com/bittern/bittern/storage"
)

// FuzzPeerMessages feeds arbitrary bytes, after a valid handshake, to a
// session that seeds a small torrent: whatever they hold, the session must
// not panic, must drop or keep the peer cleanly, and must close with
// nothing left running.
func FuzzPeerMessages(f *testing.F) {
	ext, _ := bencode.Marshal(extHandshake{M: map[string]int{"ut_pex": 1}, V: "x", Reqq: 3})
	seeds := [][]peerwire.Message{
		{peerwire.Interested{}, peerwire.Request{Index: 0, Begin: 0, Length: 16384}},
		{peerwire.HaveNone{}, peerwire.Interested{}, peerwire.Request{Index: 1, Begin: 16384, Length: 16384}, peerwire.Cancel{Index: 1, Begin: 16384, Length: 16384}},
		{peerwire.Bitfield{Bits: []byte{0xf0}}, peerwire.Have{Index: 3}, peerwire.Unchoke{}},
		{peerwire.Extended{ExtendedID: 0, Payload: ext}, peerwire.HaveAll{}},
		{peerwire.Extended{ExtendedID: 0, Payload: []byte("d4:reqqi-5ee")}, peerwire.Reject{Index: 0, Begin: 0, Length: 16384}},
		{peerwire.Piece{Index: 0, Begin: 0, Block: make([]byte, 16384)}, peerwire.AllowedFast{Index: 2}, peerwire.Suggest{Index: 1}},
		{peerwire.NotInterested{}, peerwire.Choke{}, peerwire.Port{Port: 1}, peerwire.KeepAlive{}},
	}
	for _, ms := range seeds {
		var b []byte
		for _, m := range ms {
			b = m.AppendTo(b)
		}
		f.Add(b)
	}
	f.Add([]byte{0, 0, 0, 5, 5, 0xff})
	f.Add([]byte{0xff, 0xff, 0xff, 0xff})
	data := randomData(4*16384, 12)
	mi := makeTorrent(f, "fuzz.bin", data, 16384)
	f.Fuzz(func(t *testing.T, msgs []byte) {
		synctest.Test(t, func(t *testing.T) {
			n := newPipeNet()
			st := &storage.Memory{}
			fill(t, st, mi, data)
			s := newPipeSession(t, n, "10.0.0.1:6881", &Config{Storage: st})
			defer s.Close()
			tor, err := s.AddTorrent(context.Background(), mi, nil)
			if err != nil {
				t.Fatal(err)
			}
			d := pipeDialer{n: n, host: netip.MustParseAddr("10.0.0.9")}
			conn, err := d.DialContext(context.Background(), "tcp", "10.0.0.1:6881")
			if err != nil {
				t.Fatal(err)
			}
			if _, err := peerwire.Initiate(conn, peerwire.Handshake{Reserved: fastExt, InfoHash: mi.InfoHash(), PeerID: rawID('z')}, [20]byte{}); err != nil {
				t.Fatal(err)
			}
			done := make(chan struct{})
			go func() {
				defer close(done)
				conn.Write(msgs)
				time.Sleep(time.Second)
				conn.Close()
			}()
			io.Copy(io.Discard, conn)
			<-done
			time.Sleep(time.Second)
			if p := tor.Stats().Peers; p != 0 {
				t.Fatalf("%d peers after the connection closed", p)
			}
		})
	})
}
