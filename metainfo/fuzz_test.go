package metainfo

import (
	"bytes"
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

func addCorpusSeeds(f *testing.F) {
	for _, glob := range []string{"testdata/libtorrent/*.torrent", "testdata/libtorrent/mutable_test_torrents/*.torrent"} {
		paths, _ := filepath.Glob(glob)
		for _, p := range paths {
			b, err := os.ReadFile(p)
			if err != nil {
				f.Fatal(err)
			}
			f.Add(b)
		}
	}
}

// FuzzLoad checks that no input panics Parse, that every accepted torrent
// keeps the byte-space invariants and path safety, and that writing it out
// and loading it again gives the same info-hashes and files.
func FuzzLoad(f *testing.F) {
	addCorpusSeeds(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		mi, err := Parse(data)
		if err != nil {
			return
		}
		checkInvariants(t, mi)
		out, err := mi.Marshal()
		if err != nil {
			t.Fatalf("Marshal: %v", err)
		}
		mi2, err := Parse(out)
		if err != nil {
			t.Fatalf("reload of written torrent: %v", err)
		}
		if mi2.InfoHash() != mi.InfoHash() || mi2.InfoHashV2() != mi.InfoHashV2() {
			t.Fatal("info-hash changed through Marshal")
		}
		if !bytes.Equal(mi2.InfoBytes, mi.InfoBytes) || !reflect.DeepEqual(mi2.Info().Files, mi.Info().Files) {
			t.Fatal("info changed through Marshal")
		}
	})
}

// FuzzParseMagnet checks that ParseMagnet never panics and that every link
// it accepts survives String and ParseMagnet unchanged.
func FuzzParseMagnet(f *testing.F) {
	for _, s := range []string{
		"magnet:?xt=urn:btih:c0fda1edafdbdbb96443424e0b3899af7159d10e&dn=temp&tr=udp%3A%2F%2Ft%3A1",
		"magnet:?xt=urn:btih:YD62D3NP3PN3SZCDIJHAWOEZV5YVTUIO",
		"magnet:?xt=urn:btmh:1220597b180c1a170a585dfc5e85d834d69013ceda174b8f357d5bb1a0ca509faf0a&so=0,2-4&x.pe=[::1]:6881",
		"magnet:?xt=urn:btih:c0fda1edafdbdbb96443424e0b3899af7159d10e&xt=urn:btmh:1220597b180c1a170a585dfc5e85d834d69013ceda174b8f357d5bb1a0ca509faf0a&ws=http://w/&xl=10&kt=a+b",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		m, err := ParseMagnet(s)
		if err != nil {
			return
		}
		out := m.String()
		m2, err := ParseMagnet(out)
		if err != nil {
			t.Fatalf("reparse of %q: %v", out, err)
		}
		if !reflect.DeepEqual(m, m2) {
			t.Fatalf("round trip of %q via %q:\n%+v\n%+v", s, out, m, m2)
		}
		if out2 := m2.String(); out2 != out {
			t.Fatalf("String not stable: %q vs %q", out, out2)
		}
	})
}

// FuzzParseInfo fuzzes the info dictionary alone (wrapped in a minimal
// torrent), seeded with the corpus's info dictionaries, so that mutations
// go to the part with the most rules.
func FuzzParseInfo(f *testing.F) {
	paths, _ := filepath.Glob("testdata/libtorrent/*.torrent")
	for _, p := range paths {
		if mi, err := LoadFile(p); err == nil {
			f.Add([]byte(mi.InfoBytes))
		}
	}
	f.Fuzz(func(t *testing.T, info []byte) {
		data := append(append([]byte("d4:info"), info...), 'e')
		mi, err := Parse(data)
		if err != nil {
			return
		}
		checkInvariants(t, mi)
		// (The input may hold more keys after the info dictionary.)
		if !bytes.HasPrefix(info, mi.InfoBytes) {
			t.Fatal("InfoBytes are not the info dictionary given")
		}
		if mi.Info().IsV1() && mi.InfoHash() != HashBytes(mi.InfoBytes) {
			t.Fatal("v1 info-hash is not SHA-1 of the info bytes")
		}
		if mi.Info().IsV2() && mi.InfoHashV2() != HashBytesV2(mi.InfoBytes) {
			t.Fatal("v2 info-hash is not SHA-256 of the info bytes")
		}
	})
}
