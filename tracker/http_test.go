package tracker

import (
	"bytes"
	"compress/gzip"
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/stretchr/testify/require"

	"github.com/bittern/bittern/bencode"
	"github.com/bittern/bittern/metainfo"
)

func TestEscapeBinary(t *testing.T) {
	b := []byte{0x12, 0x34, 0x56, 0x78, 0x9a, 0xbc, 0xde, 0xf1, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef, 0x12, 0x34, 0x56, 0x78, 0x9a}
	// The example from the BitTorrent specification (wiki.theory.org).
	require.Equal(t, "%124Vx%9A%BC%DE%F1%23Eg%89%AB%CD%EF%124Vx%9A", string(escapeBinary(nil, b)))
	require.Equal(t, "aZ09-._~%20%2B%2F%00%FF", string(escapeBinary(nil, []byte("aZ09-._~ +/\x00\xff"))))
}

func TestScrapeURL(t *testing.T) {
	for in, want := range map[string]string{
		"http://example.com/announce":          "http://example.com/scrape",
		"http://example.com/x/announce":        "http://example.com/x/scrape",
		"http://example.com/announce.php":      "http://example.com/scrape.php",
		"http://example.com/announce?x2%0644":  "http://example.com/scrape?x2%0644",
		"http://example.com/announce?pk=a&b=c": "http://example.com/scrape?pk=a&b=c",
	} {
		got, err := ScrapeURL(in)
		require.NoError(t, err, in)
		require.Equal(t, want, got, in)
	}
	for _, in := range []string{"http://example.com/a", "http://example.com/x%064announce", "http://example.com/announce/x"} {
		_, err := ScrapeURL(in)
		require.ErrorIs(t, err, ErrNoScrape, in)
	}
}

