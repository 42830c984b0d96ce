package tracker

import (
	"encoding/binary"
	"math"
	"net/netip"
)

// BEP 15 wire format. All integers are big-endian.

const udpProtocolID uint64 = 0x41727101980

const (
	actionConnect  uint32 = 0
	actionAnnounce uint32 = 1
	actionScrape   uint32 = 2
	actionError    uint32 = 3
)

// Packet sizes (BEP 15).
const (
	udpConnectLen        = 16
	udpAnnounceReqLen    = 98
	udpAnnounceReplyLen  = 20
	udpScrapeReqMinLen   = 16
	udpScrapeReplyMinLen = 8
	udpErrorMinLen       = 8
)

// BEP 41 option types.
const (
	optEnd     = 0x0
	optNOP     = 0x1
	optURLData = 0x2
)

// maxURLData is the most URL data (path and query) a request may carry via
// BEP 41 options; longer data is an error on encode and dropped on decode.
const maxURLData = 1024

// udpAnnounce is a BEP 15 announce request, as sent by a client.
type udpAnnounce struct {
	connID     uint64
	tid        uint32
	infoHash   [20]byte
	peerID     [20]byte
	downloaded int64
	left       int64
	uploaded   int64
	event      Event
	ip         [4]byte // 0 = use the source address
	key        uint32
	numWant    int32
	port       uint16
	urlData    string // BEP 41: path and query of the announce URL
}

func appendU16(b []byte, v uint16) []byte { return binary.BigEndian.AppendUint16(b, v) }
func appendU32(b []byte, v uint32) []byte { return binary.BigEndian.AppendUint32(b, v) }
func appendU64(b []byte, v uint64) []byte { return binary.BigEndian.AppendUint64(b, v) }

// u64OfInt clamps negative counts to 0.
func u64OfInt(v int64) uint64 {
	if v < 0 {
		return 0
	}
	return uint64(v)
}

// intOfU64 clamps counts that overflow int64.
func intOfU64(v uint64) int64 {
	if v > math.MaxInt64 {
		return math.MaxInt64
	}
	return int64(v)
}

func appendUDPConnect(b []byte, tid uint32) []byte {
	b = appendU64(b, udpProtocolID)
	b = appendU32(b, actionConnect)
	return appendU32(b, tid)
}

func appendUDPAnnounce(b []byte, a *udpAnnounce) []byte {
	b = appendU64(b, a.connID)
	b = appendU32(b, actionAnnounce)
	b = appendU32(b, a.tid)
	b = append(b, a.infoHash[:]...)
	b = append(b, a.peerID[:]...)
	b = appendU64(b, u64OfInt(a.downloaded))
	b = appendU64(b, u64OfInt(a.left))
	b = appendU64(b, u64OfInt(a.uploaded))
	b = appendU32(b, uint32(a.event))
	b = append(b, a.ip[:]...)
	b = appendU32(b, a.key)
	b = appendU32(b, uint32(a.numWant))
	b = appendU16(b, a.port)
	return appendURLData(b, a.urlData)
}

// appendURLData appends BEP 41 URLData options carrying s in chunks of at
// most 255 bytes, then EndOfOptions. Nothing is appended for an empty s.
func appendURLData(b []byte, s string) []byte {
	if s == "" {
		return b
	}
	for len(s) > 0 {
		n := min(len(s), 255)
		b = append(b, optURLData, byte(n))
		b = append(b, s[:n]...)
		s = s[n:]
	}
	return append(b, optEnd)
}

// parseURLData reads BEP 41 options: NOP (0x1) is one byte, EndOfOptions
// (0x0) ends parsing, and every other type, URLData (0x2) and types not yet
// defined alike, is followed by a length byte and that many bytes of data;
// unknown options are skipped. Parsing stops at a truncated option, and URL
// data beyond maxURLData is dropped. The URL data found is returned.
func parseURLData(b []byte) string {
	var out []byte
	for len(b) > 0 {
		switch b[0] {
		case optEnd:
			return string(out)
		case optNOP:
			b = b[1:]
			continue
		}
		if len(b) < 2 || len(b) < 2+int(b[1]) {
			return string(out)
		}
		typ, data := b[0], b[2:2+int(b[1])]
		b = b[2+len(data):]
		if typ != optURLData {
			continue
		}
		if len(out)+len(data) > maxURLData {
			return string(out)
		}
		out = append(out, data...)
	}
	return string(out)
}

func appendUDPScrape(b []byte, connID uint64, tid uint32, hashes [][20]byte) []byte {
	b = appendU64(b, connID)
	b = appendU32(b, actionScrape)
	b = appendU32(b, tid)
	for i := range hashes {
		b = append(b, hashes[i][:]...)
	}
	return b
}

// udpRequest is a parsed client-to-tracker packet (server side).
type udpRequest struct {
	connID   uint64
	action   uint32
	tid      uint32
	announce udpAnnounce // action == actionAnnounce
	hashes   [][20]byte  // action == actionScrape
}

