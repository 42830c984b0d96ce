package metainfo

import (
	"io"
	"net"
	"strconv"

	"github.com/bittern/bittern/bencode"
)

// torrentFile is the top-level dictionary as written by Marshal. The info
// dictionary is copied verbatim, so writing never changes an info-hash.
type torrentFile struct {
	Announce     string             `bencode:"announce,omitempty"`
	AnnounceList [][]string         `bencode:"announce-list,omitempty"`
	Collections  []string           `bencode:"collections,omitempty"`
	Comment      string             `bencode:"comment,omitempty"`
	CreatedBy    string             `bencode:"created by,omitempty"`
	CreationDate int64              `bencode:"creation date,omitempty"`
	Encoding     string             `bencode:"encoding,omitempty"`
	HTTPSeeds    []string           `bencode:"httpseeds,omitempty"`
	Info         bencode.RawMessage `bencode:"info"`
	Nodes        []any              `bencode:"nodes,omitempty"`
	PieceLayers  map[string][]byte  `bencode:"piece layers,omitempty"`
	Similar      []string           `bencode:"similar,omitempty"`
	URLList      []string           `bencode:"url-list,omitempty"`
}

// Marshal encodes mi as a .torrent file: the top-level keys canonically
// ordered, InfoBytes copied verbatim (so the info-hashes never change).
// Only the fields of MetaInfo are written: unknown top-level keys of a
// loaded torrent are not kept.
func (mi *MetaInfo) Marshal() ([]byte, error) {
	t := torrentFile{
		Announce:     mi.Announce,
		AnnounceList: mi.AnnounceList,
		Collections:  mi.Collections,
		Comment:      mi.Comment,
		CreatedBy:    mi.CreatedBy,
		CreationDate: mi.CreationDate,
		Encoding:     mi.Encoding,
		HTTPSeeds:    mi.HTTPSeeds,
		Info:         mi.InfoBytes,
		URLList:      mi.URLList,
	}
	for _, n := range mi.Nodes {
		host, port, err := net.SplitHostPort(n)
		if err != nil {
			continue
		}
		p, err := strconv.ParseInt(port, 10, 64)
		if err != nil {
			continue
		}
		t.Nodes = append(t.Nodes, []any{host, p})
	}
	if len(mi.PieceLayers) > 0 {
		t.PieceLayers = make(map[string][]byte, len(mi.PieceLayers))
		for k, v := range mi.PieceLayers {
			t.PieceLayers[string(k[:])] = v
		}
	}
	for _, h := range mi.Similar {
		t.Similar = append(t.Similar, string(h[:]))
	}
	return bencode.Marshal(&t)
}

// Write writes mi to w as a .torrent file (see Marshal).
func (mi *MetaInfo) Write(w io.Writer) error {
	b, err := mi.Marshal()
	if err != nil {
		return err
	}
	_, err = w.Write(b)
	return err
}
