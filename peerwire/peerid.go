package peerwire

import (
	"crypto/rand"
	"fmt"
	"strings"
)

// PeerIDPrefix is the Azureus-style (BEP 20) peer ID prefix of this library:
// client code "BN" (bittern; the DHT's client version uses the same code),
// version 0.1.0.0.
const PeerIDPrefix = "-BN0100-"

// NewPeerID returns a peer ID made of prefix (at most 20 bytes; pass
// PeerIDPrefix for this library's) followed by random bytes from
// crypto/rand. The random part uses printable characters, as most clients
// do, so that the ID is readable in logs and tracker URLs.
func NewPeerID(prefix string) [20]byte {
	const alphabet = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ-_"
	var id [20]byte
	n := copy(id[:], prefix)
	rand.Read(id[n:]) // never fails (crypto/rand panics internally if it cannot)
	for i := n; i < len(id); i++ {
		id[i] = alphabet[id[i]&63]
	}
	return id
}

// azureusClients maps the two-letter codes of Azureus-style peer IDs
// ("-XXvvvv-") to client names (BEP 20 and common usage).
var azureusClients = map[string]string{
	"AG": "Ares", "A~": "Ares", "AR": "Arctic", "AT": "Artemis", "AX": "BitPump",
	"AZ": "Azureus", "BB": "BitBuddy", "BC": "BitComet", "BF": "Bitflu",
	"BG": "BTG", "BI": "BiglyBT", "BL": "BitBlinder", "BN": "bittern", "BP": "BitTorrent Pro",
	"BR": "BitRocket", "BS": "BTSlave", "BT": "BitTorrent", "BW": "BitWombat",
	"BX": "Bittorrent X", "CD": "Enhanced CTorrent", "CT": "CTorrent",
	"DE": "DelugeTorrent", "DP": "Propagate Data Client", "EB": "EBit",
	"ES": "electric sheep", "FC": "FileCroc", "FD": "Free Download Manager",
	"FT": "FoxTorrent", "FX": "Freebox BitTorrent", "GS": "GSTorrent",
	"HK": "Hekate", "HL": "Halite", "HM": "hMule", "HN": "Hydranode",
	"IL": "iLivid", "JS": "Justseed.it", "JT": "JavaTorrent", "KG": "KGet",
	"KT": "KTorrent", "LC": "LeechCraft", "LH": "LH-ABC", "LP": "Lphant",
	"LT": "libtorrent", "lt": "libTorrent (rakshasa)", "LW": "LimeWire",
	"MK": "Meerkat", "MO": "MonoTorrent", "MP": "MooPolice", "MR": "Miro",
	"MT": "MoonlightTorrent", "NB": "Net::BitTorrent", "NX": "Net Transport",
	"OS": "OneSwarm", "OT": "OmegaTorrent", "PB": "Protocol::BitTorrent",
	"PD": "Pando", "PI": "PicoTorrent", "qB": "qBittorrent", "QD": "QQDownload",
	"QT": "Qt 4 Torrent example", "RT": "Retriever", "RZ": "RezTorrent",
	"S~": "Shareaza alpha/beta", "SB": "~Swiftbit", "SD": "Thunder",
	"SM": "SoMud", "SP": "BitSpirit", "SS": "SwarmScope", "ST": "SymTorrent",
	"st": "sharktorrent", "SZ": "Shareaza", "TB": "Torch", "TE": "terasaur Seed Bank",
	"TL": "Tribler", "TN": "TorrentDotNET", "TR": "Transmission", "TS": "Torrentstorm",
	"TT": "TuoTu", "UL": "uLeecher!", "UM": "µTorrent for Mac", "UT": "µTorrent",
	"UW": "µTorrent Web", "VG": "Vagaa", "WD": "WebTorrent Desktop",
	"WT": "BitLet", "WW": "WebTorrent", "WY": "FireTorrent", "XF": "Xfplay",
	"XL": "Xunlei", "XS": "XSwifter", "XT": "XanTorrent", "XX": "Xtorrent",
	"ZT": "ZipTorrent", "7T": "aTorrent for Android", "AN": "Ares", "BE": "BitTorrent SDK",
	"GR": "GetRight", "PT": "Popcorn Time",
}

