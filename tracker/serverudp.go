package tracker

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
	"net"
	"net/netip"
	"time"

	"github.com/bittern/bittern/metainfo"
)

// connIDWindow is the period of UDP connection IDs. An ID is accepted in the
// window it was issued in and the next, so for at least connIDWindow (the
// two minutes BEP 15 asks trackers to honour) and at most twice that.
const connIDWindow = 2 * time.Minute

// maxUDPPacket is the largest UDP request the server reads; larger
// datagrams are truncated to it (a full scrape is 16+20·74 = 1496 bytes).
const maxUDPPacket = 2048

// A UDP announce reply carries at most as many peers as fit one unfragmented
// datagram on a 1500-byte MTU (IP and UDP headers, then the 20-byte reply
// header): 242 IPv4 peers, 79 IPv6 ones. Fragments are often dropped on the
// way, IPv6 ones especially, and a lost fragment loses the whole reply.
const (
	udpMaxPeers4 = (1500 - 20 - 8 - udpAnnounceReplyLen) / 6
	udpMaxPeers6 = (1500 - 40 - 8 - udpAnnounceReplyLen) / 18
)

// udpNumWant resolves a UDP announce's num_want (-1 or any negative value:
// the default) and caps it to one datagram's worth of peers.
func (s *Server) udpNumWant(n int32, v6 bool) int {
	want := int(n)
	if want < 0 {
		want = s.cfg.DefaultNumWant
	}
	if v6 {
		return min(want, udpMaxPeers6)
	}
	return min(want, udpMaxPeers4)
}

// connID derives the connection ID for the client address ip in the given
// window: a MAC, so the server stores nothing per client and a client must
// have received the connect reply at ip to know it. The port is left out, as
// other trackers do, so a client may change sockets within a minute.
func (s *Server) connID(ip netip.Addr, window int64) uint64 {
	var msg [8 + 16]byte
	binary.BigEndian.PutUint64(msg[:], uint64(window))
	a16 := ip.Unmap().As16()
	copy(msg[8:], a16[:])
	m, _ := s.macs.Get().(hash.Hash)
	if m == nil {
		m = hmac.New(sha256.New, s.secret[:])
	}
	m.Reset()
	m.Write(msg[:])
	var sum [sha256.Size]byte
	id := binary.BigEndian.Uint64(m.Sum(sum[:0]))
	s.macs.Put(m)
	return id
}

func connIDWindowAt(t time.Time) int64 { return t.Unix() / int64(connIDWindow/time.Second) }

func (s *Server) validConnID(addr netip.Addr, id uint64, now time.Time) bool {
	w := connIDWindowAt(now)
	return macEqual(s.connID(addr, w), id) || macEqual(s.connID(addr, w-1), id)
}

// macEqual compares two MACs in constant time.
func macEqual(a, b uint64) bool {
	var x, y [8]byte
	binary.BigEndian.PutUint64(x[:], a)
	binary.BigEndian.PutUint64(y[:], b)
	return subtle.ConstantTimeCompare(x[:], y[:]) == 1
}

// ServeUDP answers BEP 15 requests arriving on pc until ctx is done (it
// then returns ctx.Err()) or reading fails. It does not close pc. Requests
// are handled one at a time on the calling goroutine. Event 4 is BEP 21's
// "paused" (libtorrent's value); the scrape reply, whose layout BEP 15 fixes,
// has no room for BEP 21's downloaders.
func (s *Server) ServeUDP(ctx context.Context, pc net.PacketConn) error {
	stop := context.AfterFunc(ctx, func() { _ = pc.SetReadDeadline(time.Unix(1, 0)) })
	defer stop()
	buf := make([]byte, maxUDPPacket)
	out := make([]byte, 0, maxUDPPacket)
	for {
		n, from, err := pc.ReadFrom(buf)
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			return err
		}
		addr, ok := addrPortOf(from)
		if !ok {
			continue
		}
		out = s.handleUDP(out[:0], buf[:n], addr, time.Now())
		if len(out) > 0 {
			_, _ = pc.WriteTo(out, from)
		}
	}
}

// udpKey renders a UDP announce key as the HTTP "key" parameter would be
// sent (8 hex digits); 0 means no key.
func udpKey(k uint32) string {
	if k == 0 {
		return ""
	}
	return fmt.Sprintf("%08X", k)
}

// addrPortOf extracts an address and port from a net.Addr.
func addrPortOf(a net.Addr) (netip.AddrPort, bool) {
	if u, ok := a.(interface{ AddrPort() netip.AddrPort }); ok {
		ap := u.AddrPort()
		return ap, ap.IsValid()
	}
	ap, err := netip.ParseAddrPort(a.String())
	return ap, err == nil
}

// handleUDP appends the reply to one request packet from `from` to out. An
// empty result means no reply. Replies to requests that do not carry a valid
// connection ID are never larger than the request (no amplification).
func (s *Server) handleUDP(out, pkt []byte, from netip.AddrPort, now time.Time) []byte {
	req, ok := parseUDPRequest(pkt)
	if !ok {
		return out
	}
	if req.action == actionConnect {
		// 16 bytes in, 16 bytes out.
		return appendUDPConnectReply(out, req.tid, s.connID(from.Addr(), connIDWindowAt(now)))
	}
	if !s.validConnID(from.Addr(), req.connID, now) {
		out = appendUDPError(out, req.tid, "invalid connection id")
		return out[:min(len(out), len(pkt))]
	}
	client := netip.AddrPortFrom(from.Addr().Unmap(), from.Port())
	switch req.action {
	case actionAnnounce:
		a := &req.announce
		ip := client.Addr()
		if s.cfg.TrustClientIP && a.ip != [4]byte{} {
			ip = netip.AddrFrom4(a.ip)
		}
		sa := serverAnnounce{
			infoHash: a.infoHash,
			peerID:   a.peerID,
			addr:     netip.AddrPortFrom(ip, a.port),
			key:      udpKey(a.key),
			left:     a.left,
			event:    a.event,
			numWant:  s.udpNumWant(a.numWant, client.Addr().Is6()),
			want4:    client.Addr().Is4(),
			want6:    client.Addr().Is6(),
		}
		if sa.event > EventPaused {
			sa.event = EventNone // unknown events are regular announces
		}
		res, err := s.announce(&sa)
		if err != nil {
			return appendUDPError(out, req.tid, err.Error())
		}
		addrs := make([]netip.AddrPort, len(res.peers))
		for i, p := range res.peers {
			addrs[i] = p.addr
		}
		return appendUDPAnnounceReply(out, req.tid, uint32(s.cfg.Interval/time.Second),
			satU32(res.leechers), satU32(res.seeders), addrs, client.Addr().Is6())
	case actionScrape:
		hashes := make([]metainfo.Hash, len(req.hashes))
		for i, h := range req.hashes {
			hashes[i] = h
		}
		m, err := s.scrape(hashes)
		if err != nil {
			return appendUDPError(out, req.tid, err.Error())
		}
		stats := make([]ScrapeStats, len(hashes))
		for i, ih := range hashes {
			stats[i] = m[ih]
		}
		return appendUDPScrapeReply(out, req.tid, stats)
	}
	return out
}
