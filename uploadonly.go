package bittern

import (
	"github.com/bittern/bittern/bencode"
	"github.com/bittern/bittern/peerwire"
)

// BEP 21 partial seeds. Our extended handshake says upload_only: 1 while
// every selected piece is verified (a seed, or a partial seed that skipped
// files) and no Reader waits for a piece (readskip.go), and a new handshake goes to every peer when that changes (BEP 10
// allows a handshake at any time; its "m" is additive, so the full one is
// resent). Two peers that both want nothing more hang up, as two seeds do.
// Trackers are told with BEP 21's event=paused on every regular announce
// (announce.go); "left" stays the bytes missing from the whole torrent.

// appendExtHandshake appends our BEP 10 extended handshake for c to msg
// and records the upload_only it states.
func (t *Torrent) appendExtHandshake(msg []byte, c *peerConn) []byte {
	m := map[string]int{peerwire.ExtMetadata: extIDMetadata}
	if t.pexEnabled() {
		m[peerwire.ExtPEX] = extIDPEX
	}
	done := !t.wantsData()
	h := extHandshake{
		M:            m,
		V:            "bittern 0.1",
		Reqq:         t.s.cfg.MaxUploadQueue,
		P:            t.s.listenPort(),
		MetadataSize: len(t.mi.InfoBytes),
	}
	if done {
		h.UploadOnly = 1
	}
	payload, err := bencode.Marshal(h)
	if err != nil {
		return msg
	}
	c.sentUploadOnly = done
	return peerwire.Extended{ExtendedID: 0, Payload: payload}.AppendTo(msg)
}

// syncUploadOnly sends a new extended handshake to each peer whose last
// one from us no longer says whether we want anything.
func (t *Torrent) syncUploadOnly() {
	done := !t.wantsData()
	for c := range t.conns {
		if c.ext && c.sentUploadOnly != done {
			c.send(t.appendExtHandshake(nil, c))
		}
	}
}

// onPeerUploadOnly records the upload_only of a peer's extended handshake;
// if neither side wants anything more, the connection ends.
func (t *Torrent) onPeerUploadOnly(c *peerConn, uploadOnly bool) {
	c.peerUploadOnly = uploadOnly
	if uploadOnly {
		t.dropIfBothSeeds(c)
	}
}
