package metainfo

import (
	"bytes"
	"crypto/sha1"
	"crypto/sha256"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"strings"

	"github.com/bittern/bittern/bencode"
)

// Limits enforced by Load. They follow libtorrent's load_torrent_limits
// defaults where one exists.
const (
	// MaxTorrentSize is the largest .torrent file Load accepts, in bytes.
	MaxTorrentSize = 64 << 20
	// MaxPieces is the largest number of pieces a torrent may have.
	MaxPieces = 1 << 21
	// MaxFileTreeDepth is the deepest directory nesting allowed in a path
	// (v1 path list or v2 file tree).
	MaxFileTreeDepth = 100
	// MaxDuplicateNames bounds the renames done to disambiguate file names
	// that collide after sanitization; beyond it the torrent is rejected.
	MaxDuplicateNames = 500
	// MaxPieceLength is the largest piece length accepted (1 GiB).
	MaxPieceLength = 1 << 30
	// MaxV2FileLength is the largest file a v2 torrent may hold: just under
	// 2^30 leaf blocks of 16 KiB (16 TiB), so that a file's merkle tree
	// indexes fit in 31 bits, as in libtorrent.
	MaxV2FileLength = maxV2Blocks*BlockSize - 1
	maxV2Blocks     = 1<<30 - 1
)

// MetaInfo is a parsed .torrent file.
type MetaInfo struct {
	InfoBytes    bencode.RawMessage // the info dict's original bytes, verbatim
	Announce     string
	AnnounceList [][]string // BEP 12 tiers
	URLList      []string   // BEP 19 web seeds
	HTTPSeeds    []string   // BEP 17 "httpseeds"
	Nodes        []string   // "host:port" DHT bootstrap nodes (BEP 5)
	CreationDate int64      // seconds since the Unix epoch; 0 if absent
	Comment      string
	CreatedBy    string
	Encoding     string
	PieceLayers  map[HashV2][]byte // BEP 52: pieces root -> concatenated 32-byte hashes
	Similar      []Hash            // BEP 38 "similar", top-level and info merged
	Collections  []string          // BEP 38 "collections", top-level and info merged

	info   *Info
	hashV1 Hash
	hashV2 HashV2
}

// Info returns the validated, parsed info dictionary.
func (mi *MetaInfo) Info() *Info { return mi.info }

// InfoHash returns the v1 info-hash, SHA-1 of InfoBytes; zero for a v2-only
// torrent.
func (mi *MetaInfo) InfoHash() Hash { return mi.hashV1 }

// InfoHashV2 returns the v2 info-hash, SHA-256 of InfoBytes, for v2 and
// hybrid torrents; zero for a v1-only torrent.
func (mi *MetaInfo) InfoHashV2() HashV2 { return mi.hashV2 }

// SwarmHash returns the 20-byte hash that identifies the torrent on the wire,
// with trackers and in the DHT: the v1 info-hash if there is one, else the
// truncated v2 info-hash.
func (mi *MetaInfo) SwarmHash() Hash {
	if !mi.hashV1.IsZero() {
		return mi.hashV1
	}
	return mi.hashV2.Truncate()
}

// Trackers returns the announce URLs grouped in tiers: AnnounceList if
// present (BEP 12), else Announce as a single tier.
func (mi *MetaInfo) Trackers() [][]string {
	if len(mi.AnnounceList) > 0 {
		return mi.AnnounceList
	}
	if mi.Announce != "" {
		return [][]string{{mi.Announce}}
	}
	return nil
}

// LoadFile reads and parses the .torrent file at path.
func LoadFile(path string) (*MetaInfo, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return Load(f)
}

// Load reads a .torrent file from r, parses it and validates it, info
// dictionary included. Errors name the offending field (*FieldError) or wrap
// ErrBencoding, ErrNotDict or ErrTooLarge.
func Load(r io.Reader) (*MetaInfo, error) {
	data, err := io.ReadAll(io.LimitReader(r, MaxTorrentSize+1))
	if err != nil {
		return nil, err
	}
	if len(data) > MaxTorrentSize {
		return nil, ErrTooLarge
	}
	return Parse(data)
}

