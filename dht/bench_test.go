package dht

import (
	"net/netip"
	"testing"
	"time"
)

func BenchmarkDecodeMsg(b *testing.B) {
	for _, name := range []string{"get_peers query", "get_peers response"} {
		var in []byte
		if name == "get_peers query" {
			in = []byte("d1:ad2:id20:abcdefghij01234567899:info_hash20:mnopqrstuvwxyz123456e1:q9:get_peers1:t2:aa1:y1:qe")
		} else {
			nodes := make([]NodeInfo, K)
			for i := range nodes {
				nodes[i] = NodeInfo{RandomID(), testAddr(i + 1)}
			}
			r := &Return{ID: string(make([]byte, 20)), Token: "12345678", Nodes: string(appendCompactNodes(nil, nodes, false))}
			for i := range 20 {
				r.Values = append(r.Values, string(appendCompactAddr(nil, testAddr(i))))
			}
			in, _ = AppendMsg(nil, &Msg{T: "aaaa", Y: typeResponse, R: r, IP: "\x01\x02\x03\x04\x05\x06"})
		}
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(in)))
			for b.Loop() {
				var m Msg
				if err := DecodeMsg(in, &m); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkEncodeQuery(b *testing.B) {
	b.ReportAllocs()
	m := &Msg{T: "aaaa", Y: typeQuery, Q: methodGetPeers, A: &Args{ID: string(make([]byte, 20)), InfoHash: string(make([]byte, 20))}, V: clientVersion}
	var buf []byte
	for b.Loop() {
		buf, _ = AppendMsg(buf[:0], m)
	}
}

// BenchmarkHandleGetPeers measures answering one get_peers query (decode,
// table lookup, token, encode) with a 500-node routing table.
func BenchmarkHandleGetPeers(b *testing.B) {
	s := newHandlerOnly()
	for i := range 500 {
		s.tables[0].insert(NodeInfo{RandomID(), testAddr(1000 + i)}, true, time.Now())
	}
	in := []byte("d1:ad2:id20:abcdefghij01234567899:info_hash20:mnopqrstuvwxyz123456e1:q9:get_peers1:t2:aa1:y1:qe")
	from := netip.MustParseAddrPort("10.0.0.7:7")
	rc := s.conn.(*recordConn)
	b.ReportAllocs()
	for b.Loop() {
		s.handlePacket(in, from)
		rc.sent = rc.sent[:0]
	}
}
