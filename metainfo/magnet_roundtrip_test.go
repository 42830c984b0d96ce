package metainfo

import (
	"encoding/base32"
	"net/url"
	"reflect"
	"strings"
	"testing"
)

// Every parameter the issue lists round-trips on its own: parse, check the
// field, format, parse again to the same Magnet, and format again to the
// same text (BEP 9, BEP 53, BEP 52 btmh).
func TestMagnetRoundTripEachParameter(t *testing.T) {
	const v1 = "c0fda1edafdbdbb96443424e0b3899af7159d10e"
	const v2 = "597b180c1a170a585dfc5e85d834d69013ceda174b8f357d5bb1a0ca509faf0a"
	h1, _ := ParseHash(v1)
	h2, _ := ParseHashV2(v2)
	b32 := base32.StdEncoding.EncodeToString(h1[:])
	xt := "xt=urn:btih:" + v1
	tests := []struct {
		param string // query after "magnet:?"
		want  Magnet
	}{
		{"xt=urn:btih:" + v1, Magnet{InfoHash: h1}},
		{"xt=urn:btih:" + strings.ToUpper(v1), Magnet{InfoHash: h1}},
		{"xt=urn:btih:" + b32, Magnet{InfoHash: h1}},
		{"xt=urn:btih:" + strings.ToLower(b32), Magnet{InfoHash: h1}},
		{"xt=urn:btmh:1220" + v2, Magnet{InfoHashV2: h2}},
		{"xt=urn:btmh:1220" + strings.ToUpper(v2), Magnet{InfoHashV2: h2}},
		{"xt=urn:btih:" + v1 + "&xt=urn:btmh:1220" + v2, Magnet{InfoHash: h1, InfoHashV2: h2}},
		{"xt=urn:btmh:1220" + v2 + "&xt=urn:btih:" + b32, Magnet{InfoHash: h1, InfoHashV2: h2}},
		{xt + "&dn=" + url.QueryEscape("a name & more/ü?=%"), Magnet{InfoHash: h1, Name: "a name & more/ü?=%"}},
		{xt + "&dn=plain", Magnet{InfoHash: h1, Name: "plain"}},
		{xt + "&tr=" + url.QueryEscape("http://t.example/ann?key=1&x=y"),
			Magnet{InfoHash: h1, Trackers: []string{"http://t.example/ann?key=1&x=y"}}},
		{xt + "&tr=udp://a:1&tr=udp%3A%2F%2Fb%3A2&tr.3=http://c/announce",
			Magnet{InfoHash: h1, Trackers: []string{"udp://a:1", "udp://b:2", "http://c/announce"}}},
		{xt + "&ws=http://w.example/files/&ws=" + url.QueryEscape("https://x.example/a b/"),
			Magnet{InfoHash: h1, WebSeeds: []string{"http://w.example/files/", "https://x.example/a b/"}}},
		{xt + "&x.pe=10.0.0.1:6881", Magnet{InfoHash: h1, Peers: []string{"10.0.0.1:6881"}}},
		{xt + "&x.pe=[2001:db8::1]:51413&x.pe=%5B::1%5D%3A1", Magnet{InfoHash: h1, Peers: []string{"[2001:db8::1]:51413", "[::1]:1"}}},
		{xt + "&x.pe=peer.example:6881", Magnet{InfoHash: h1, Peers: []string{"peer.example:6881"}}},
		{xt + "&so=7", Magnet{InfoHash: h1, SelectOnly: []Range{{7, 7}}}},
		{xt + "&so=0,2,4-6,10-10", Magnet{InfoHash: h1, SelectOnly: []Range{{0, 0}, {2, 2}, {4, 6}, {10, 10}}}},
		{xt + "&so=1-3&so=9", Magnet{InfoHash: h1, SelectOnly: []Range{{1, 3}, {9, 9}}}},
		{xt + "&xl=4294967296", Magnet{InfoHash: h1, ExactLength: 4294967296}},
		{xt + "&kt=a+b&as=http://x/y.torrent", Magnet{InfoHash: h1, Extra: url.Values{"kt": {"a b"}, "as": {"http://x/y.torrent"}}}},
	}
	for _, tt := range tests {
		in := "magnet:?" + tt.param
		m, err := ParseMagnet(in)
		if err != nil {
			t.Errorf("ParseMagnet(%q): %v", in, err)
			continue
		}
		if !reflect.DeepEqual(*m, tt.want) {
			t.Errorf("ParseMagnet(%q)\n got %+v\nwant %+v", in, *m, tt.want)
			continue
		}
		out := m.String()
		m2, err := ParseMagnet(out)
		if err != nil {
			t.Errorf("%q formats as %q, which does not parse: %v", in, out, err)
			continue
		}
		if !reflect.DeepEqual(m, m2) {
			t.Errorf("%q formats as %q, which parses as %+v", in, out, *m2)
		}
		if again := m2.String(); again != out {
			t.Errorf("String not stable: %q then %q", out, again)
		}
	}
}

// Malformed optional parameters are dropped as other clients do; malformed
// required ones (xt, so) are errors.
func TestMagnetIgnoredParameters(t *testing.T) {
	const xt = "xt=urn:btih:c0fda1edafdbdbb96443424e0b3899af7159d10e"
	for _, p := range []string{"x.pe=noport", "x.pe=1.2.3.4:0", "x.pe=1.2.3.4:70000", "x.pe=:80", "xl=-5", "xl=abc", "tr=", "ws="} {
		m, err := ParseMagnet("magnet:?" + xt + "&" + p)
		if err != nil {
			t.Errorf("%s: %v", p, err)
			continue
		}
		if len(m.Peers) != 0 || m.ExactLength != 0 || len(m.Trackers) != 0 || len(m.WebSeeds) != 0 {
			t.Errorf("%s: kept as %+v", p, m)
		}
	}
}
