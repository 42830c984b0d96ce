package tracker

import (
	"math"
	"net/netip"
	"time"
	"unicode/utf8"

	"github.com/bittern/bittern/bencode"
	"github.com/bittern/bittern/metainfo"
)

// maxInterval bounds intervals taken from a tracker reply.
const maxInterval = 7 * 24 * time.Hour

// defaultInterval is used when a reply carries no usable "interval".
const defaultInterval = 30 * time.Minute

type rawDict map[string]bencode.RawMessage

func decodeDict(body []byte, what string) (rawDict, error) {
	var d rawDict
	if err := bencode.Unmarshal(body, &d); err != nil {
		return nil, &MalformedError{Field: what, Err: err}
	}
	if d == nil {
		return nil, malformed(what, "not a dictionary")
	}
	return d, nil
}

func (d rawDict) str(key string) (string, bool) {
	raw, ok := d[key]
	if !ok {
		return "", false
	}
	var s string
	if bencode.Unmarshal(raw, &s) != nil {
		return "", false
	}
	return s, true
}

func (d rawDict) int(key string) (int64, bool) {
	raw, ok := d[key]
	if !ok {
		return 0, false
	}
	var i int64
	if bencode.Unmarshal(raw, &i) != nil {
		return 0, false
	}
	return i, true
}

// count reads a non-negative count, -1 if absent or invalid.
func (d rawDict) count(key string) int {
	i, ok := d.int(key)
	if !ok || i < 0 {
		return -1
	}
	if i > math.MaxInt32 {
		return math.MaxInt32
	}
	return int(i)
}

func (d rawDict) duration(key string) (time.Duration, bool) {
	i, ok := d.int(key)
	if !ok || i < 0 {
		return 0, false
	}
	if i > int64(maxInterval/time.Second) {
		return maxInterval, true
	}
	return time.Duration(i) * time.Second, true
}

// failure returns the tracker's failure reason, if the reply is a refusal.
// BEP 48's "failure_reason" spelling is accepted too.
func (d rawDict) failure() error {
	for _, k := range []string{"failure reason", "failure_reason"} {
		if s, ok := d.str(k); ok {
			return &FailureError{Reason: s}
		}
	}
	return nil
}

// ParseAnnounceResponse parses the bencoded body of an HTTP announce reply
// (BEP 3, 7, 23, 24). A refusal is a *FailureError; an unparsable body an
// error matching ErrMalformed. Peers may be compact strings or a list of
// dictionaries; dictionary peers whose "ip" is not a literal address (DNS
// names) are skipped. Fields of the wrong type are treated as absent.
func ParseAnnounceResponse(body []byte) (*AnnounceResponse, error) {
	d, err := decodeDict(body, "announce")
	if err != nil {
		return nil, err
	}
	if err := d.failure(); err != nil {
		return nil, err
	}
	r := &AnnounceResponse{Seeders: d.count("complete"), Leechers: d.count("incomplete")}
	var ok bool
	if r.Interval, ok = d.duration("interval"); !ok || r.Interval == 0 {
		r.Interval = defaultInterval
	}
	r.MinInterval, _ = d.duration("min interval")
	r.Warning, _ = d.str("warning message")
	r.TrackerID, _ = d.str("tracker id")
	if ip, ok := d.str("external ip"); ok {
		if a, ok := netip.AddrFromSlice([]byte(ip)); ok {
			r.ExternalIP = a.Unmap()
		}
	}
	if raw, ok := d["peers"]; ok {
		peers, err := parsePeers(raw)
		if err != nil {
			return nil, err
		}
		r.Peers = peers
	}
	if s, ok := d.str("peers6"); ok {
		r.Peers = append(r.Peers, parseCompact6([]byte(s))...)
	}
	r.Peers = dedupPeers(r.Peers)
	return r, nil
}