// shadowClients maps the first byte of Shadow-style peer IDs to client
// names (BEP 20).
var shadowClients = map[byte]string{
	'A': "ABC", 'O': "Osprey Permaseed", 'Q': "BTQueue", 'R': "Tribler",
	'S': "Shadow", 'T': "BitTornado", 'U': "UPnP NAT Bit Torrent",
}

// ClientName names the client that generated a peer ID, with its version
// when the ID encodes one, following the conventions collected in BEP 20:
// Azureus style ("-TR3000-…" is "Transmission 3.0.0.0"), Shadow style
// ("T03I--…"), Mainline style ("M7-4-3--…"), aria2 ("A2-1-36-0-…") and a
// few others. It returns
// "" for an ID it does not recognise.
func ClientName(id [20]byte) string {
	switch {
	case id[0] == '-' && id[7] == '-' && isAlnumOrTilde(id[1]) && isAlnumOrTilde(id[2]):
		name, ok := azureusClients[string(id[1:3])]
		if !ok {
			return ""
		}
		var v []string
		for _, c := range id[3:7] {
			v = append(v, azureusDigit(c))
		}
		return name + " " + strings.Join(v, ".")
	case (id[0] == 'M' || id[0] == 'Q') && isDigit(id[1]):
		// Mainline: M<major>-<minor>-<patch>-, padded with '-' to 8 bytes.
		if id[7] != '-' {
			return ""
		}
		parts := strings.Split(strings.TrimRight(string(id[1:8]), "-"), "-")
		for _, p := range parts {
			if p == "" || strings.Trim(p, "0123456789") != "" {
				return ""
			}
		}
		name := "Mainline"
		if id[0] == 'Q' {
			name = "Queen Bee"
		}
		return name + " " + strings.Join(parts, ".")
	case string(id[:3]) == "A2-":
		// aria2: A2-<major>-<minor>-<patch>-
		parts := strings.Split(string(id[3:]), "-")
		if len(parts) < 4 {
			return ""
		}
		for _, p := range parts[:3] {
			if p == "" || strings.Trim(p, "0123456789") != "" {
				return ""
			}
		}
		return "aria2 " + strings.Join(parts[:3], ".")
	case string(id[:4]) == "exbc":
		return "BitComet (old)"
	case string(id[:5]) == "Azure":
		return "Azureus (old)"
	case string(id[:3]) == "-ML":
		return "MLDonkey"
	case string(id[:3]) == "TIX":
		return "Tixati"
	case string(id[:2]) == "OP" && isDigit(id[2]) && isDigit(id[3]):
		return "Opera"
	}
	if name, ok := shadowClients[id[0]]; ok && shadowVersion(id[1:6]) != "" {
		return name + " " + shadowVersion(id[1:6])
	}
	return ""
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

func isAlnumOrTilde(c byte) bool {
	return isDigit(c) || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '~'
}

// azureusDigit decodes one version character of an Azureus-style ID:
// digits as themselves, upper-case letters as 10+ (A=10 … Z=35), anything else as-is.
func azureusDigit(c byte) string {
	switch {
	case isDigit(c):
		return string(c)
	case c >= 'A' && c <= 'Z':
		return fmt.Sprint(int(c-'A') + 10)
	}
	return string(c)
}

// shadowVersion decodes the five version characters of a Shadow-style ID
// ('0'-'9', 'A'-'Z', 'a'-'z', '.', '-' as 0..63, padded with '-'), or "" if
// they are not in that alphabet.
func shadowVersion(b []byte) string {
	const alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz.-"
	var parts []string
	for _, c := range b {
		i := strings.IndexByte(alphabet, c)
		if i < 0 {
			return ""
		}
		if c == '-' {
			break
		}
		parts = append(parts, fmt.Sprint(i))
	}
	if len(parts) == 0 {
		return ""
	}
	return strings.Join(parts, ".")
}
