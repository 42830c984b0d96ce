package tracker

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/bittern/bittern/metainfo"
)

func FuzzParseAnnounceResponse(f *testing.F) {
	for _, s := range []string{
		"d8:completei5e10:incompletei7e8:intervali1800e5:peers6:\x0a\x00\x00\x01\x1a\xe1e",
		"d8:intervali60e5:peersld2:ip7:1.2.3.47:peer id20:aaaaaaaaaaaaaaaaaaaa4:porti1eeee",
		"d11:external ip4:\x01\x02\x03\x048:intervali10e5:peers0:6:peers618:\xfd\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x01\x00\x07e",
		"d14:failure reason11:not allowede",
		"d8:intervali60e12:min intervali30e10:tracker id3:abc15:warning message1:we",
	} {
		f.Add([]byte(s))
	}
	// Our own server's replies.
	srv := NewServer(nil)
	for i := range 3 {
		_, _ = srv.announce(ann(testIH, byte(i), "1.2.3.4:5", 1, EventStarted))
		_, _ = srv.announce(ann(testIH, byte(10+i), "[fd00::1]:5", 1, EventStarted))
	}
	f.Add(srv.httpAnnounceBody(testIH, true))
	f.Add(srv.httpAnnounceBody(testIH, false))
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := ParseAnnounceResponse(b)
		if err != nil {
			return
		}
		if r.Interval <= 0 || r.Interval > maxInterval {
			t.Fatalf("interval %v out of range", r.Interval)
		}
		seen := map[netip.AddrPort]bool{}
		for _, p := range r.Peers {
			if !p.IsValid() || p.Port() == 0 || seen[p] || p.Addr().Is4In6() {
				t.Fatalf("bad peer %v", p)
			}
			seen[p] = true
		}
	})
}

// httpAnnounceBody returns the body the server sends a new peer.
func (s *Server) httpAnnounceBody(ih metainfo.Hash, compact bool) []byte {
	res, _ := s.announce(ann(ih, 99, "9.9.9.9:9", 1, EventNone))
	return s.encodeAnnounce(res, netip.MustParseAddr("9.9.9.9"), compact, false)
}

func FuzzParseScrapeResponse(f *testing.F) {
	f.Add([]byte("d5:filesd20:xxxxxxxxxxxxxxxxxxxxd8:completei11e10:downloadedi13772e10:incompletei19eeee"))
	f.Add([]byte("d14:failure reason4:nopee"))
	f.Add([]byte("de"))
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := ParseScrapeResponse(b)
		if err != nil {
			return
		}
		for _, st := range m {
			if st.Complete < 0 || st.Incomplete < 0 || st.Downloaded < 0 {
				t.Fatalf("negative count %+v", st)
			}
		}
	})
}

// FuzzUDPReply feeds arbitrary packets to the client-side parser.
func FuzzUDPReply(f *testing.F) {
	f.Add(appendUDPConnectReply(nil, 1, 2), false)
	f.Add(appendUDPAnnounceReply(nil, 1, 60, 2, 3, []netip.AddrPort{netip.MustParseAddrPort("1.2.3.4:5")}, false), false)
	f.Add(appendUDPAnnounceReply(nil, 1, 60, 2, 3, []netip.AddrPort{netip.MustParseAddrPort("[::1]:5")}, true), true)
	f.Add(appendUDPScrapeReply(nil, 1, []ScrapeStats{{Complete: 1, Incomplete: 2, Downloaded: 3}}), false)
	f.Add(appendUDPError(nil, 1, "no"), false)
	f.Fuzz(func(t *testing.T, b []byte, ipv6 bool) {
		r, err := parseUDPReply(b, ipv6)
		if err != nil {
			return
		}
		stride := 6
		if ipv6 {
			stride = 18
		}
		if r.action == actionAnnounce && len(r.peers) > (len(b)-20)/stride {
			t.Fatalf("%d peers from %d bytes", len(r.peers), len(b))
		}
	})
}