// parsePeers decodes "peers": a compact string of 6-byte IPv4 entries (BEP
// 23) or a list of {"ip", "port", "peer id"} dictionaries (BEP 3). Compact
// strings whose length is a multiple of 18 and not of 6 are read as IPv6,
// as some trackers put IPv6 peers there.
func parsePeers(raw bencode.RawMessage) ([]netip.AddrPort, error) {
	if len(raw) > 0 && raw[0] >= '0' && raw[0] <= '9' {
		var s []byte
		if err := bencode.Unmarshal(raw, &s); err != nil {
			return nil, &MalformedError{Field: "peers", Err: err}
		}
		if len(s)%6 != 0 && len(s)%18 == 0 {
			return parseCompact6(s), nil
		}
		return parseCompact4(s), nil
	}
	var list []bencode.RawMessage
	if err := bencode.Unmarshal(raw, &list); err != nil {
		return nil, &MalformedError{Field: "peers", Msg: "neither a string nor a list", Err: err}
	}
	peers := make([]netip.AddrPort, 0, len(list))
	for _, e := range list {
		var p rawDict
		if bencode.Unmarshal(e, &p) != nil {
			continue
		}
		ipStr, ok := p.str("ip")
		if !ok {
			continue
		}
		port, ok := p.int("port")
		if !ok || port <= 0 || port > math.MaxUint16 {
			continue
		}
		ip, err := netip.ParseAddr(ipStr)
		if err != nil {
			// Some trackers send the address as 4 or 16 raw bytes.
			var ok bool
			if ip, ok = netip.AddrFromSlice([]byte(ipStr)); !ok {
				continue
			}
		}
		peers = append(peers, netip.AddrPortFrom(ip.Unmap().WithZone(""), uint16(port)))
	}
	return peers, nil
}

// scrapeKey returns the info-hash a "files" key names. Besides the 20 raw
// bytes BEP 48 specifies, it accepts the 20 bytes encoded as UTF-8 code
// points U+0000–U+00FF, which webtorrent's bittorrent-tracker (11.x) sends
// for hashes with bytes of 0x80 and above.
func scrapeKey(k string) (metainfo.Hash, bool) {
	var h metainfo.Hash
	if len(k) == len(h) {
		copy(h[:], k)
		return h, true
	}
	if len(k) > 2*len(h) || !utf8.ValidString(k) || utf8.RuneCountInString(k) != len(h) {
		return h, false
	}
	i := 0
	for _, r := range k {
		if r > 0xff {
			return h, false
		}
		h[i] = byte(r)
		i++
	}
	return h, true
}

// ParseScrapeResponse parses the bencoded body of an HTTP scrape reply (BEP
// 48). Entries whose key is not an info-hash are skipped; counts that are
// absent or invalid are 0. BEP 21's "downloaders", if present and valid,
// sets Downloaders and HasDownloaders.
func ParseScrapeResponse(body []byte) (map[metainfo.Hash]ScrapeStats, error) {
	d, err := decodeDict(body, "scrape")
	if err != nil {
		return nil, err
	}
	if err := d.failure(); err != nil {
		return nil, err
	}
	out := make(map[metainfo.Hash]ScrapeStats)
	raw, ok := d["files"]
	if !ok {
		return out, nil
	}
	var files map[string]bencode.RawMessage
	if err := bencode.Unmarshal(raw, &files); err != nil {
		return nil, &MalformedError{Field: "files", Err: err}
	}
	for k, e := range files {
		var f rawDict
		ih, ok := scrapeKey(k)
		if !ok || bencode.Unmarshal(e, &f) != nil {
			continue
		}
		st := ScrapeStats{
			Complete:   max(f.count("complete"), 0),
			Incomplete: max(f.count("incomplete"), 0),
			Downloaded: max(f.count("downloaded"), 0),
		}
		if n := f.count("downloaders"); n >= 0 {
			st.Downloaders, st.HasDownloaders = n, true
		}
		out[ih] = st
	}
	return out, nil
}
