package bittern

import (
	"github.com/bittern/bittern/peerwire"
)

// metadataServeLimit is how many ut_metadata pieces one connection is
// sent: every piece twice over, and a few more. Later requests are
// rejected, so a peer cannot make us send the info dictionary forever.
func metadataServeLimit(size int) int { return 2*peerwire.NumMetadataPieces(size) + 4 }

// onMetadataMessage answers a peer's BEP 9 ut_metadata message: a request
// for a piece of our info dictionary gets the piece (or a reject once the
// connection's allowance is spent, or for a piece out of range); data and
// rejects are not expected once we have the metadata and are ignored.
func (t *Torrent) onMetadataMessage(c *peerConn, payload []byte) {
	m, err := peerwire.ParseMetadataMessage(payload)
	if err != nil {
		t.dropConn(c, err)
		return
	}
	if m.Type != peerwire.MetadataRequest || c.metaID == 0 {
		return
	}
	info := t.mi.InfoBytes
	n := peerwire.NumMetadataPieces(len(info))
	reply := peerwire.MetadataMessage{Type: peerwire.MetadataReject, Piece: m.Piece}
	if m.Piece >= 0 && m.Piece < n && c.metaServed < metadataServeLimit(len(info)) {
		c.metaServed++
		begin := m.Piece * peerwire.MetadataPieceSize
		end := min(begin+peerwire.MetadataPieceSize, len(info))
		reply = peerwire.MetadataMessage{Type: peerwire.MetadataData, Piece: m.Piece, TotalSize: len(info), Data: info[begin:end]}
	}
	c.send(peerwire.Extended{ExtendedID: c.metaID, Payload: reply.AppendTo(nil)}.AppendTo(nil))
}
