package metainfo

import (
	"encoding/base32"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/url"
	"sort"
	"strconv"
	"strings"
)

// ErrMagnet is wrapped by every error ParseMagnet returns.
var ErrMagnet = errors.New("metainfo: invalid magnet link")

// MaxMagnetLength is the longest magnet link ParseMagnet accepts, in bytes.
const MaxMagnetLength = 1 << 16

// Magnet is a parsed magnet link (BEP 9, with BEP 53 file selection and
// BEP 52 "btmh" v2 info-hashes). A hybrid torrent's link carries both
// hashes.
type Magnet struct {
	InfoHash    Hash       // xt=urn:btih: (v1; zero if absent)
	InfoHashV2  HashV2     // xt=urn:btmh:1220… (v2; zero if absent)
	Name        string     // dn
	Trackers    []string   // tr, in order
	WebSeeds    []string   // ws
	Peers       []string   // x.pe, as "host:port"
	SelectOnly  []Range    // so (BEP 53): file indexes to download
	ExactLength int64      // xl; 0 if absent
	Extra       url.Values // any other parameters, kept for String
}

// Range is an inclusive range of file indexes, First <= Last.
type Range struct{ First, Last int }

// SwarmHash returns the 20-byte hash used on the wire: the v1 info-hash if
// present, else the truncated v2 one.
func (m *Magnet) SwarmHash() Hash {
	if !m.InfoHash.IsZero() {
		return m.InfoHash
	}
	return m.InfoHashV2.Truncate()
}

// Selected reports whether file index i is selected by SelectOnly; with no
// selection every file is.
func (m *Magnet) Selected(i int) bool {
	if len(m.SelectOnly) == 0 {
		return true
	}
	for _, r := range m.SelectOnly {
		if i >= r.First && i <= r.Last {
			return true
		}
	}
	return false
}

func magnetErr(msg string) error { return detail(ErrMagnet, msg) }

// ParseMagnet parses a magnet URI. It needs at least one BitTorrent
// info-hash: "xt=urn:btih:" with 40 hex or 32 base32 digits, or
// "xt=urn:btmh:" with a SHA-256 multihash ("1220" and 64 hex digits).
// Malformed peer addresses and lengths are ignored, as other clients do.
func ParseMagnet(s string) (*Magnet, error) {
	if len(s) > MaxMagnetLength {
		return nil, magnetErr("longer than " + strconv.Itoa(MaxMagnetLength) + " bytes")
	}
	const prefix = "magnet:?"
	if len(s) < len(prefix) || !strings.EqualFold(s[:len(prefix)], prefix) {
		return nil, magnetErr(`does not start with "magnet:?"`)
	}
	m := &Magnet{}
	var haveV1, haveV2 bool
	for _, kv := range strings.Split(s[len(prefix):], "&") {
		if kv == "" {
			continue
		}
		k, v, _ := strings.Cut(kv, "=")
		key, err := url.QueryUnescape(k)
		if err != nil {
			return nil, magnetErr("bad escape in key " + strconv.Quote(k))
		}
		val, err := url.QueryUnescape(v)
		if err != nil {
			return nil, magnetErr("bad escape in " + key)
		}
		// Some clients number repeated keys: tr.1, tr.2, xt.1 …
		base := key
		if i := strings.IndexByte(key, '.'); i > 0 && key != "x.pe" {
			if _, err := strconv.Atoi(key[i+1:]); err == nil {
				base = key[:i]
			}
		}
		switch base {
		case "xt":
			switch {
			case hasPrefixFold(val, "urn:btih:"):
				h, err := parseBTIH(val[len("urn:btih:"):])
				if err != nil {
					return nil, err
				}
				if haveV1 && h != m.InfoHash {
					return nil, magnetErr("two different btih info-hashes")
				}
				m.InfoHash, haveV1 = h, true
			case hasPrefixFold(val, "urn:btmh:"):
				h, err := parseBTMH(val[len("urn:btmh:"):])
				if err != nil {
					return nil, err
				}
				if haveV2 && h != m.InfoHashV2 {
					return nil, magnetErr("two different btmh info-hashes")
				}
				m.InfoHashV2, haveV2 = h, true
			default:
				m.addExtra(key, val)
			}
		case "dn":
			m.Name = val
		case "tr":
			if val != "" {
				m.Trackers = append(m.Trackers, val)
			}
		case "ws":
			if val != "" {
				m.WebSeeds = append(m.WebSeeds, val)
			}
		case "x.pe":
			if p, ok := parsePeer(val); ok {
				m.Peers = append(m.Peers, p)
			}
		case "so":
			r, err := parseRanges(val)
			if err != nil {
				return nil, err
			}
			m.SelectOnly = append(m.SelectOnly, r...)
		case "xl":
			if n, err := strconv.ParseInt(val, 10, 64); err == nil && n > 0 {
				m.ExactLength = n
			}
		default:
			m.addExtra(key, val)
		}
	}
	if !haveV1 && !haveV2 {
		return nil, magnetErr("no btih or btmh info-hash (xt)")
	}
	if (haveV1 && m.InfoHash.IsZero()) || (haveV2 && m.InfoHashV2.IsZero()) {
		return nil, magnetErr("all-zero info-hash")
	}
	return m, nil
}

