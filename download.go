package bittern

import (
	"errors"
	"time"

	"github.com/bittern/bittern/bencode"
	"github.com/bittern/bittern/peerwire"
	"github.com/bittern/bittern/piecepicker"
	"github.com/bittern/bittern/storage"
)

// handleMessage applies one message from a peer to the torrent's state.
func (t *Torrent) handleMessage(c *peerConn, ev peerEvent) {
	p := t.picker
	switch ev.id {
	case peerwire.IDChoke:
		c.peerChoking = true
		p.PeerChoked(c.pp, true)
		if !c.fast {
			// Without BEP 6 a choke silently drops our requests.
			p.ReleaseAll(c.pp)
			t.requestAll()
		}
	case peerwire.IDUnchoke:
		c.peerChoking = false
		p.PeerChoked(c.pp, false)
		t.request(c)
	case peerwire.IDInterested:
		c.peerInterested = true
		if c.amChoking && t.numUnchoked() < t.s.cfg.UploadSlots {
			t.unchoke(c)
		}
	case peerwire.IDNotInterested:
		c.peerInterested = false
		if !c.amChoking {
			t.choke(c)
			t.fillSlots()
		}
	case peerwire.IDHave:
		i := int(ev.index)
		if !c.have.Set(i) {
			return
		}
		if err := p.PeerHave(c.pp, i); err != nil {
			t.dropConn(c, err)
			return
		}
		if !c.amInterested && !p.HasPiece(i) && (p.Priority(i) > piecepicker.Skip || p.HasDeadline(i)) {
			t.setInterested(c, true)
		}
		t.dropIfBothSeeds(c)
	case peerwire.IDBitfield:
		if err := c.have.UnmarshalWire(ev.data); err != nil {
			t.dropConn(c, errors.Join(errProtocol, err))
			return
		}
		if err := p.PeerBitfield(c.pp, c.have); err != nil {
			t.dropConn(c, err)
			return
		}
		t.updateInterest(c)
		t.dropIfBothSeeds(c)
	case peerwire.IDHaveAll, peerwire.IDHaveNone:
		if !c.fast {
			t.dropConn(c, errProtocol)
			return
		}
		if ev.id == peerwire.IDHaveAll {
			c.have.SetAll()
			p.PeerHaveAll(c.pp)
		} else {
			c.have.ClearAll()
			p.PeerHaveNone(c.pp)
		}
		t.updateInterest(c)
		t.dropIfBothSeeds(c)
	case peerwire.IDRequest:
		t.onRequest(c, blockKey{ev.index, ev.begin, ev.length})
	case peerwire.IDCancel:
		t.onCancel(c, blockKey{ev.index, ev.begin, ev.length})
	case peerwire.IDReject:
		if !c.fast {
			t.dropConn(c, errProtocol)
			return
		}
		c.answered(blockKey{ev.index, ev.begin, ev.length})
		if b, err := p.BlockAt(int(ev.index), int(ev.begin), int(ev.length)); err == nil {
			// A reject crossing our cancel is not an error.
			_ = p.Rejected(c.pp, b)
		}
		t.request(c)
	case peerwire.IDAllowedFast:
		if !c.fast {
			t.dropConn(c, errProtocol)
			return
		}
		if p.PeerAllowedFast(c.pp, int(ev.index)) == nil {
			t.request(c)
		}
	case peerwire.IDSuggest:
		if !c.fast {
			t.dropConn(c, errProtocol)
			return
		}
		_ = p.PeerSuggest(c.pp, int(ev.index))
	case peerwire.IDExtended:
		if ev.extID == 0 {
			var h extHandshake
			// A malformed handshake only loses us the peer's reqq.
			if bencode.Unmarshal(ev.data, &h) == nil {
				if h.Reqq > 0 {
					c.reqq = h.Reqq
				}
				if id, ok := h.M[peerwire.ExtMetadata]; ok && id >= 0 && id <= 255 {
					c.metaID = uint8(id)
				}
				if id, ok := h.M[peerwire.ExtPEX]; ok && id >= 0 && id <= 255 {
					c.pexID = uint8(id)
				}
				t.onPeerUploadOnly(c, h.UploadOnly != 0)
				if h.P > 0 && h.P <= 65535 {
					c.listenPort = uint16(h.P)
				}
			}
			return
		}
		switch ev.extID {
		case extIDMetadata:
			t.onMetadataMessage(c, ev.data)
		case extIDPEX:
			t.onPEX(c, ev.data, time.Now())
		}
	case peerwire.IDPiece:
		t.onPiece(c, ev)
	}
}