// FuzzUDPServer feeds arbitrary packets to the server: it must not panic,
// and a packet without a valid connection ID must never get a reply larger
// than itself.
func FuzzUDPServer(f *testing.F) {
	a := udpAnnounce{connID: 1, tid: 2, infoHash: testIH, port: 3, numWant: -1, urlData: "/announce?x=1"}
	f.Add(appendUDPConnect(nil, 7), false)
	f.Add(appendUDPAnnounce(nil, &a), true)
	paused := a
	paused.event, paused.left = EventPaused, 5
	f.Add(appendUDPAnnounce(nil, &paused), true)
	f.Add(appendUDPScrape(nil, 1, 2, [][20]byte{testIH, {1}}), true)
	s := NewServer(nil)
	for i := range 5 {
		_, _ = s.announce(ann(testIH, byte(i), "1.2.3.4:5", 1, EventStarted))
	}
	from := netip.MustParseAddrPort("10.1.1.1:1000")
	now := time.Unix(1_800_000_000, 0)
	valid := s.connID(from.Addr(), connIDWindowAt(now))
	f.Fuzz(func(t *testing.T, b []byte, useValidID bool) {
		if useValidID && len(b) >= 16 {
			b = append(appendU64(nil, valid), b[8:]...)
		}
		rep := s.handleUDP(nil, b, from, now)
		checkSwarmCounts(t, s)
		authed := len(b) >= 8 && s.validConnID(from.Addr(), binaryU64(b), now)
		if !authed && len(rep) > len(b) {
			t.Fatalf("amplification: %d-byte reply to %d-byte request %x", len(rep), len(b), b)
		}
		req, ok := parseUDPRequest(b)
		if !ok {
			if len(rep) > 0 {
				t.Fatalf("reply %x to a request that does not parse", rep)
			}
			return
		}
		// Every reply is one a client can parse, for the request's
		// transaction ID.
		if len(rep) > 0 {
			r, err := parseUDPReply(rep, false)
			if err != nil || r.tid != req.tid {
				t.Fatalf("reply %x: %v (tid %d, want %d)", rep, err, r.tid, req.tid)
			}
		}
		// A parsed announce encodes back to a packet that parses the same.
		if req.action == actionAnnounce {
			again, ok := parseUDPRequest(appendUDPAnnounce(nil, &req.announce))
			if !ok || again.announce != req.announce {
				t.Fatalf("announce round trip: %+v became %+v", req.announce, again.announce)
			}
		}
	})
}

// FuzzReadBody feeds arbitrary HTTP reply bodies, gzip-labelled or not, to
// the client's body reader: it must not panic, must never return more than
// the limit, and must read a gzip body it could decompress within the limit
// back to the original bytes.
func FuzzReadBody(f *testing.F) {
	const limit = 4096
	f.Add([]byte("d8:intervali60ee"), false, false)
	f.Add([]byte("d8:intervali60ee"), true, true)
	f.Add(bytes.Repeat([]byte{'a'}, 2*limit), true, false)
	f.Add(gzipped(bytes.Repeat([]byte{'a'}, 100*limit)), false, true)
	f.Fuzz(func(t *testing.T, body []byte, compress, header bool) {
		in := body
		if compress {
			in = gzipped(body)
		}
		resp := &http.Response{Header: http.Header{}, Body: io.NopCloser(bytes.NewReader(in))}
		if header {
			resp.Header.Set("Content-Encoding", "gzip")
		}
		out, err := readBody(resp, limit)
		if len(out) > limit {
			t.Fatalf("%d bytes returned over a %d-byte limit", len(out), limit)
		}
		if compress && len(in) <= limit && len(body) <= limit && (err != nil || !bytes.Equal(out, body)) {
			t.Fatalf("gzip body of %d bytes read as %d bytes, %v", len(body), len(out), err)
		}
		if err != nil && !errors.Is(err, ErrResponseTooLarge) && !errors.Is(err, ErrMalformed) {
			t.Fatalf("unexpected error %v", err)
		}
	})
}

func binaryU64(b []byte) uint64 {
	var v uint64
	for _, c := range b[:8] {
		v = v<<8 | uint64(c)
	}
	return v
}

// FuzzHTTPServer feeds arbitrary queries to the HTTP handler: it must not
// panic, and every reply must be a valid announce/scrape reply or refusal.
func FuzzHTTPServer(f *testing.F) {
	q := "info_hash=" + string(escapeBinary(nil, testIH[:])) + "&peer_id=" + string(escapeBinary(nil, []byte("-XX0000-bbbbbbbbbbbb"))) + "&port=1&left=5"
	f.Add("/announce", q)
	f.Add("/announce", q+"&compact=0&numwant=3&event=completed&ip=1.2.3.4")
	f.Add("/announce", q+"&event=paused")
	f.Add("/scrape", "info_hash="+string(escapeBinary(nil, testIH[:])))
	f.Add("/announce", "info_hash=%zz;&&=")
	s := NewServer(&ServerConfig{TrustClientIP: true})
	f.Fuzz(func(t *testing.T, path, rawQuery string) {
		req := &http.Request{Method: "GET", URL: &url.URL{Path: path, RawQuery: rawQuery}, RemoteAddr: "10.0.0.1:5000", Header: http.Header{}}
		rec := httptest.NewRecorder()
		s.ServeHTTP(rec, req)
		checkSwarmCounts(t, s)
		if rec.Code != http.StatusOK {
			return
		}
		var err error
		if strings.HasSuffix(path, "/scrape") {
			_, err = ParseScrapeResponse(rec.Body.Bytes())
		} else {
			_, err = ParseAnnounceResponse(rec.Body.Bytes())
		}
		var fe *FailureError
		if err != nil && !errors.As(err, &fe) {
			t.Fatalf("reply %q does not parse: %v", rec.Body.String(), err)
		}
	})
}