// parseUDPRequest parses a packet a tracker receives. ok is false for
// anything a tracker must silently drop: too short, an unknown action, a
// connect without the protocol magic, a truncated announce.
func parseUDPRequest(b []byte) (r udpRequest, ok bool) {
	if len(b) < 16 {
		return r, false
	}
	r.connID = binary.BigEndian.Uint64(b)
	r.action = binary.BigEndian.Uint32(b[8:])
	r.tid = binary.BigEndian.Uint32(b[12:])
	switch r.action {
	case actionConnect:
		return r, r.connID == udpProtocolID
	case actionAnnounce:
		if len(b) < udpAnnounceReqLen {
			return r, false
		}
		a := &r.announce
		a.connID, a.tid = r.connID, r.tid
		copy(a.infoHash[:], b[16:36])
		copy(a.peerID[:], b[36:56])
		a.downloaded = intOfU64(binary.BigEndian.Uint64(b[56:]))
		a.left = intOfU64(binary.BigEndian.Uint64(b[64:]))
		a.uploaded = intOfU64(binary.BigEndian.Uint64(b[72:]))
		a.event = Event(binary.BigEndian.Uint32(b[80:]))
		copy(a.ip[:], b[84:88])
		a.key = binary.BigEndian.Uint32(b[88:])
		a.numWant = int32(binary.BigEndian.Uint32(b[92:]))
		a.port = binary.BigEndian.Uint16(b[96:])
		a.urlData = parseURLData(b[udpAnnounceReqLen:])
		return r, true
	case actionScrape:
		n := (len(b) - 16) / 20
		if n == 0 {
			return r, false
		}
		n = min(n, MaxScrapeHashes)
		r.hashes = make([][20]byte, n)
		for i := range r.hashes {
			copy(r.hashes[i][:], b[16+20*i:])
		}
		return r, true
	}
	return r, false
}

// udpReply is a parsed tracker-to-client packet (client side).
type udpReply struct {
	action   uint32
	tid      uint32
	connID   uint64           // connect
	interval uint32           // announce
	leechers uint32           // announce
	seeders  uint32           // announce
	peers    []netip.AddrPort // announce
	scrape   []ScrapeStats    // scrape, in request order
	message  string           // error
}

// parseUDPReply parses a packet a client receives. ipv6 selects the peer
// stride of an announce reply (18 bytes instead of 6), which BEP 15 ties to
// the address family the request was sent over. A trailing partial peer or
// scrape entry is ignored.
func parseUDPReply(b []byte, ipv6 bool) (r udpReply, err error) {
	if len(b) < 8 {
		return r, malformed("udp", "packet shorter than 8 bytes")
	}
	r.action = binary.BigEndian.Uint32(b)
	r.tid = binary.BigEndian.Uint32(b[4:])
	switch r.action {
	case actionConnect:
		if len(b) < udpConnectLen {
			return r, malformed("udp connect", "reply shorter than 16 bytes")
		}
		r.connID = binary.BigEndian.Uint64(b[8:])
	case actionAnnounce:
		if len(b) < udpAnnounceReplyLen {
			return r, malformed("udp announce", "reply shorter than 20 bytes")
		}
		r.interval = binary.BigEndian.Uint32(b[8:])
		r.leechers = binary.BigEndian.Uint32(b[12:])
		r.seeders = binary.BigEndian.Uint32(b[16:])
		if ipv6 {
			r.peers = parseCompact6(b[20:])
		} else {
			r.peers = parseCompact4(b[20:])
		}
	case actionScrape:
		rest := b[8:]
		r.scrape = make([]ScrapeStats, 0, len(rest)/12)
		for ; len(rest) >= 12; rest = rest[12:] {
			r.scrape = append(r.scrape, ScrapeStats{
				Complete:   clampInt(binary.BigEndian.Uint32(rest)),
				Downloaded: clampInt(binary.BigEndian.Uint32(rest[4:])),
				Incomplete: clampInt(binary.BigEndian.Uint32(rest[8:])),
			})
		}
	case actionError:
		r.message = string(b[8:])
	default:
		return r, malformed("udp", "unknown action")
	}
	return r, nil
}

func clampInt(v uint32) int {
	if uint64(v) > math.MaxInt {
		return math.MaxInt
	}
	return int(v)
}

func appendUDPConnectReply(b []byte, tid uint32, connID uint64) []byte {
	b = appendU32(b, actionConnect)
	b = appendU32(b, tid)
	return appendU64(b, connID)
}

func appendUDPAnnounceReply(b []byte, tid uint32, interval, leechers, seeders uint32, peers []netip.AddrPort, ipv6 bool) []byte {
	b = appendU32(b, actionAnnounce)
	b = appendU32(b, tid)
	b = appendU32(b, interval)
	b = appendU32(b, leechers)
	b = appendU32(b, seeders)
	if ipv6 {
		return appendCompact6(b, peers)
	}
	return appendCompact4(b, peers)
}

func appendUDPScrapeReply(b []byte, tid uint32, stats []ScrapeStats) []byte {
	b = appendU32(b, actionScrape)
	b = appendU32(b, tid)
	for _, s := range stats {
		b = appendU32(b, satU32(s.Complete))
		b = appendU32(b, satU32(s.Downloaded))
		b = appendU32(b, satU32(s.Incomplete))
	}
	return b
}

func appendUDPError(b []byte, tid uint32, msg string) []byte {
	b = appendU32(b, actionError)
	b = appendU32(b, tid)
	return append(b, msg...)
}

func satU32(v int) uint32 {
	if v < 0 {
		return 0
	}
	if uint64(v) > math.MaxUint32 {
		return math.MaxUint32
	}
	return uint32(v)
}
