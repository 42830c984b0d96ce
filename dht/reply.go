package dht

import (
	"net"
	"net/netip"

	"github.com/bittern/bittern/bencode"
)

// Reply size limits.
const (
	// maxReply is the largest reply we send, in bytes: what fits an
	// unfragmented IPv6 UDP datagram on a 1,500-byte MTU. Replies over it
	// (a BEP 44 value with nodes of both families) lose their farthest
	// nodes, then peers, until they fit.
	maxReply = 1500 - 40 - 8
	// maxTransactionID is the longest transaction ID of a query we answer
	// (clients use 2 to 8 bytes); a reply echoes it, so a longer one could
	// make a reply of any size.
	maxTransactionID = 64
)

// sendReply encodes a reply to a query, trims it to maxReply bytes, and
// sends it.
func (s *Server) sendReply(to netip.AddrPort, m *Msg) error {
	b, err := bencode.Marshal(m)
	for err == nil && len(b) > maxReply && m.R != nil && trimReturn(m.R, len(b)-maxReply) {
		b, err = bencode.Marshal(m)
	}
	if err != nil {
		return err
	}
	_, err = s.conn.WriteTo(b, net.UDPAddrFromAddrPort(to))
	return err
}

// trimReturn drops at least excess bytes of entries from r: the farthest
// nodes of the longer nodes list first (nodes are nearest first), then
// peers. It reports false if r had nothing left to drop.
func trimReturn(r *Return, excess int) bool {
	dropped := 0
	for dropped < excess {
		switch {
		case len(r.Nodes6) >= compactNode6 && len(r.Nodes6) >= len(r.Nodes):
			r.Nodes6 = r.Nodes6[:len(r.Nodes6)-compactNode6]
			dropped += compactNode6
		case len(r.Nodes) >= compactNode4:
			r.Nodes = r.Nodes[:len(r.Nodes)-compactNode4]
			dropped += compactNode4
		case len(r.Values) > 0:
			dropped += len(bencode.AppendString(nil, r.Values[len(r.Values)-1]))
			r.Values = r.Values[:len(r.Values)-1]
		default:
			return dropped > 0
		}
	}
	return true
}
