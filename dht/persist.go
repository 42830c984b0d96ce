package dht

import (
	"errors"

	"github.com/bittern/bittern/bencode"
)

// savedNodes is the bencoded form MarshalNodes writes: compact node info
// per address family, as in KRPC replies.
type savedNodes struct {
	ID     string `bencode:"id,omitempty"`
	Nodes  string `bencode:"nodes,omitempty"`
	Nodes6 string `bencode:"nodes6,omitempty"`
}

// maxSavedNodes bounds how many nodes UnmarshalNodes returns.
const maxSavedNodes = 160 * K * 2

// ErrBadNodesFile is returned by UnmarshalNodes for data it cannot read.
var ErrBadNodesFile = errors.New("dht: bad saved nodes")

// MarshalNodes encodes our ID and a routing table's nodes (Server.ID and
// Server.Nodes) for saving to disk.
func MarshalNodes(self ID, nodes []NodeInfo) ([]byte, error) {
	return bencode.Marshal(savedNodes{
		ID:     string(self[:]),
		Nodes:  string(appendCompactNodes(nil, nodes, false)),
		Nodes6: string(appendCompactNodes(nil, nodes, true)),
	})
}

// UnmarshalNodes decodes what MarshalNodes wrote; pass the results as
// Config.NodeID and Config.Nodes so that a restarted node keeps its place
// in the DHT and needs no bootstrap.
func UnmarshalNodes(b []byte) (ID, []NodeInfo, error) {
	var s savedNodes
	if err := bencode.Unmarshal(b, &s); err != nil {
		return ID{}, nil, errors.Join(ErrBadNodesFile, err)
	}
	var self ID
	if s.ID != "" {
		if len(s.ID) != 20 {
			return ID{}, nil, ErrBadNodesFile
		}
		self = ID([]byte(s.ID))
	}
	n4, ok4 := parseCompactNodes(s.Nodes, false, maxSavedNodes)
	n6, ok6 := parseCompactNodes(s.Nodes6, true, maxSavedNodes)
	if !ok4 || !ok6 {
		return ID{}, nil, ErrBadNodesFile
	}
	return self, append(n4, n6...), nil
}