// Parse parses and validates a .torrent file held in memory. InfoBytes and
// PieceLayers may alias data.
func Parse(data []byte) (*MetaInfo, error) {
	if len(data) > MaxTorrentSize {
		return nil, ErrTooLarge
	}
	var top map[string]bencode.RawMessage
	if len(data) == 0 || data[0] != 'd' || bencode.Unmarshal(data, &top) != nil {
		// Bytes after the top-level dictionary (often a newline) are
		// ignored, as other clients do: decode the first value alone.
		dec := bencode.NewDecoder(bytes.NewReader(data))
		dec.SetMaxSize(MaxTorrentSize)
		var first bencode.RawMessage
		if err := dec.Decode(&first); err != nil {
			return nil, bencodingErr(err)
		}
		if first[0] != 'd' {
			return nil, ErrNotDict
		}
		top = nil
		if err := bencode.Unmarshal(first, &top); err != nil {
			return nil, bencodingErr(err)
		}
	}
	if bytes.Count(data, []byte("4:infod")) > 1 {
		// Two "info" keys would give clients different info-hashes
		// (libtorrent takes the first, a map the last): refuse.
		if n, err := countTopKey(data, "info"); err != nil || n > 1 {
			return nil, fieldErr("info", detail(ErrBencoding, "duplicate key"))
		}
	}
	infoRaw, ok := top["info"]
	if !ok {
		return nil, fieldErr("info", ErrMissing)
	}
	if len(infoRaw) == 0 || infoRaw[0] != 'd' {
		return nil, fieldErr("info", detail(ErrType, "not a dictionary"))
	}
	mi := &MetaInfo{InfoBytes: infoRaw}
	info, err := parseInfo(infoRaw, &mi.hashV1, &mi.hashV2)
	if err != nil {
		return nil, err
	}
	mi.info = info
	if err := mi.parseTop(top); err != nil {
		return nil, err
	}
	if info.IsV2() {
		if err := mi.checkPieceLayers(top["piece layers"]); err != nil {
			return nil, err
		}
	}
	// BEP 19: a multi-file torrent's web seed URL names a directory.
	if n := info.numRealFiles(); n > 1 {
		for i, u := range mi.URLList {
			if !strings.HasSuffix(u, "/") {
				mi.URLList[i] = u + "/"
			}
		}
	}
	mi.Similar = mergeHashes(mi.Similar, info.Similar)
	mi.Collections = mergeStrings(mi.Collections, info.Collections)
	return mi, nil
}

// hashInfo computes the info-hashes of raw for the versions present.
func hashInfo(raw []byte, v1, v2 bool, h1 *Hash, h2 *HashV2) {
	if v1 {
		*h1 = sha1.Sum(raw)
	}
	if v2 {
		*h2 = sha256.Sum256(raw)
	}
}

func bencodingErr(err error) error {
	if err == nil {
		return ErrBencoding
	}
	return fmt.Errorf("%w: %w", ErrBencoding, err)
}

// parseTop fills the fields outside the info dictionary. Malformed optional
// fields are ignored, as other clients do, except where noted.
func (mi *MetaInfo) parseTop(top map[string]bencode.RawMessage) error {
	mi.Announce = cleanURL(decodeString(top["announce"]))
	if raw, ok := top["announce-list"]; ok {
		var tiers any
		if bencode.Unmarshal(raw, &tiers) == nil {
			if l, ok := tiers.([]any); ok {
				for _, t := range l {
					var tier []string
					if tl, ok := t.([]any); ok {
						for _, u := range tl {
							if s, ok := u.(string); ok {
								if s = cleanURL(s); s != "" {
									tier = append(tier, s)
								}
							}
						}
					}
					if len(tier) > 0 {
						mi.AnnounceList = append(mi.AnnounceList, tier)
					}
				}
			}
		}
	}
	mi.URLList = stringOrList(top["url-list"])
	mi.HTTPSeeds = stringOrList(top["httpseeds"])
	mi.CreationDate = decodeInt(top["creation date"])
	mi.Comment = decodeString(top["comment.utf-8"])
	if mi.Comment == "" {
		mi.Comment = decodeString(top["comment"])
	}
	mi.CreatedBy = decodeString(top["created by"])
	mi.Encoding = decodeString(top["encoding"])
	if raw, ok := top["nodes"]; ok {
		var nodes any
		if bencode.Unmarshal(raw, &nodes) == nil {
			l, _ := nodes.([]any)
			for _, n := range l {
				pair, ok := n.([]any)
				if !ok || len(pair) != 2 {
					continue
				}
				host, ok1 := pair[0].(string)
				port, ok2 := pair[1].(int64)
				if !ok1 || !ok2 || host == "" || port <= 0 || port > 65535 {
					continue
				}
				mi.Nodes = append(mi.Nodes, net.JoinHostPort(host, strconv.FormatInt(port, 10)))
			}
		}
	}
	mi.Similar = decodeHashList(top["similar"])
	mi.Collections = decodeStringList(top["collections"])
	return nil
}

