package dht

import (
	"encoding/hex"
	"encoding/json"
	"net/netip"
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// readVectors reads a BEP test-vector file from testdata (copied from the
// project's shared conformance vectors).
func readVectors(t *testing.T, name string, v any) {
	t.Helper()
	b, err := os.ReadFile("testdata/" + name)
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(b, v))
}

func TestBEP5Vectors(t *testing.T) {
	var f struct {
		Examples []struct {
			Name     string
			Bencoded string
		}
	}
	readVectors(t, "bep0005.json", &f)
	require.NotEmpty(t, f.Examples)
	for _, ex := range f.Examples {
		var m Msg
		require.NoError(t, DecodeMsg([]byte(ex.Bencoded), &m), ex.Name)
		b, err := AppendMsg(nil, &m)
		require.NoError(t, err, ex.Name)
		require.Equal(t, ex.Bencoded, string(b), ex.Name)
		switch {
		case strings.Contains(ex.Name, "error"):
			require.Equal(t, 201, m.E.Code)
		case strings.HasSuffix(ex.Name, "query"):
			require.Equal(t, "abcdefghij0123456789", m.A.ID)
		}
	}
}

func TestBEP42Vectors(t *testing.T) {
	var f struct {
		Vectors []struct {
			IP        string `json:"ip"`
			Rand      int    `json:"rand"`
			NodeIDHex string `json:"node_id_hex"`
		}
	}
	readVectors(t, "bep0042.json", &f)
	require.Len(t, f.Vectors, 5)
	for _, v := range f.Vectors {
		ip := netip.MustParseAddr(v.IP)
		id, err := ParseID(v.NodeIDHex)
		require.NoError(t, err)
		require.True(t, NodeIDValid(id, ip), v.IP)
		gen := NodeIDForIP(ip, byte(v.Rand))
		require.Equal(t, id[:2], gen[:2], v.IP)
		require.Equal(t, id[2]&0xf8, gen[2]&0xf8, v.IP)
		require.Equal(t, id[19], gen[19], v.IP)
		require.True(t, NodeIDValid(gen, ip))
		bad := id
		bad[0] ^= 0x80
		require.False(t, NodeIDValid(bad, ip), v.IP)
	}
	// Private and loopback addresses are exempt; IPv6 IDs round-trip.
	require.True(t, NodeIDValid(ID{}, netip.MustParseAddr("192.168.1.1")))
	require.True(t, NodeIDValid(ID{}, netip.MustParseAddr("127.0.0.1")))
	ip6 := netip.MustParseAddr("2001:db8:1234::1")
	require.True(t, NodeIDValid(NodeIDForIP(ip6, 3), ip6))
	require.False(t, NodeIDValid(NodeIDForIP(ip6, 3), netip.MustParseAddr("2a00:1450::1")))
}

func TestBEP44Vectors(t *testing.T) {
	var f struct {
		Vectors []struct {
			Name              string  `json:"name"`
			ValueBencoded     string  `json:"value_bencoded"`
			Seq               int64   `json:"seq"`
			Salt              *string `json:"salt"`
			BufferBeingSigned string  `json:"buffer_being_signed"`
			PublicKeyHex      string  `json:"public_key_hex"`
			TargetIDHex       string  `json:"target_id_hex"`
			SignatureHex      string  `json:"signature_hex"`
		}
	}
	readVectors(t, "bep0044.json", &f)
	require.Len(t, f.Vectors, 3)
	for _, v := range f.Vectors {
		target, err := ParseID(v.TargetIDHex)
		require.NoError(t, err)
		if v.PublicKeyHex == "" {
			require.Equal(t, target, ImmutableTarget([]byte(v.ValueBencoded)), v.Name)
			continue
		}
		var salt []byte
		if v.Salt != nil {
			salt = []byte(*v.Salt)
		}
		require.Equal(t, v.BufferBeingSigned, string(SignatureBuffer(salt, v.Seq, []byte(v.ValueBencoded))), v.Name)
		pk, _ := hex.DecodeString(v.PublicKeyHex)
		sig, _ := hex.DecodeString(v.SignatureHex)
		it := Item{V: []byte(v.ValueBencoded), K: [32]byte(pk), Salt: salt, Seq: v.Seq, Sig: [64]byte(sig), Mutable: true}
		require.Equal(t, target, it.Target(), v.Name)
		require.NoError(t, it.Verify(), v.Name)
		it.Seq++
		require.ErrorIs(t, it.Verify(), ErrBadSignature, v.Name)
	}
}

func TestBEP33BloomVector(t *testing.T) {
	const want = `F6C3F5EA A07FFD91 BDE89F77 7F26FB2B FF37BDB8 FB2BBAA2 FD3DDDE7 BACFFF75 EE7CCBAE
 FE5EEDB1 FBFAFF67 F6ABFF5E 43DDBCA3 FD9B9FFD F4FFD3E9 DFF12D1B DF59DB53 DBE9FA5B
 7FF3B8FD FCDE1AFB 8BEDD7BE 2F3EE71E BBBFE93B CDEEFE14 8246C2BC 5DBFF7E7 EFDCF24F
 D8DC7ADF FD8FFFDF DDFFF7A4 BBEEDF5C B95CE81F C7FCFF1F F4FFFFDF E5F7FDCB B7FD79B3
 FA1FC77B FE07FFF9 05B7B7FF C7FEFEFF E0B8370B B0CD3F5B 7F2BD93F EB4386CF DD6F7FD5
 BFAF2E9E BFFFFEEC D67ADBF7 C67F17EF D5D75EBA 6FFEBA7F FF47A91E B1BFBB53 E8ABFB57
 62ABE8FF 237279BF EFBFEEF5 FFC5FEBF DFE5ADFF ADFEE1FB 737FFFFB FD9F6AEF FEEE76B6
 FD8F72EF`
	wantHex := strings.Join(strings.Fields(want), "")
	var f bloom
	for i := range 256 {
		f.add(netip.AddrFrom4([4]byte{192, 0, 2, byte(i)}))
	}
	base := netip.MustParseAddr("2001:db8::").As16()
	for i := 0; i <= 0x3e7; i++ {
		a := base
		a[14], a[15] = byte(i>>8), byte(i)
		f.add(netip.AddrFrom16(a))
	}
	require.Equal(t, strings.ToLower(wantHex), hex.EncodeToString(f[:]))
	require.InDelta(t, 1224.9308, f.estimate(), 0.0001)
	require.InDelta(t, 1224.9308, ScrapeEstimate(f[:], make([]byte, 3)), 0.0001)
	// An empty filter: c = min(m-1, 2048 zeros) makes the formula give 0.5.
	require.InDelta(t, 0.5, ScrapeEstimate(), 0.0001)
}
