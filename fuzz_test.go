package bittern

import (
	"bytes"
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
	extMeta, _ := bencode.Marshal(extHandshake{M: map[string]int{peerwire.ExtMetadata: 3, peerwire.ExtPEX: 4}, P: 6881})
	pex, _ := peerwire.PEX{Added: []peerwire.PEXPeer{{Addr: netip.MustParseAddrPort("10.0.0.3:6881")}}, Dropped: []netip.AddrPort{netip.MustParseAddrPort("10.0.0.4:1")}}.AppendTo(nil)
	seeds := [][]peerwire.Message{
		{peerwire.Interested{}, peerwire.Request{Index: 0, Begin: 0, Length: 16384}},
		{peerwire.HaveNone{}, peerwire.Interested{}, peerwire.Request{Index: 1, Begin: 16384, Length: 16384}, peerwire.Cancel{Index: 1, Begin: 16384, Length: 16384}},
		{peerwire.Bitfield{Bits: []byte{0xf0}}, peerwire.Have{Index: 3}, peerwire.Unchoke{}},
		{peerwire.Extended{ExtendedID: 0, Payload: ext}, peerwire.HaveAll{}},
		{peerwire.Extended{ExtendedID: 0, Payload: []byte("d4:reqqi-5ee")}, peerwire.Reject{Index: 0, Begin: 0, Length: 16384}},
		{peerwire.Piece{Index: 0, Begin: 0, Block: make([]byte, 16384)}, peerwire.AllowedFast{Index: 2}, peerwire.Suggest{Index: 1}},
		{peerwire.NotInterested{}, peerwire.Choke{}, peerwire.Port{Port: 1}, peerwire.KeepAlive{}},
		{peerwire.Extended{ExtendedID: 0, Payload: extMeta},
			peerwire.Extended{ExtendedID: extIDMetadata, Payload: peerwire.MetadataMessage{Type: peerwire.MetadataRequest, Piece: 0}.AppendTo(nil)},
			peerwire.Extended{ExtendedID: extIDMetadata, Payload: peerwire.MetadataMessage{Type: peerwire.MetadataRequest, Piece: 7}.AppendTo(nil)},
			peerwire.Extended{ExtendedID: extIDMetadata, Payload: peerwire.MetadataMessage{Type: peerwire.MetadataReject, Piece: 0}.AppendTo(nil)}},
		{peerwire.Extended{ExtendedID: 0, Payload: extMeta}, peerwire.Extended{ExtendedID: extIDPEX, Payload: pex},
			peerwire.Extended{ExtendedID: extIDPEX, Payload: pex}},
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

// FuzzMagnetPeer: a peer answering a magnet's metadata fetch with
// arbitrary bytes after the handshake never panics the session, and
// AddMagnet ends cleanly at its deadline (or with the torrent, if the
// bytes happen to carry the right metadata).
func FuzzMagnetPeer(f *testing.F) {
	data := randomData(3*16384, 13)
	mi := makeTorrent(f, "fuzzmag.bin", data, 16384)
	hs, _ := bencode.Marshal(extHandshake{M: map[string]int{peerwire.ExtMetadata: 3}, MetadataSize: len(mi.InfoBytes)})
	good := peerwire.Extended{ExtendedID: 0, Payload: hs}.AppendTo(nil)
	good = peerwire.Extended{ExtendedID: extIDMetadata, Payload: peerwire.MetadataMessage{Type: peerwire.MetadataData, Piece: 0, TotalSize: len(mi.InfoBytes), Data: mi.InfoBytes}.AppendTo(nil)}.AppendTo(good)
	f.Add(good)
	f.Add(peerwire.Extended{ExtendedID: 0, Payload: hs}.AppendTo(nil))
	f.Add(peerwire.Extended{ExtendedID: extIDMetadata, Payload: []byte("d8:msg_typei1e5:piecei0e10:total_sizei5ee12345")}.AppendTo(nil))
	f.Add([]byte{0, 0, 0, 2, 20, 0})
	f.Fuzz(func(t *testing.T, msgs []byte) {
		synctest.Test(t, func(t *testing.T) {
			n := newPipeNet()
			l := n.listen("10.0.0.2:6881")
			done := make(chan struct{})
			go func() {
				defer close(done)
				conn, err := l.Accept()
				if err != nil {
					return
				}
				defer conn.Close()
				if _, err := peerwire.Answer(conn, func(h peerwire.Handshake) (peerwire.Handshake, bool) {
					return peerwire.Handshake{Reserved: ourReserved, InfoHash: h.InfoHash, PeerID: rawID('m')}, true
				}); err != nil {
					return
				}
				go io.Copy(io.Discard, conn)
				conn.Write(msgs)
				time.Sleep(time.Minute)
			}()
			s := newPipeSession(t, n, "10.0.0.1:6881", &Config{RetryBackoff: time.Hour})
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			tor, err := s.AddMagnet(ctx, "magnet:?xt=urn:btih:"+mi.InfoHash().String()+"&x.pe=10.0.0.2:6881", nil)
			if err == nil && !bytes.Equal(tor.MetaInfo().InfoBytes, mi.InfoBytes) {
				t.Fatal("wrong metadata accepted")
			}
			s.Close()
			l.Close()
			<-done
		})
	})
}