func decodeString(raw bencode.RawMessage) string {
	if len(raw) == 0 {
		return ""
	}
	var s string
	if bencode.Unmarshal(raw, &s) != nil {
		return ""
	}
	return s
}

func decodeInt(raw bencode.RawMessage) int64 {
	if len(raw) == 0 {
		return 0
	}
	var i int64
	if bencode.Unmarshal(raw, &i) != nil {
		return 0
	}
	return i
}

func decodeStringList(raw bencode.RawMessage) []string {
	if len(raw) == 0 {
		return nil
	}
	var v any
	if bencode.Unmarshal(raw, &v) != nil {
		return nil
	}
	l, _ := v.([]any)
	var out []string
	for _, e := range l {
		if s, ok := e.(string); ok {
			out = append(out, s)
		}
	}
	return out
}

func decodeHashList(raw bencode.RawMessage) []Hash {
	var out []Hash
	for _, s := range decodeStringList(raw) {
		if len(s) == len(Hash{}) {
			out = append(out, Hash([]byte(s)))
		}
	}
	return out
}

// stringOrList decodes a URL list given as one string or a list of strings
// (BEP 19 allows both), trimming whitespace, escaping spaces, dropping empty
// entries and duplicates.
func stringOrList(raw bencode.RawMessage) []string {
	if len(raw) == 0 {
		return nil
	}
	var v any
	if bencode.Unmarshal(raw, &v) != nil {
		return nil
	}
	var in []string
	switch v := v.(type) {
	case string:
		in = []string{v}
	case []any:
		for _, e := range v {
			if s, ok := e.(string); ok {
				in = append(in, s)
			}
		}
	}
	var out []string
	seen := make(map[string]bool, len(in))
	for _, s := range in {
		s = cleanURL(s)
		if s == "" || seen[s] {
			continue
		}
		seen[s] = true
		out = append(out, s)
	}
	return out
}

// cleanURL trims surrounding white space and percent-encodes inner spaces.
func cleanURL(s string) string {
	s = strings.TrimSpace(s)
	return strings.ReplaceAll(s, " ", "%20")
}

func mergeHashes(a, b []Hash) []Hash {
	for _, h := range b {
		dup := false
		for _, x := range a {
			dup = dup || x == h
		}
		if !dup {
			a = append(a, h)
		}
	}
	return a
}

func mergeStrings(a, b []string) []string {
	for _, s := range b {
		dup := false
		for _, x := range a {
			dup = dup || x == s
		}
		if !dup {
			a = append(a, s)
		}
	}
	return a
}

// countTopKey counts the occurrences of key in the top-level dictionary of
// data, skipping over the values.
func countTopKey(data []byte, key string) (int, error) {
	dec := bencode.NewDecoder(bytes.NewReader(data))
	dec.SetMaxSize(MaxTorrentSize)
	if _, err := dec.Token(); err != nil { // 'd', checked by the caller
		return 0, err
	}
	n := 0
	for dec.More() {
		k, err := dec.Token()
		if err != nil {
			return 0, err
		}
		if kb, ok := k.([]byte); ok && string(kb) == key {
			n++
		}
		var skip bencode.RawMessage
		if err := dec.Decode(&skip); err != nil {
			return 0, err
		}
	}
	return n, nil
}