func TestHTTPAnnounceRequest(t *testing.T) {
	var got *http.Request
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = r
		w.Write([]byte("d8:intervali900e12:min intervali60e10:tracker id3:abc5:peers6:\x01\x02\x03\x04\x00\x50e"))
	}))
	defer ts.Close()
	var logBuf bytes.Buffer
	logger := slog.New(slog.NewTextHandler(&logBuf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	tr, err := NewHTTP(ts.URL+"/announce?passkey=s3cret", &Config{Logger: logger})
	require.NoError(t, err)
	ih := metainfo.Hash{0x00, 0x20, 0xff, 'a', '+', '%', '&'}
	req := AnnounceRequest{InfoHash: ih, PeerID: peerID(0x7e), Port: 6881, Uploaded: 1, Downloaded: 2, Left: 3,
		Event: EventStarted, NumWant: 30, Key: 0xdeadbeef, IP: netip.MustParseAddr("::ffff:1.2.3.4")}
	r, err := tr.Announce(t.Context(), req)
	require.NoError(t, err)
	require.Equal(t, 15*time.Minute, r.Interval)
	require.Equal(t, time.Minute, r.MinInterval)
	require.Equal(t, []netip.AddrPort{netip.MustParseAddrPort("1.2.3.4:80")}, r.Peers)
	require.Equal(t, -1, r.Seeders)

	q := got.URL.Query()
	require.Equal(t, string(ih[:]), q.Get("info_hash"))
	id := peerID(0x7e)
	require.Equal(t, string(id[:]), q.Get("peer_id"))
	for k, v := range map[string]string{"passkey": "s3cret", "port": "6881", "uploaded": "1", "downloaded": "2",
		"left": "3", "event": "started", "numwant": "30", "key": "DEADBEEF", "compact": "1", "ip": "1.2.3.4"} {
		require.Equal(t, v, q.Get(k), k)
	}
	require.Equal(t, "bittern", got.UserAgent())
	require.False(t, q.Has("trackerid"))

	// The tracker id is sent back; stopped asks for no peers.
	_, err = tr.Announce(t.Context(), AnnounceRequest{InfoHash: ih, Event: EventStopped, NumWant: 50})
	require.NoError(t, err)
	q = got.URL.Query()
	require.Equal(t, "abc", q.Get("trackerid"))
	require.Equal(t, "0", q.Get("numwant"))
	require.Equal(t, "stopped", q.Get("event"))
	require.False(t, q.Has("key"))
	require.Contains(t, logBuf.String(), "msg=announce")
	require.Contains(t, logBuf.String(), "event=stopped")
}

func TestParseAnnounceResponse(t *testing.T) {
	cases := []struct {
		name string
		body string
		want *AnnounceResponse
	}{
		{"compact", "d8:completei5e10:incompletei7e8:intervali1800e5:peers12:\x0a\x00\x00\x01\x1a\xe1\x0a\x00\x00\x02\x1a\xe2e",
			&AnnounceResponse{Interval: 30 * time.Minute, Seeders: 5, Leechers: 7, Peers: []netip.AddrPort{
				netip.MustParseAddrPort("10.0.0.1:6881"), netip.MustParseAddrPort("10.0.0.2:6882")}}},
		{"dictionary", "d8:intervali60e5:peersld2:ip7:1.2.3.47:peer id20:aaaaaaaaaaaaaaaaaaaa4:porti1eed2:ip3:::14:porti2eed2:ip11:example.com4:porti3eed2:ip4:\x05\x06\x07\x084:porti4eed4:porti5eed2:ip1:x4:porti0eeee",
			&AnnounceResponse{Interval: time.Minute, Seeders: -1, Leechers: -1, Peers: []netip.AddrPort{
				netip.MustParseAddrPort("1.2.3.4:1"), netip.MustParseAddrPort("[::1]:2"), netip.MustParseAddrPort("5.6.7.8:4")}}},
		{"peers6 and external ip", "d11:external ip4:\x01\x02\x03\x048:intervali10e5:peers0:6:peers618:\xfd\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x01\x00\x07e",
			&AnnounceResponse{Interval: 10 * time.Second, Seeders: -1, Leechers: -1, ExternalIP: netip.MustParseAddr("1.2.3.4"),
				Peers: []netip.AddrPort{netip.MustParseAddrPort("[fd00::1]:7")}}},
		{"warning, odd types, trailing bytes, duplicates", "d8:completei-1e8:interval3:abc5:peers14:\x01\x01\x01\x01\x00\x01\x01\x01\x01\x01\x00\x01xy15:warning message4:hmm!e",
			&AnnounceResponse{Interval: defaultInterval, Seeders: -1, Leechers: -1, Warning: "hmm!",
				Peers: []netip.AddrPort{netip.MustParseAddrPort("1.1.1.1:1")}}},
		{"huge interval", "d8:intervali99999999999999ee",
			&AnnounceResponse{Interval: maxInterval, Seeders: -1, Leechers: -1}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := ParseAnnounceResponse([]byte(c.body))
			require.NoError(t, err)
			if len(c.want.Peers) == 0 {
				c.want.Peers = got.Peers
				require.Empty(t, got.Peers)
			}
			require.Equal(t, c.want, got)
		})
	}

	_, err := ParseAnnounceResponse([]byte("d14:failure reason11:not allowede"))
	var fe *FailureError
	require.ErrorAs(t, err, &fe)
	require.Equal(t, "not allowed", fe.Reason)

	for _, bad := range []string{"", "i1e", "le", "d8:intervali1e", "d5:peersi1ee", "d5:peers3:abe", "<html>", "d8:intervali1ee trailing"} {
		_, err := ParseAnnounceResponse([]byte(bad))
		require.ErrorIs(t, err, ErrMalformed, "%q", bad)
	}
}

func TestParseScrapeResponse(t *testing.T) {
	// The example of BEP 48.
	body := "d5:filesd20:xxxxxxxxxxxxxxxxxxxxd8:completei11e10:downloadedi13772e10:incompletei19ee" +
		"20:yyyyyyyyyyyyyyyyyyyyd8:completei21e10:downloadedi206e10:incompletei20ee" +
		"3:badd8:completei1ee20:zzzzzzzzzzzzzzzzzzzzi5eee"
	got, err := ParseScrapeResponse([]byte(body))
	require.NoError(t, err)
	var x, y metainfo.Hash
	copy(x[:], strings.Repeat("x", 20))
	copy(y[:], strings.Repeat("y", 20))
	require.Equal(t, map[metainfo.Hash]ScrapeStats{
		x: {Complete: 11, Incomplete: 19, Downloaded: 13772},
		y: {Complete: 21, Incomplete: 20, Downloaded: 206},
	}, got)
	// webtorrent's tracker sends keys as UTF-8 of the bytes as code points.
	ih := metainfo.Hash{0xde, 0xec, 0x0a, 0x54, 0x80, 0xff, 19: 0x7f}
	var utf []byte
	for _, c := range ih {
		utf = utf8.AppendRune(utf, rune(c))
	}
	got, err = ParseScrapeResponse([]byte("d5:filesd" + strconv.Itoa(len(utf)) + ":" + string(utf) + "d8:completei3eeee"))
	require.NoError(t, err)
	require.Equal(t, map[metainfo.Hash]ScrapeStats{ih: {Complete: 3}}, got)
	got, err = ParseScrapeResponse([]byte("d5:filesd21:" + "\u0100" + strings.Repeat("a", 19) + "d8:completei3eeee"))
	require.NoError(t, err)
	require.Empty(t, got)
	_, err = ParseScrapeResponse([]byte("d14:failure reason4:nopee"))
	require.ErrorAs(t, err, new(*FailureError))
	_, err = ParseScrapeResponse([]byte("d5:filesi1ee"))
	require.ErrorIs(t, err, ErrMalformed)
	got, err = ParseScrapeResponse([]byte("de"))
	require.NoError(t, err)
	require.Empty(t, got)
}

