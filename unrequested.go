package bittern

import "github.com/bittern/bittern/peerwire"

// BEP 6: with the Fast extension a peer that sends a piece we never asked
// it for breaks the protocol, and the connection ends. A block we asked
// for and then cancelled (endgame duplicates, a snubbed peer's pipeline)
// may still arrive — the cancel and the data cross — so each connection
// remembers the blocks it was sent cancels for until their data or a
// reject comes back. A peer that answers neither is not held to the rule
// once more than maxCancelled such blocks pile up.

// maxCancelled bounds the cancelled blocks remembered per connection.
const maxCancelled = 1024

// sendCancel sends c a cancel of block k and remembers it.
func (t *Torrent) sendCancel(c *peerConn, k blockKey) {
	c.send(peerwire.Cancel{Index: k.index, Begin: k.begin, Length: k.length}.AppendTo(nil))
	c.noteCancelled(k)
}

// noteCancelled remembers that a cancel of k went to c.
func (c *peerConn) noteCancelled(k blockKey) {
	if !c.fast || c.cancelOverflow {
		return
	}
	if len(c.cancelled) >= maxCancelled {
		c.cancelled, c.cancelOverflow = nil, true
		return
	}
	if c.cancelled == nil {
		c.cancelled = make(map[blockKey]struct{})
	}
	c.cancelled[k] = struct{}{}
}

// answered forgets a cancelled block whose data or reject arrived, and
// reports whether it was one.
func (c *peerConn) answered(k blockKey) bool {
	if _, ok := c.cancelled[k]; ok {
		delete(c.cancelled, k)
		return true
	}
	return false
}

// unrequested reports whether a piece message from c for k breaks BEP 6:
// c has the Fast extension, the picker had no request of k outstanding
// with c, and k is not a block we cancelled.
func (c *peerConn) unrequested(k blockKey, outstanding bool) bool {
	if outstanding {
		// A cancel of an earlier request of k, if any, stays noted: its
		// own answer may still come.
		return false
	}
	if c.answered(k) {
		return false
	}
	return c.fast && !c.cancelOverflow
}
