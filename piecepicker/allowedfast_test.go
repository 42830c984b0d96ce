package piecepicker

import (
	"encoding/hex"
	"encoding/json"
	"errors"
	"net/netip"
	"os"
	"slices"
	"testing"
)

// TestAllowedFastVectors checks the BEP 6 example results, transcribed in the shared
// conformance vectors.
func TestAllowedFastVectors(t *testing.T) {
	raw, err := os.ReadFile("testdata/bep0006.json")
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Vectors []struct {
			K         int    `json:"k"`
			NumPieces int    `json:"num_pieces"`
			InfoHash  string `json:"infohash_hex"`
			IP        string `json:"ip"`
			Set       []int  `json:"allowed_fast_set"`
		} `json:"vectors"`
	}
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	if len(doc.Vectors) == 0 {
		t.Fatal("no vectors")
	}
	for _, v := range doc.Vectors {
		var ih [20]byte
		if _, err := hex.Decode(ih[:], []byte(v.InfoHash)); err != nil {
			t.Fatal(err)
		}
		got, err := AllowedFastSet(nil, v.K, v.NumPieces, ih, netip.MustParseAddr(v.IP))
		if err != nil || !slices.Equal(got, v.Set) {
			t.Errorf("k=%d: got %v, %v; want %v", v.K, got, err, v.Set)
		}
		// Same /24, IPv4-mapped form: same set.
		mapped := netip.AddrFrom16(netip.MustParseAddr(v.IP).As16())
		if again, _ := AllowedFastSet(nil, v.K, v.NumPieces, ih, mapped); !slices.Equal(again, v.Set) {
			t.Errorf("IPv4-mapped address gave %v", again)
		}
	}
}

func TestAllowedFastLimits(t *testing.T) {
	var ih [20]byte
	a := netip.MustParseAddr("10.1.2.3")
	got, err := AllowedFastSet([]int{99}, 50, 3, ih, a)
	if err != nil || len(got) != 4 || got[0] != 99 {
		t.Fatalf("k capped at numPieces: %v %v", got, err)
	}
	if got, _ := AllowedFastSet(nil, 1000, 1000, ih, a); len(got) != MaxAllowedFastK {
		t.Fatalf("k not capped: %d", len(got))
	}
	if _, err := AllowedFastSet(nil, 1, 10, ih, netip.MustParseAddr("::1")); !errors.Is(err, ErrAllowedFastAddr) {
		t.Fatal(err)
	}
	if _, err := AllowedFastSet(nil, 1, 0, ih, a); !errors.Is(err, ErrBadPiece) {
		t.Fatal(err)
	}
	b, _ := AllowedFastSet(nil, 10, 500, ih, netip.MustParseAddr("10.1.2.200"))
	if c, _ := AllowedFastSet(nil, 10, 500, ih, a); !slices.Equal(b, c) {
		t.Fatal("same /24 gave different sets")
	}
}

// FuzzAllowedFastSet checks that sets are distinct, in range, and that a larger k extends a
// smaller one, as BEP 6 requires.
func FuzzAllowedFastSet(f *testing.F) {
	f.Add(uint16(7), uint32(1313), []byte{0xaa}, uint32(0x500404c8))
	f.Add(uint16(300), uint32(300), []byte{}, uint32(1))
	f.Fuzz(func(t *testing.T, k uint16, n uint32, ihb []byte, ip uint32) {
		var ih [20]byte
		copy(ih[:], ihb)
		var a4 [4]byte
		a4[0], a4[1], a4[2], a4[3] = byte(ip>>24), byte(ip>>16), byte(ip>>8), byte(ip)
		addr := netip.AddrFrom4(a4)
		numPieces := int(n%5000) + 1
		big, err := AllowedFastSet(nil, int(k), numPieces, ih, addr)
		if err != nil {
			t.Fatal(err)
		}
		if want := min(int(k), numPieces, MaxAllowedFastK); len(big) != want {
			t.Fatalf("len %d, want %d", len(big), want)
		}
		for i, x := range big {
			if x < 0 || x >= numPieces || slices.Contains(big[:i], x) {
				t.Fatalf("bad set %v", big)
			}
		}
		if k > 0 {
			small, _ := AllowedFastSet(nil, int(k)-1, numPieces, ih, addr)
			if !slices.Equal(small, big[:len(small)]) {
				t.Fatalf("k-1 set %v is not a prefix of %v", small, big)
			}
		}
	})
}