func gzipped(b []byte) []byte {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	zw.Write(b)
	zw.Close()
	return buf.Bytes()
}

func TestHTTPTransport(t *testing.T) {
	ok := []byte("d8:intervali60e5:peers6:\x01\x02\x03\x04\x00\x01e")
	huge := append(append([]byte("d8:intervali60e5:peers600000:"), bytes.Repeat([]byte{1}, 600000)...), 'e')
	mux := http.NewServeMux()
	mux.HandleFunc("/gzip/announce", func(w http.ResponseWriter, r *http.Request) {
		require.Equal(t, "gzip", r.Header.Get("Accept-Encoding"))
		w.Header().Set("Content-Encoding", "gzip")
		w.Write(gzipped(ok))
	})
	mux.HandleFunc("/gzipsniff/announce", func(w http.ResponseWriter, r *http.Request) { w.Write(gzipped(ok)) })
	mux.HandleFunc("/bomb/announce", func(w http.ResponseWriter, r *http.Request) { w.Write(gzipped(huge)) })
	mux.HandleFunc("/big/announce", func(w http.ResponseWriter, r *http.Request) { w.Write(huge) })
	mux.HandleFunc("/redirect/announce", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/gzip/announce?"+r.URL.RawQuery, http.StatusFound)
	})
	mux.HandleFunc("/500/announce", func(w http.ResponseWriter, r *http.Request) { http.Error(w, "oops", 500) })
	mux.HandleFunc("/403/announce", func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(403)
		w.Write([]byte("d14:failure reason6:bannede"))
	})
	mux.HandleFunc("/truncated/announce", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "100")
		w.Write(ok[:10])
	})
	mux.HandleFunc("/badgzip/announce", func(w http.ResponseWriter, r *http.Request) {
		w.Write(gzipped(ok)[:15])
	})
	slow := make(chan struct{})
	mux.HandleFunc("/slow/announce", func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(200)
		w.Write([]byte("d8:inter"))
		w.(http.Flusher).Flush()
		select {
		case <-slow:
		case <-r.Context().Done():
		}
	})
	ts := httptest.NewServer(mux)
	defer ts.Close()
	defer close(slow)

	cfg := &Config{MaxResponseSize: 500000}
	announce := func(path string) (*AnnounceResponse, error) {
		tr, err := NewHTTP(ts.URL+path, cfg)
		require.NoError(t, err)
		ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
		defer cancel()
		return tr.Announce(ctx, AnnounceRequest{Port: 1})
	}
	for _, p := range []string{"/gzip/announce", "/gzipsniff/announce", "/redirect/announce"} {
		r, err := announce(p)
		require.NoError(t, err, p)
		require.Equal(t, []netip.AddrPort{netip.MustParseAddrPort("1.2.3.4:1")}, r.Peers, p)
	}
	_, err := announce("/bomb/announce")
	require.ErrorIs(t, err, ErrResponseTooLarge)
	_, err = announce("/big/announce")
	require.ErrorIs(t, err, ErrResponseTooLarge)
	_, err = announce("/500/announce")
	var se *StatusError
	require.ErrorAs(t, err, &se)
	require.Equal(t, 500, se.Code)
	_, err = announce("/403/announce")
	require.ErrorAs(t, err, new(*FailureError))
	_, err = announce("/nothere/announce")
	require.ErrorAs(t, err, &se)
	_, err = announce("/truncated/announce")
	require.Error(t, err)
	_, err = announce("/badgzip/announce")
	require.ErrorIs(t, err, ErrMalformed)

	tr, _ := NewHTTP(ts.URL+"/slow/announce", nil)
	ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer cancel()
	_, err = tr.Announce(ctx, AnnounceRequest{})
	require.ErrorIs(t, err, context.DeadlineExceeded)

	tr, _ = NewHTTP(ts.URL+"/x", nil)
	_, err = tr.Scrape(t.Context(), testIH)
	require.ErrorIs(t, err, ErrNoScrape)
}