// dropIfBothSeeds closes a connection between two seeds: neither has
// anything to give the other.
func (t *Torrent) dropIfBothSeeds(c *peerConn) {
	if (c.have.All() || c.peerUploadOnly) && !t.wantsData() {
		t.dropConnGraceful(c)
	}
}

// updateInterest sends interested or not interested as the peer's pieces
// and ours require.
func (t *Torrent) updateInterest(c *peerConn) {
	t.setInterested(c, t.picker.Interesting(c.pp))
}

func (t *Torrent) setInterested(c *peerConn, want bool) {
	if want == c.amInterested {
		return
	}
	c.amInterested = want
	if want {
		c.send(peerwire.Interested{}.AppendTo(nil))
		t.request(c)
	} else {
		c.send(peerwire.NotInterested{}.AppendTo(nil))
	}
}

// request tops up the peer's pipeline of block requests.
func (t *Torrent) request(c *peerConn) {
	if !c.amInterested || c.removed {
		return
	}
	depth := t.pipelineDepth(c)
	outstanding := t.picker.NumRequests(c.pp)
	want := depth - outstanding
	// Top up in batches of a quarter of the pipeline: one write (and one
	// writer wake-up) per batch rather than per block received.
	if want <= 0 || (outstanding > 0 && want < depth/4) {
		return
	}
	c.blocks = t.picker.Pick(c.pp, want, c.blocks[:0])
	if len(c.blocks) == 0 {
		return
	}
	if outstanding == 0 {
		c.lastBlock = time.Now() // the request timeout starts now
	}
	msg := make([]byte, 0, 17*len(c.blocks))
	for _, b := range c.blocks {
		begin, length, ok := t.picker.BlockSpan(b)
		if !ok {
			continue
		}
		msg = peerwire.Request{Index: uint32(b.Piece), Begin: uint32(begin), Length: uint32(length)}.AppendTo(msg)
	}
	c.send(msg)
}

// requestAll tops up every peer's pipeline, after blocks went back to the
// pool.
func (t *Torrent) requestAll() {
	for c := range t.conns {
		if !c.peerChoking {
			t.request(c)
		}
	}
	t.requestWebSeeds()
}

// onPiece takes a block from a peer: it records it with the picker and
// hands it to the I/O pool to be written.
func (t *Torrent) onPiece(c *peerConn, ev peerEvent) {
	discard := func() {
		t.wasted.Add(int64(len(ev.data)))
		peerwire.PutBlock(ev.data)
		c.releaseToken()
	}
	b, err := t.picker.BlockAt(int(ev.index), int(ev.begin), int(ev.length))
	if err != nil {
		discard()
		return
	}
	c.lastBlock = time.Now()
	c.snubbed = false
	t.pipelineBlock(c)
	a, err := t.picker.Received(c.pp, b)
	if err == nil && c.unrequested(blockKey{ev.index, ev.begin, ev.length}, !a.Unrequested) {
		discard()
		t.dropConn(c, errUnrequested)
		return
	}
	if err != nil || a.Duplicate {
		discard()
		t.request(c)
		return
	}
	for _, other := range a.Cancel {
		if oc := t.byPicker[other]; oc != nil {
			t.sendCancel(oc, blockKey{ev.index, ev.begin, ev.length})
		}
	}
	piece := b.Piece
	t.noteContribution(piece, c)
	t.queueWrite(piece, a.Complete, pendingBlock{begin: int64(ev.begin), data: ev.data, c: c})
	t.request(c)
}

