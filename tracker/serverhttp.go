package tracker

import (
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"

	"github.com/bittern/bittern/bencode"
	"github.com/bittern/bittern/metainfo"
)

// ServeHTTP serves announces at any path ending in "/announce" and scrapes
// at any path ending in "/scrape" (BEP 3, 7, 21, 23, 24, 48). Refusals are
// bencoded "failure reason" replies with status 200, as clients expect.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	var body []byte
	switch {
	case strings.HasSuffix(r.URL.Path, "/announce"):
		body = s.httpAnnounce(r)
	case strings.HasSuffix(r.URL.Path, "/scrape"):
		body = s.httpScrape(r)
	default:
		http.NotFound(w, r)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/plain")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	h.Set("Cache-Control", "no-cache")
	_, _ = w.Write(body)
}

func failureBody(reason string) []byte {
	b := append([]byte("d"), "14:failure reason"...)
	b = bencode.AppendString(b, reason)
	return append(b, 'e')
}

// parseQuery splits a query string like url.ParseQuery, except that "+"
// stays a plus: info_hash and peer_id are binary, and a client that leaves
// a 0x2B byte unescaped means that byte, not a space. Pairs that do not
// unescape are skipped.
func parseQuery(raw string) url.Values {
	v := make(url.Values)
	for raw != "" {
		var pair string
		pair, raw, _ = strings.Cut(raw, "&")
		if pair == "" {
			continue
		}
		k, val, _ := strings.Cut(pair, "=")
		k, err1 := url.PathUnescape(k)
		val, err2 := url.PathUnescape(val)
		if err1 != nil || err2 != nil {
			continue
		}
		v[k] = append(v[k], val)
	}
	return v
}

// queryHash reads a 20-byte binary query value.
func queryHash(v string) ([20]byte, bool) {
	var h [20]byte
	if len(v) != 20 {
		return h, false
	}
	copy(h[:], v)
	return h, true
}

func (s *Server) httpAnnounce(r *http.Request) []byte {
	q := parseQuery(r.URL.RawQuery)
	ih, ok := queryHash(q.Get("info_hash"))
	if !ok {
		return failureBody("invalid info_hash")
	}
	id, ok := queryHash(q.Get("peer_id"))
	if !ok {
		return failureBody("invalid peer_id")
	}
	port, err := strconv.ParseUint(q.Get("port"), 10, 16)
	if err != nil || port == 0 {
		return failureBody("invalid port")
	}
	left, err := strconv.ParseInt(q.Get("left"), 10, 64)
	if err != nil || left < 0 {
		return failureBody("invalid left")
	}
	// Unknown events are regular announces.
	ev, _ := ParseEvent(q.Get("event"))
	numWant := -1
	if v := q.Get("numwant"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			return failureBody("invalid numwant")
		}
		if n >= 0 { // some clients send -1 for "the default"
			numWant = n
		}
	}
	src, err := netip.ParseAddrPort(r.RemoteAddr)
	if err != nil {
		return failureBody("unknown source address")
	}
	ip := src.Addr().Unmap()
	if s.cfg.TrustClientIP {
		claim := q.Get("ip")
		for _, k := range []string{"ipv6", "ipv4"} { // BEP 7
			if claim == "" {
				claim = q.Get(k)
			}
		}
		if claimed, err := netip.ParseAddr(claim); err == nil {
			ip = claimed.Unmap()
		}
	}
	res, err := s.announce(&serverAnnounce{
		infoHash: ih,
		peerID:   id,
		addr:     netip.AddrPortFrom(ip, uint16(port)),
		key:      q.Get("key"),
		left:     left,
		event:    ev,
		numWant:  numWant,
		want4:    true,
		want6:    true,
	})
	if err != nil {
		return failureBody(err.Error())
	}
	return s.encodeAnnounce(res, src.Addr().Unmap(), q.Get("compact") != "0", q.Get("no_peer_id") == "1")
}

// encodeAnnounce encodes an announce reply; ext is the client's address as
// seen (BEP 24).
func (s *Server) encodeAnnounce(res announceResult, ext netip.Addr, compact, noPeerID bool) []byte {
	// Keys in sorted order (canonical bencode).
	b := make([]byte, 0, 128+len(res.peers)*20)
	b = append(b, 'd')
	b = bencode.AppendString(b, "complete")
	b = bencode.AppendInt(b, int64(res.seeders))
	b = bencode.AppendString(b, "external ip")
	b = bencode.AppendBytes(b, addrBytes(ext))
	b = bencode.AppendString(b, "incomplete")
	b = bencode.AppendInt(b, int64(res.leechers))
	b = bencode.AppendString(b, "interval")
	b = bencode.AppendInt(b, int64(s.cfg.Interval.Seconds()))
	if s.cfg.MinInterval > 0 {
		b = bencode.AppendString(b, "min interval")
		b = bencode.AppendInt(b, int64(s.cfg.MinInterval.Seconds()))
	}
	b = bencode.AppendString(b, "peers")
	if compact {
		var v4, v6 []netip.AddrPort
		for _, p := range res.peers {
			if p.addr.Addr().Is4() {
				v4 = append(v4, p.addr)
			} else {
				v6 = append(v6, p.addr)
			}
		}
		b = bencode.AppendBytes(b, appendCompact4(nil, v4))
		if len(v6) > 0 {
			b = bencode.AppendString(b, "peers6")
			b = bencode.AppendBytes(b, appendCompact6(nil, v6))
		}
	} else {
		b = append(b, 'l')
		for _, p := range res.peers {
			b = append(b, 'd')
			b = bencode.AppendString(b, "ip")
			b = bencode.AppendString(b, p.addr.Addr().String())
			if !noPeerID {
				b = bencode.AppendString(b, "peer id")
				b = bencode.AppendBytes(b, p.id[:])
			}
			b = bencode.AppendString(b, "port")
			b = bencode.AppendInt(b, int64(p.addr.Port()))
			b = append(b, 'e')
		}
		b = append(b, 'e')
	}
	return append(b, 'e')
}

func addrBytes(a netip.Addr) []byte {
	if a.Is4() {
		b := a.As4()
		return b[:]
	}
	b := a.As16()
	return b[:]
}

func (s *Server) httpScrape(r *http.Request) []byte {
	vals := parseQuery(r.URL.RawQuery)["info_hash"]
	if len(vals) == 0 {
		return failureBody("full scrape not supported")
	}
	if len(vals) > MaxScrapeHashes {
		return failureBody("too many info_hash values")
	}
	hashes := make([]metainfo.Hash, 0, len(vals))
	for _, v := range vals {
		h, ok := queryHash(v)
		if !ok {
			return failureBody("invalid info_hash")
		}
		hashes = append(hashes, h)
	}
	m, err := s.scrape(hashes)
	if err != nil {
		return failureBody(err.Error())
	}
	files := make(map[string]scrapeFile, len(m))
	for ih, st := range m {
		files[string(ih[:])] = scrapeFile{Complete: st.Complete, Incomplete: st.Incomplete,
			Downloaded: st.Downloaded, Downloaders: st.Downloaders}
	}
	b, err := bencode.Marshal(scrapeReply{Files: files})
	if err != nil {
		return failureBody("internal error")
	}
	return b
}

type scrapeReply struct {
	Files map[string]scrapeFile `bencode:"files"`
}

// scrapeFile is one swarm of an HTTP scrape reply; "downloaders" is BEP
// 21's.
type scrapeFile struct {
	Complete    int `bencode:"complete"`
	Incomplete  int `bencode:"incomplete"`
	Downloaded  int `bencode:"downloaded"`
	Downloaders int `bencode:"downloaders"`
}