func TestHTTPServerRoundTrip(t *testing.T) {
	srv := NewServer(&ServerConfig{Interval: 5 * time.Minute, MinInterval: time.Minute})
	ts := httptest.NewServer(srv)
	defer ts.Close()
	tr, err := NewHTTP(ts.URL+"/announce", nil)
	require.NoError(t, err)
	ctx := t.Context()
	r, err := tr.Announce(ctx, AnnounceRequest{InfoHash: testIH, PeerID: peerID(1), Port: 1111, Event: EventStarted})
	require.NoError(t, err)
	require.Equal(t, &AnnounceResponse{Interval: 5 * time.Minute, MinInterval: time.Minute, Seeders: 1, Leechers: 0,
		ExternalIP: netip.MustParseAddr("127.0.0.1"), Peers: r.Peers}, r)
	require.Empty(t, r.Peers)
	r, err = tr.Announce(ctx, AnnounceRequest{InfoHash: testIH, PeerID: peerID(2), Port: 2222, Left: 10, Event: EventStarted})
	require.NoError(t, err)
	require.Equal(t, []netip.AddrPort{netip.MustParseAddrPort("127.0.0.1:1111")}, r.Peers)

	// Dictionary form, with and without peer IDs.
	q := "info_hash=" + string(escapeBinary(nil, testIH[:])) + "&peer_id=" + string(escapeBinary(nil, []byte("-XX0000-bbbbbbbbbbbb"))) +
		"&port=3333&left=5&compact=0"
	body := httpGet(t, ts.URL+"/announce?"+q)
	var dict struct {
		Peers []struct {
			IP     string `bencode:"ip"`
			PeerID []byte `bencode:"peer id"`
			Port   int    `bencode:"port"`
		} `bencode:"peers"`
	}
	require.NoError(t, bencode.Unmarshal(body, &dict))
	require.Len(t, dict.Peers, 2)
	for _, p := range dict.Peers {
		require.Equal(t, "127.0.0.1", p.IP)
		require.Len(t, p.PeerID, 20)
	}
	body = httpGet(t, ts.URL+"/announce?"+q+"&no_peer_id=1")
	require.NotContains(t, string(body), "peer id")
	r2, err := ParseAnnounceResponse(body)
	require.NoError(t, err)
	require.Len(t, r2.Peers, 2)

	st, err := tr.Scrape(ctx, testIH, metainfo.Hash{1})
	require.NoError(t, err)
	require.Equal(t, map[metainfo.Hash]ScrapeStats{testIH: {Complete: 1, Incomplete: 2, Downloaders: 2, HasDownloaders: true}}, st)

	for _, bad := range []string{"", "info_hash=x", "info_hash=" + strings.Repeat("a", 20),
		"info_hash=" + strings.Repeat("a", 20) + "&peer_id=" + strings.Repeat("a", 20),
		"info_hash=" + strings.Repeat("a", 20) + "&peer_id=" + strings.Repeat("a", 20) + "&port=1&left=1&numwant=x",
		"info_hash=" + strings.Repeat("a", 20) + "&peer_id=" + strings.Repeat("a", 20) + "&port=1&left=-1",
	} {
		_, err := ParseAnnounceResponse(httpGet(t, ts.URL+"/announce?"+bad))
		require.ErrorAs(t, err, new(*FailureError), bad)
	}
	_, err = ParseScrapeResponse(httpGet(t, ts.URL+"/scrape"))
	require.ErrorAs(t, err, new(*FailureError))
	// An unescaped "+" in a binary parameter is a 0x2B byte.
	plusID := "-XX0000-+bbbbbbbbbbb"
	_, err = ParseAnnounceResponse(httpGet(t, ts.URL+"/announce?info_hash="+string(escapeBinary(nil, testIH[:]))+
		"&peer_id="+plusID+"&port=4444&left=5&compact=0"))
	require.NoError(t, err)
	body = httpGet(t, ts.URL+"/announce?"+q)
	require.Contains(t, string(body), plusID)
	require.Equal(t, url.Values{"a": {"1+2", "x"}, "b": {""}, "c;d": {"é"}}, parseQuery("a=1+2&&b&a=x&c;d=%C3%A9&bad=%zz"))

	// An unknown event is a regular announce.
	_, err = ParseAnnounceResponse(httpGet(t, ts.URL+"/announce?"+q+"&event=paused"))
	require.NoError(t, err)
	resp, err := http.Get(ts.URL + "/other")
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, 404, resp.StatusCode)
}

