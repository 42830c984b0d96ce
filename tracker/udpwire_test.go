package tracker

import (
	"encoding/binary"
	"encoding/json"
	"net/netip"
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestBEP15Vectors checks packet sizes and field offsets against the
// transcribed BEP 15 vectors.
func TestBEP15Vectors(t *testing.T) {
	// testdata/bep0015.json is transcribed from BEP 15 (see its
	// source_repo field), copied from the project's conformance vectors.
	raw, err := os.ReadFile("testdata/bep0015.json")
	require.NoError(t, err)
	type packet struct {
		Size   any     `json:"size"`
		Fields [][]any `json:"fields"`
	}
	var v struct {
		ProtocolID string                     `json:"protocol_id"`
		Raw        map[string]json.RawMessage `json:"packets"`
		Packets    map[string]packet          `json:"-"`
	}
	require.NoError(t, json.Unmarshal(raw, &v))
	v.Packets = map[string]packet{}
	for k, m := range v.Raw {
		var p packet
		if json.Unmarshal(m, &p) == nil {
			v.Packets[k] = p
		}
	}
	require.Equal(t, "0x41727101980", v.ProtocolID)

	conn := appendUDPConnect(nil, 0x01020304)
	require.Len(t, conn, int(v.Packets["connect_request"].Size.(float64)))
	require.Equal(t, udpProtocolID, binary.BigEndian.Uint64(conn))

	a := udpAnnounce{connID: 1, tid: 2, downloaded: 3, left: 4, uploaded: 5, event: EventStopped,
		ip: [4]byte{6, 6, 6, 6}, key: 7, numWant: -1, port: 8}
	a.infoHash[0], a.peerID[0] = 0xaa, 0xbb
	pkt := appendUDPAnnounce(nil, &a)
	av := v.Packets["announce_request_ipv4"]
	require.Len(t, pkt, int(av.Size.(float64)))
	for _, f := range av.Fields {
		off, typ, name := int(f[0].(float64)), f[1].(string), f[2].(string)
		switch {
		case name == "info_hash":
			require.Equal(t, byte(0xaa), pkt[off])
		case name == "peer_id":
			require.Equal(t, byte(0xbb), pkt[off])
		case typ == "u16":
			require.Equal(t, uint16(8), binary.BigEndian.Uint16(pkt[off:]), name)
		case name == "num_want":
			require.Equal(t, int32(-1), int32(binary.BigEndian.Uint32(pkt[off:])), name)
		case name == "event":
			require.Equal(t, uint32(3), binary.BigEndian.Uint32(pkt[off:]))
		}
	}
	r, ok := parseUDPRequest(pkt)
	require.True(t, ok)
	require.Equal(t, a, r.announce)

	rep := appendUDPAnnounceReply(nil, 2, 60, 1, 2, []netip.AddrPort{netip.MustParseAddrPort("1.2.3.4:5")}, false)
	require.Len(t, rep, 20+6)
	rep6 := appendUDPAnnounceReply(nil, 2, 60, 1, 2, []netip.AddrPort{netip.MustParseAddrPort("[::2]:5")}, true)
	require.Len(t, rep6, 20+18)
	sc := appendUDPScrapeReply(nil, 1, []ScrapeStats{{Complete: 1, Downloaded: 2, Incomplete: 3}})
	require.Len(t, sc, 8+12)
	require.Equal(t, []uint32{1, 2, 3}, []uint32{binary.BigEndian.Uint32(sc[8:]), binary.BigEndian.Uint32(sc[12:]), binary.BigEndian.Uint32(sc[16:])})
}

func TestURLDataOptions(t *testing.T) {
	long := "/announce?" + strings.Repeat("k", 600)
	for _, s := range []string{"/a", "/announce?passkey=1", long} {
		b := appendURLData(nil, s)
		require.Equal(t, s, parseURLData(b))
	}
	require.Len(t, appendURLData(nil, long), len(long)+2*3+1) // three chunks + end
	require.Equal(t, "", parseURLData(nil))
	require.Empty(t, appendURLData(nil, ""))
	// The examples of BEP 41: udp://tracker.example.com:80/dir?a=b&c=d, then
	// the same padded with NOPs and closed by EndOfOptions, and a URL
	// without path or query.
	bep := []byte{0x2, 0xC, '/', 'd', 'i', 'r', '?', 'a', '=', 'b', '&', 'c', '=', 'd'}
	require.Equal(t, "/dir?a=b&c=d", parseURLData(bep))
	require.Equal(t, "/dir?a=b&c=d", parseURLData(append(bep, 0x1, 0x1, 0x0)))
	require.Equal(t, bep, appendURLData(nil, "/dir?a=b&c=d")[:len(bep)])
	require.Equal(t, "", parseURLData([]byte{0x2, 0x0}))
	// NOPs are skipped; EndOfOptions ends parsing.
	require.Equal(t, "/ab", parseURLData([]byte{optNOP, optURLData, 2, '/', 'a', optNOP, optURLData, 1, 'b', optEnd, optURLData, 1, 'x'}))
	// An unknown option type (>= 0x2) has a length byte and is skipped,
	// even with a zero length (BEP 41).
	require.Equal(t, "/ab", parseURLData([]byte{optURLData, 2, '/', 'a', 9, 3, 'x', 'y', 'z', 0xff, 0, optURLData, 1, 'b'}))
	// Truncation stops parsing.
	require.Equal(t, "/a", parseURLData([]byte{optURLData, 2, '/', 'a', optURLData, 5, 'b'}))
	require.Equal(t, "/a", parseURLData([]byte{optURLData, 2, '/', 'a', 9}))
	require.Equal(t, "/a", parseURLData([]byte{optURLData, 2, '/', 'a', 9, 4, 'x'}))
	// Data beyond the limit is dropped.
	var big []byte
	for range 6 {
		big = append(big, optURLData, 255)
		big = append(big, strings.Repeat("z", 255)...)
	}
	require.Len(t, parseURLData(big), 4*255)
}

func TestParseUDPReplyErrors(t *testing.T) {
	for _, b := range [][]byte{nil, {0, 0, 0, 0}, {0, 0, 0, 0, 0, 0, 0, 1}, {0, 0, 0, 1, 0, 0, 0, 1, 0}, {0, 0, 0, 9, 0, 0, 0, 1}} {
		_, err := parseUDPReply(b, false)
		require.ErrorIs(t, err, ErrMalformed, "%x", b)
	}
	r, err := parseUDPReply(appendUDPError(nil, 5, "oops"), false)
	require.NoError(t, err)
	require.Equal(t, "oops", r.message)
	// Peers with port 0 are dropped; mapped IPv4 in an IPv6 reply unmapped.
	r, err = parseUDPReply(appendUDPAnnounceReply(nil, 1, 1, 1, 1, nil, true), true)
	require.NoError(t, err)
	require.Empty(t, r.peers)
	six := appendU16(append(appendU32(appendU32(appendU32(appendU32(appendU32(nil, actionAnnounce), 1), 1), 1), 1),
		0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 1, 2, 3, 4), 9)
	r, err = parseUDPReply(append(six, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0), true)
	require.NoError(t, err)
	require.Equal(t, []netip.AddrPort{netip.MustParseAddrPort("1.2.3.4:9")}, r.peers)

	for _, b := range [][]byte{nil, make([]byte, 15), append(make([]byte, 8), 0, 0, 0, 0, 0, 0, 0, 0), // connect w/o magic
		append(appendU64(nil, 1), 0, 0, 0, 1, 0, 0, 0, 0), // truncated announce
		append(appendU64(nil, 1), 0, 0, 0, 2, 0, 0, 0, 0), // scrape without hashes
		append(appendU64(nil, 1), 0, 0, 0, 5, 0, 0, 0, 0), // unknown action
	} {
		_, ok := parseUDPRequest(b)
		require.False(t, ok, "%x", b)
	}
	// Oversized counts are clamped rather than wrapped.
	a := udpAnnounce{left: -5}
	r2, ok := parseUDPRequest(appendUDPAnnounce(nil, &a))
	require.True(t, ok)
	require.Equal(t, int64(0), r2.announce.left)
	big := appendUDPAnnounce(nil, &a)
	binary.BigEndian.PutUint64(big[64:], ^uint64(0))
	r2, _ = parseUDPRequest(big)
	require.Equal(t, int64(1<<63-1), r2.announce.left)
}