func (m *Magnet) addExtra(k, v string) {
	if m.Extra == nil {
		m.Extra = url.Values{}
	}
	m.Extra.Add(k, v)
}

func hasPrefixFold(s, prefix string) bool {
	return len(s) >= len(prefix) && strings.EqualFold(s[:len(prefix)], prefix)
}

func parseBTIH(s string) (Hash, error) {
	var h Hash
	switch len(s) {
	case 40:
		if _, err := hex.Decode(h[:], []byte(s)); err != nil {
			return h, magnetErr("btih is not hex")
		}
	case 32:
		b, err := base32.StdEncoding.DecodeString(strings.ToUpper(s))
		if err != nil || len(b) != len(h) {
			return h, magnetErr("btih is not base32")
		}
		copy(h[:], b)
	default:
		return h, magnetErr("btih must be 40 hex or 32 base32 digits")
	}
	return h, nil
}

func parseBTMH(s string) (HashV2, error) {
	var h HashV2
	// multihash: 0x12 (sha2-256), 0x20 (32 bytes), digest
	if len(s) != 68 || !strings.EqualFold(s[:4], "1220") {
		return h, magnetErr("btmh must be a SHA-256 multihash: 1220 and 64 hex digits")
	}
	if _, err := hex.Decode(h[:], []byte(s[4:])); err != nil {
		return h, magnetErr("btmh is not hex")
	}
	return h, nil
}

func parsePeer(s string) (string, bool) {
	host, port, err := net.SplitHostPort(s)
	if err != nil || host == "" {
		return "", false
	}
	p, err := strconv.Atoi(port)
	if err != nil || p <= 0 || p > 65535 {
		return "", false
	}
	return net.JoinHostPort(host, strconv.Itoa(p)), true
}

// maxRanges bounds the number of "so" ranges in one link.
const maxRanges = 4096

func parseRanges(s string) ([]Range, error) {
	var out []Range
	for _, part := range strings.Split(s, ",") {
		if part == "" {
			continue
		}
		if len(out) >= maxRanges {
			return nil, magnetErr("too many so ranges")
		}
		a, b, isRange := strings.Cut(part, "-")
		if !isRange {
			b = a
		}
		first, err1 := strconv.Atoi(a)
		last, err2 := strconv.Atoi(b)
		if !isDigits(a) || !isDigits(b) || err1 != nil || err2 != nil || last < first {
			return nil, magnetErr("bad so range " + strconv.Quote(part))
		}
		out = append(out, Range{first, last})
	}
	return out, nil
}

// String formats m as a magnet URI: xt (btih as hex, then btmh), dn, xl, tr,
// ws, x.pe, so, then any Extra parameters in key order.
func (m *Magnet) String() string {
	var b strings.Builder
	b.WriteString("magnet:?")
	sep := false
	add := func(k, v string) {
		if sep {
			b.WriteByte('&')
		}
		sep = true
		b.WriteString(k)
		b.WriteByte('=')
		b.WriteString(v)
	}
	if !m.InfoHash.IsZero() {
		add("xt", "urn:btih:"+m.InfoHash.String())
	}
	if !m.InfoHashV2.IsZero() {
		add("xt", "urn:btmh:1220"+m.InfoHashV2.String())
	}
	if m.Name != "" {
		add("dn", url.QueryEscape(m.Name))
	}
	if m.ExactLength > 0 {
		add("xl", strconv.FormatInt(m.ExactLength, 10))
	}
	for _, t := range m.Trackers {
		add("tr", url.QueryEscape(t))
	}
	for _, w := range m.WebSeeds {
		add("ws", url.QueryEscape(w))
	}
	for _, p := range m.Peers {
		// Peers keep their ':', '[' and ']' readable: libtorrent does not
		// decode an escaped x.pe.
		add("x.pe", escapeKeep(p, ":[]"))
	}
	if len(m.SelectOnly) > 0 {
		parts := make([]string, len(m.SelectOnly))
		for i, r := range m.SelectOnly {
			parts[i] = strconv.Itoa(r.First)
			if r.Last != r.First {
				parts[i] += "-" + strconv.Itoa(r.Last)
			}
		}
		add("so", strings.Join(parts, ","))
	}
	keys := make([]string, 0, len(m.Extra))
	for k := range m.Extra {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		for _, v := range m.Extra[k] {
			add(url.QueryEscape(k), url.QueryEscape(v))
		}
	}
	return b.String()
}

// Magnet returns a magnet link for the torrent: its info-hashes, name,
// trackers (all tiers, in order), web seeds and exact length.
func (mi *MetaInfo) Magnet() *Magnet {
	m := &Magnet{InfoHash: mi.hashV1, InfoHashV2: mi.hashV2}
	if mi.info != nil {
		m.Name = mi.info.Name
	}
	for _, tier := range mi.Trackers() {
		m.Trackers = append(m.Trackers, tier...)
	}
	m.WebSeeds = append(m.WebSeeds, mi.URLList...)
	return m
}

func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// escapeKeep query-escapes s but leaves the bytes in keep as they are.
func escapeKeep(s, keep string) string {
	e := url.QueryEscape(s)
	for i := 0; i < len(keep); i++ {
		enc := fmt.Sprintf("%%%02X", keep[i])
		e = strings.ReplaceAll(e, enc, keep[i:i+1])
	}
	return e
}