// onWritten runs on the owner when n block writes of a piece finished;
// err is the first that failed.
func (t *Torrent) onWritten(piece, n int, err error) {
	if err != nil {
		t.log.Warn("write", "piece", piece, "err", err)
		t.emitStorageError("write", piece, err)
		t.writeFailed[piece] = true
	}
	t.pendingWrites[piece] -= n
	if t.pendingWrites[piece] > 0 {
		return
	}
	delete(t.pendingWrites, piece)
	if !t.hashWanted[piece] {
		return
	}
	delete(t.hashWanted, piece)
	if t.writeFailed[piece] {
		delete(t.writeFailed, piece)
		delete(t.hashers, piece)
		t.onHashed(piece, false)
		return
	}
	t.hashPiece(piece)
}

// onHashed runs on the owner when a piece's hash check finished.
func (t *Torrent) onHashed(piece int, ok bool) {
	t.settleTrust(piece, ok)
	t.settleWebSeeds(piece, ok)
	if !ok {
		t.hashFails.Add(1)
		t.wasted.Add(t.info.PieceSize(piece))
		t.log.Debug("hash failed", "piece", piece)
		if _, err := t.picker.HashFailed(piece); err != nil {
			t.log.Warn("hash failed", "piece", piece, "err", err)
		}
		t.requestAll()
		return
	}
	selected := t.picker.Wanted(piece) // else fetched for a reader (readskip.go)
	if err := t.picker.Verified(piece); err != nil {
		t.log.Warn("verified", "piece", piece, "err", err)
		return
	}
	t.numHave.Store(int64(t.picker.NumHave()))
	t.bytesHave.Add(t.info.PieceSize(piece))
	t.noteLeft()
	t.verified.set(piece) // wakes the readers waiting for it
	t.onPieceVerified(piece)
	have := peerwire.Have{Index: uint32(piece)}.AppendTo(nil)
	// Like libtorrent (send_redundant_have), peers that have the piece
	// are told too: a seed learns that we are done and can hang up.
	for c := range t.conns {
		c.send(have)
		if c.amInterested && !t.picker.Interesting(c.pp) {
			t.setInterested(c, false)
		}
	}
	if t.picker.Done() && selected {
		t.onComplete()
		return
	}
	if !selected {
		t.syncUploadOnly() // the last piece a reader waited for
	}
	t.requestAll()
}

// onComplete runs once every piece is verified: it persists completion
// and drops connections to other seeds.
func (t *Torrent) onComplete() {
	t.log.Debug("complete")
	t.markComplete()
	t.emit(func(b EventBase) Event { return TorrentCompleted{b} })
	t.syncUploadOnly()
	for c := range t.conns {
		t.dropIfBothSeeds(c)
	}
	if cs, ok := t.st.(storage.CompletionStore); ok {
		verified := make([]bool, t.picker.NumPieces())
		for i := range verified {
			verified[i] = t.picker.HasPiece(i)
		}
		t.jobs.Add(1)
		t.s.io.submit(func() {
			defer t.jobs.Done()
			if err := cs.SaveCompletion(t.ctx, verified); err != nil {
				t.log.Debug("save completion", "err", err)
				if t.ctx.Err() == nil {
					t.emitStorageError("save completion", -1, err)
				}
			}
		})
	}
}

// checkRequestTimeouts snubs peers that let their requests time out: the
// requests are cancelled and go back to the picker for other peers.
func (t *Torrent) checkRequestTimeouts(now time.Time) {
	timeout := t.s.cfg.RequestTimeout
	released := false
	for c := range t.conns {
		if t.picker.NumRequests(c.pp) == 0 || now.Sub(c.lastBlock) < timeout {
			continue
		}
		c.log.Debug("snubbed", "requests", t.picker.NumRequests(c.pp))
		c.snubbed = true
		c.lastBlock = now
		c.blocks = t.picker.AppendRequests(c.pp, c.blocks[:0])
		var msg []byte
		for _, b := range c.blocks {
			if begin, length, ok := t.picker.BlockSpan(b); ok {
				msg = peerwire.Cancel{Index: uint32(b.Piece), Begin: uint32(begin), Length: uint32(length)}.AppendTo(msg)
				c.noteCancelled(blockKey{uint32(b.Piece), uint32(begin), uint32(length)})
			}
		}
		t.picker.ReleaseAll(c.pp)
		c.send(msg)
		released = true
	}
	if released {
		t.requestAll()
	}
}
