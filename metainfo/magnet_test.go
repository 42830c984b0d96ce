package metainfo

import (
	"encoding/base32"
	"errors"
	"reflect"
	"strings"
	"testing"
)

func TestParseMagnet(t *testing.T) {
	const v1 = "c0fda1edafdbdbb96443424e0b3899af7159d10e"
	const v2 = "597b180c1a170a585dfc5e85d834d69013ceda174b8f357d5bb1a0ca509faf0a"
	h1, _ := ParseHash(v1)
	h2, _ := ParseHashV2(v2)
	b32 := base32.StdEncoding.EncodeToString(h1[:])

	tests := []struct {
		in   string
		want Magnet
	}{
		{"magnet:?xt=urn:btih:" + v1, Magnet{InfoHash: h1}},
		{"magnet:?xt=urn:btih:" + strings.ToUpper(v1), Magnet{InfoHash: h1}},
		{"magnet:?xt=urn:btih:" + b32, Magnet{InfoHash: h1}},
		{"magnet:?xt=urn:btih:" + strings.ToLower(b32), Magnet{InfoHash: h1}},
		{"magnet:?xt=urn:btmh:1220" + v2 + "&dn=test64K", Magnet{InfoHashV2: h2, Name: "test64K"}},
		{"MAGNET:?xt=urn:btih:" + v1 + "&xt=urn:btmh:1220" + v2, Magnet{InfoHash: h1, InfoHashV2: h2}},
		{
			"magnet:?xt=urn:btih:" + v1 + "&dn=Some+name%21&tr=udp%3A%2F%2Fa.example%3A80&tr=http://b.example/announce" +
				"&tr.1=http://c.example/a&ws=http%3A%2F%2Fw.example%2F&x.pe=127.0.0.1:6881&x.pe=[::1]:51413&x.pe=bad" +
				"&so=0,2,4-6&xl=12345&kt=foo+bar&xs=http://x/y.torrent",
			Magnet{
				InfoHash: h1, Name: "Some name!",
				Trackers:    []string{"udp://a.example:80", "http://b.example/announce", "http://c.example/a"},
				WebSeeds:    []string{"http://w.example/"},
				Peers:       []string{"127.0.0.1:6881", "[::1]:51413"},
				SelectOnly:  []Range{{0, 0}, {2, 2}, {4, 6}},
				ExactLength: 12345,
				Extra:       map[string][]string{"kt": {"foo bar"}, "xs": {"http://x/y.torrent"}},
			},
		},
	}
	for _, tt := range tests {
		m, err := ParseMagnet(tt.in)
		if err != nil {
			t.Errorf("ParseMagnet(%q): %v", tt.in, err)
			continue
		}
		if !reflect.DeepEqual(*m, tt.want) {
			t.Errorf("ParseMagnet(%q)\n got %+v\nwant %+v", tt.in, *m, tt.want)
		}
		// Round trip: formatting and parsing again gives the same link.
		m2, err := ParseMagnet(m.String())
		if err != nil {
			t.Errorf("reparse %q: %v", m.String(), err)
		} else if !reflect.DeepEqual(m, m2) {
			t.Errorf("round trip of %q\n got %+v\nwant %+v", m.String(), m2, m)
		}
	}
}

func TestMagnetString(t *testing.T) {
	h1, _ := ParseHash("c0fda1edafdbdbb96443424e0b3899af7159d10e")
	m := &Magnet{InfoHash: h1, Name: "a b", Trackers: []string{"udp://t:1"}, SelectOnly: []Range{{1, 1}, {3, 5}}}
	want := "magnet:?xt=urn:btih:c0fda1edafdbdbb96443424e0b3899af7159d10e&dn=a+b&tr=udp%3A%2F%2Ft%3A1&so=1,3-5"
	if got := m.String(); got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
	if !m.Selected(4) || m.Selected(2) {
		t.Error("Selected wrong")
	}
}

func TestParseMagnetErrors(t *testing.T) {
	const v1 = "c0fda1edafdbdbb96443424e0b3899af7159d10e"
	for _, in := range []string{
		"",
		"http://example.com/",
		"magnet:?dn=x",
		"magnet:?xt=urn:sha1:abc",
		"magnet:?xt=urn:btih:123",
		"magnet:?xt=urn:btih:" + strings.Repeat("z", 40),
		"magnet:?xt=urn:btih:" + strings.Repeat("1", 32),
		"magnet:?xt=urn:btmh:1114" + strings.Repeat("0", 64),
		"magnet:?xt=urn:btmh:1220" + strings.Repeat("0", 60),
		"magnet:?xt=urn:btih:" + v1 + "&xt=urn:btih:" + strings.Repeat("0", 40),
		"magnet:?xt=urn:btih:" + v1 + "&so=3-1",
		"magnet:?xt=urn:btih:" + v1 + "&so=a",
		"magnet:?xt=urn:btih:" + v1 + "&so=+1",
		"magnet:?xt=urn:btih:" + v1 + "&dn=%zz",
		"magnet:?xt=urn:btih:" + v1 + strings.Repeat("&tr=x", MaxMagnetLength/5),
	} {
		if _, err := ParseMagnet(in); !errors.Is(err, ErrMagnet) {
			t.Errorf("ParseMagnet(%.60q) = %v, want ErrMagnet", in, err)
		}
	}
}

func TestMetaInfoMagnet(t *testing.T) {
	mi, err := LoadFile("testdata/libtorrent/v2_hybrid.torrent")
	if err != nil {
		t.Fatal(err)
	}
	m, err := ParseMagnet(mi.Magnet().String())
	if err != nil {
		t.Fatal(err)
	}
	if m.InfoHash != mi.InfoHash() || m.InfoHashV2 != mi.InfoHashV2() || m.Name != mi.Info().Name {
		t.Errorf("magnet %+v does not match torrent", m)
	}
}