func httpGet(t *testing.T, u string) []byte {
	t.Helper()
	resp, err := http.Get(u)
	require.NoError(t, err)
	defer resp.Body.Close()
	var buf bytes.Buffer
	_, err = buf.ReadFrom(resp.Body)
	require.NoError(t, err)
	return buf.Bytes()
}

func TestHTTPServerIPv6AndClaimedIP(t *testing.T) {
	srv := NewServer(&ServerConfig{TrustClientIP: true})
	get := func(remote, query string) *AnnounceResponse {
		req := httptest.NewRequest("GET", "/announce?"+query, nil)
		req.RemoteAddr = remote
		rec := httptest.NewRecorder()
		srv.ServeHTTP(rec, req)
		r, err := ParseAnnounceResponse(rec.Body.Bytes())
		require.NoError(t, err, rec.Body.String())
		return r
	}
	base := "info_hash=" + string(escapeBinary(nil, testIH[:])) + "&left=1&peer_id="
	r := get("[fd00::5]:999", base+strings.Repeat("a", 20)+"&port=1")
	require.Equal(t, netip.MustParseAddr("fd00::5"), r.ExternalIP)
	get("10.0.0.7:999", base+strings.Repeat("b", 20)+"&port=2&ip=10.9.9.9")
	r = get("10.0.0.8:999", base+strings.Repeat("c", 20)+"&port=3")
	require.ElementsMatch(t, []netip.AddrPort{netip.MustParseAddrPort("[fd00::5]:1"), netip.MustParseAddrPort("10.9.9.9:2")}, r.Peers)
	require.Equal(t, 3, r.Leechers)
	get("10.0.0.8:999", base+strings.Repeat("d", 20)+"&port=4&ipv6=fd00::9")
	r = get("10.0.0.8:999", base+strings.Repeat("c", 20)+"&port=3")
	require.Contains(t, r.Peers, netip.MustParseAddrPort("[fd00::9]:4"))

	// The client sends an IPv6 address as ipv6=.
	tr, _ := NewHTTP("http://x/announce", nil)
	u := tr.AnnounceURL(AnnounceRequest{IP: netip.MustParseAddr("fd00::1")})
	require.Contains(t, u, "&ipv6=fd00%3A%3A1")
	require.NotContains(t, u, "&ip=")
}

// TestHTTPRedirects: a tracker that moved to another host is followed, with
// the binary parameters intact and gzip still negotiated; a redirect loop
// ends in an error (net/http's limit of 10 redirects), not a hang.
func TestHTTPRedirects(t *testing.T) {
	ok := []byte("d8:intervali60e5:peers6:\x01\x02\x03\x04\x00\x01e")
	var gotQuery url.Values
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		gotQuery = r.URL.Query()
		require.Equal(t, "gzip", r.Header.Get("Accept-Encoding"))
		w.Header().Set("Content-Encoding", "gzip")
		w.Write(gzipped(ok))
	}))
	defer target.Close()
	hops := 0
	var origin *httptest.Server
	origin = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/moved/announce":
			http.Redirect(w, r, target.URL+"/announce?"+r.URL.RawQuery, http.StatusMovedPermanently)
		case "/loop/announce":
			hops++
			http.Redirect(w, r, origin.URL+"/loop/announce?"+r.URL.RawQuery, http.StatusTemporaryRedirect)
		}
	}))
	defer origin.Close()

	tr, err := NewHTTP(origin.URL+"/moved/announce", nil)
	require.NoError(t, err)
	ih := metainfo.Hash{0x00, 0xff, '+', '&', '%', ' '}
	r, err := tr.Announce(t.Context(), AnnounceRequest{InfoHash: ih, PeerID: peerID(1), Port: 1})
	require.NoError(t, err)
	require.Equal(t, []netip.AddrPort{netip.MustParseAddrPort("1.2.3.4:1")}, r.Peers)
	require.Equal(t, string(ih[:]), gotQuery.Get("info_hash"))

	tr, err = NewHTTP(origin.URL+"/loop/announce", nil)
	require.NoError(t, err)
	_, err = tr.Announce(t.Context(), AnnounceRequest{InfoHash: ih, Port: 1})
	require.ErrorContains(t, err, "stopped after 10 redirects")
	require.Equal(t, 10, hops)
}
