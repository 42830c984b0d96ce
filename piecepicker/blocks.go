package piecepicker

import (
	"fmt"
	"slices"
)

// Block states within a partial piece.
const (
	blockFree uint8 = iota
	blockRequested
	blockReceived
)

// partial is the block-level state of a piece that has been started and not verified.
type partial struct {
	piece    int
	blocks   []blockState
	free     int // blocks in blockFree
	received int // blocks in blockReceived
	nextFree int // every free block index is >= nextFree
	openPos  int // index in Picker.open while free > 0, else -1
	pad      int // blocks inside BEP 47 pad files: received from the start, never requested
	// lazy lists the peers that dropped the piece from their candidates while it was
	// started and wanted; they get it back if it returns to the buckets (see staleCand).
	lazy []*Peer
}

type blockState struct {
	state uint8
	reqs  []*Peer // peers the block is outstanding from, first requester first
	at    int64   // when the first outstanding request was made, unix nanoseconds
	from  *Peer   // the peer whose data was received
}

// Arrival is the outcome of Received.
type Arrival struct {
	// Cancel lists the other peers the block was outstanding from (endgame or
	// time-critical duplicates); send each a cancel. It is valid until the next call on
	// the Picker.
	Cancel []*Peer
	// Complete is set when every block of the piece is now received: hash the piece, then
	// call Verified or HashFailed.
	Complete bool
	// Duplicate is set when the data is not needed (the block was already received, the
	// piece verified, or the piece has priority zero and no deadline): discard it.
	Duplicate bool
	// Unrequested is set when the block had not been requested from this peer. With the
	// fast extension (BEP 6) that is a protocol violation.
	Unrequested bool
}

// startPiece gives piece i its block-level state, taking it out of the buckets.
func (p *Picker) startPiece(i int) *partial {
	if k := p.part[i]; k >= 0 {
		return p.partials[k]
	}
	p.bucketRemove(i)
	var pp *partial
	if k := len(p.pool); k > 0 {
		pp = p.pool[k-1]
		p.pool = p.pool[:k-1]
	} else {
		pp = new(partial)
	}
	nb := p.NumBlocks(i)
	if cap(pp.blocks) < nb {
		pp.blocks = make([]blockState, nb)
	}
	pp.blocks = pp.blocks[:nb]
	pp.piece, pp.free, pp.received, pp.nextFree, pp.openPos, pp.pad = i, nb, 0, 0, -1, 0
	for _, j := range p.pads[i] {
		pp.blocks[j].state = blockReceived
		pp.free--
		pp.received++
		pp.pad++
	}
	p.part[i] = int32(len(p.partials))
	p.partials = append(p.partials, pp)
	p.freeChanged(pp)
	p.partialsAt[p.prio[i]]++
	return pp
}

// endPiece drops the block-level state of piece i; every block must be free and have no
// outstanding requests. The piece returns to the buckets if it is still wanted.
func (p *Picker) endPiece(i int) {
	k := p.part[i]
	if k < 0 {
		return
	}
	pp := p.partials[k]
	pp.free = 0
	p.freeChanged(pp)
	last := p.partials[len(p.partials)-1]
	p.partials[k] = last
	p.part[last.piece] = k
	p.partials[len(p.partials)-1] = nil
	p.partials = p.partials[:len(p.partials)-1]
	p.part[i] = -1
	p.partialsAt[p.prio[i]]--
	for j := range pp.blocks {
		b := &pp.blocks[j]
		clear(b.reqs)
		b.reqs, b.from, b.state, b.at = b.reqs[:0], nil, blockFree, 0
	}
	p.pool = append(p.pool, pp)
	if p.wanted.Has(i) {
		p.bucketAdd(i)
		for _, pe := range pp.lazy {
			p.reCand(pe, i)
		}
	}
	clear(pp.lazy)
	pp.lazy = pp.lazy[:0]
}

// freeChanged keeps pp in Picker.open exactly while it has free blocks.
func (p *Picker) freeChanged(pp *partial) {
	switch {
	case pp.free > 0 && pp.openPos < 0:
		pp.openPos = len(p.open)
		p.open = append(p.open, pp)
	case pp.free == 0 && pp.openPos >= 0:
		last := p.open[len(p.open)-1]
		p.open[pp.openPos] = last
		last.openPos = pp.openPos
		p.open[len(p.open)-1] = nil
		p.open = p.open[:len(p.open)-1]
		pp.openPos = -1
	}
}

// partialOf returns the block state of piece i, or nil if it was not started.
func (p *Picker) partialOf(i int) *partial {
	if k := p.part[i]; k >= 0 {
		return p.partials[k]
	}
	return nil
}

// request marks block j of pp outstanding from peer.
func (p *Picker) request(peer *Peer, pp *partial, j int, now int64) {
	b := &pp.blocks[j]
	if b.state == blockFree {
		b.state = blockRequested
		b.at = now
		pp.free--
		p.freeChanged(pp)
	}
	b.reqs = append(b.reqs, peer)
	peer.reqs = append(peer.reqs, Block{Piece: pp.piece, Index: j})
}

// unrequest removes peer from block j's requesters; the block becomes free when no
// requester is left. It reports whether peer was a requester.
func (p *Picker) unrequest(peer *Peer, pp *partial, j int) bool {
	b := &pp.blocks[j]
	k := slices.Index(b.reqs, peer)
	if k < 0 {
		return false
	}
	b.reqs = slices.Delete(b.reqs, k, k+1)
	if len(b.reqs) == 0 && b.state == blockRequested {
		b.state = blockFree
		b.at = 0
		pp.free++
		pp.nextFree = min(pp.nextFree, j)
		p.freeChanged(pp)
	}
	return true
}

// maybeEnd dissolves a partial piece that holds no progress and no requests.
func (p *Picker) maybeEnd(pp *partial) {
	if pp.free+pp.pad == len(pp.blocks) {
		p.endPiece(pp.piece)
	}
}

// Release returns a block requested from peer to the pool: the request was cancelled,
// timed out or will not be answered. It reports whether b was outstanding from peer.
func (p *Picker) Release(peer *Peer, b Block) bool {
	if !p.validBlock(b) || !peer.dropRequest(b) {
		return false
	}
	pp := p.partialOf(b.Piece)
	if pp == nil {
		return true
	}
	p.unrequest(peer, pp, b.Index)
	p.maybeEnd(pp)
	return true
}

// Rejected records a BEP 6 reject-request: the block returns to the pool, and if the peer
// chokes us the piece leaves its allowed-fast set (the peer no longer honours it). It fails
// with ErrNotRequested if b was not outstanding from peer (BEP 6: close the connection),
// unless its piece is verified (Verified drops the piece's requests).
func (p *Picker) Rejected(peer *Peer, b Block) error {
	if !p.Release(peer, b) {
		if p.have.Has(b.Piece) {
			return nil
		}
		return fmt.Errorf("%w: reject %v from %v", ErrNotRequested, b, peer)
	}
	if peer.choked {
		if k := slices.Index(peer.allowedFast, int32(b.Piece)); k >= 0 {
			peer.allowedFast = slices.Delete(peer.allowedFast, k, k+1)
		}
	}
	return nil
}

// ReleaseAll returns every block outstanding from peer to the pool: on a choke without the
// fast extension, or before RemovePeer.
func (p *Picker) ReleaseAll(peer *Peer) {
	for _, b := range peer.reqs {
		if pp := p.partialOf(b.Piece); pp != nil {
			p.unrequest(peer, pp, b.Index)
			p.maybeEnd(pp)
		}
	}
	peer.reqs = peer.reqs[:0]
}

// Received records that the data of block b arrived from peer and was stored. Blocks that
// are no longer needed are reported as Duplicate and change nothing.
func (p *Picker) Received(peer *Peer, b Block) (Arrival, error) {
	if peer.removed {
		return Arrival{}, ErrPeerRemoved
	}
	if !p.validBlock(b) {
		return Arrival{}, fmt.Errorf("%w: %v", ErrBadBlock, b)
	}
	requested := peer.dropRequest(b)
	if p.have.Has(b.Piece) {
		// Verified dropped any requests of the piece still outstanding, and its caller
		// cancelled them: the caller knows those; Unrequested covers only this list.
		return Arrival{Duplicate: true, Unrequested: !requested}, nil
	}
	a := Arrival{Unrequested: !requested}
	pp := p.partialOf(b.Piece)
	if pp == nil {
		if !p.fetch(b.Piece) {
			a.Duplicate = true
			return a, nil
		}
		pp = p.startPiece(b.Piece)
	}
	bs := &pp.blocks[b.Index]
	if requested {
		if k := slices.Index(bs.reqs, peer); k >= 0 {
			bs.reqs = slices.Delete(bs.reqs, k, k+1)
		}
	}
	if bs.state == blockReceived || !p.fetch(b.Piece) {
		a.Duplicate = true
		if bs.state == blockRequested && len(bs.reqs) == 0 {
			bs.state = blockFree
			pp.free++
			pp.nextFree = min(pp.nextFree, b.Index)
			p.freeChanged(pp)
		}
		p.maybeEnd(pp) // a pad block may have started the piece
		return a, nil
	}
	if bs.state == blockFree {
		pp.free--
		p.freeChanged(pp)
	}
	p.cancel = p.cancel[:0]
	for _, o := range bs.reqs {
		o.dropRequest(b)
		p.cancel = append(p.cancel, o)
	}
	clear(bs.reqs)
	bs.reqs = bs.reqs[:0]
	bs.state = blockReceived
	bs.from = peer
	pp.received++
	a.Cancel = p.cancel
	a.Complete = pp.received == len(pp.blocks)
	return a, nil
}

// Lost returns a received block to the pool: its data never reached storage (a failed
// write). It reports whether b was received and not yet verified.
func (p *Picker) Lost(b Block) bool {
	if !p.validBlock(b) {
		return false
	}
	pp := p.partialOf(b.Piece)
	if pp == nil || pp.blocks[b.Index].state != blockReceived || p.isPad(b) {
		return false
	}
	bs := &pp.blocks[b.Index]
	bs.state, bs.from = blockFree, nil
	pp.received--
	pp.free++
	pp.nextFree = min(pp.nextFree, b.Index)
	p.freeChanged(pp)
	p.maybeEnd(pp)
	return true
}

// Verified records that piece i passed its hash check and is stored. Requests still
// outstanding for it (possible only if it is called before the piece is complete, as
// MarkHave may be) are dropped from their peers' lists: cancel them; later data for the
// piece is reported Duplicate and Unrequested (the caller knows which it cancelled), and
// rejects for it are accepted.
func (p *Picker) Verified(i int) error {
	if uint(i) >= uint(p.n) {
		return fmt.Errorf("%w: verified %d of %d", ErrBadPiece, i, p.n)
	}
	if !p.have.Set(i) {
		return nil
	}
	p.wanted.Clear(i)
	p.bucketRemove(i)
	if pp := p.partialOf(i); pp != nil {
		for j := range pp.blocks {
			bs := &pp.blocks[j]
			for _, o := range bs.reqs {
				o.dropRequest(Block{Piece: i, Index: j})
			}
		}
		p.endPiece(i)
	}
	p.dropDeadline(i)
	return nil
}

// MarkHave records piece i as verified without downloading it (resume data, a recheck).
func (p *Picker) MarkHave(i int) error { return p.Verified(i) }

// ClearHave forgets that piece i was verified (its data was lost or failed a recheck); it
// becomes wanted again if its priority is above zero. A piece made only of pad blocks
// stays verified.
func (p *Picker) ClearHave(i int) error {
	if uint(i) >= uint(p.n) {
		return fmt.Errorf("%w: clear have %d of %d", ErrBadPiece, i, p.n)
	}
	if len(p.pads[i]) == p.NumBlocks(i) {
		return nil // only pad blocks: nothing to download, stays verified
	}
	if !p.have.Clear(i) {
		return nil
	}
	if p.prio[i] > Skip {
		p.wanted.Set(i)
		p.bucketAdd(i)
		p.logRewanted(i)
	}
	return nil
}

// HashFailed records that piece i failed its hash check: every received block returns to
// the pool. It returns the peers that sent data for the piece, each once, for the caller's
// banning policy; the slice is valid until the next call on the Picker.
func (p *Picker) HashFailed(i int) ([]*Peer, error) {
	if uint(i) >= uint(p.n) {
		return nil, fmt.Errorf("%w: hash failed %d of %d", ErrBadPiece, i, p.n)
	}
	p.senders = p.senders[:0]
	pp := p.partialOf(i)
	if pp == nil {
		return p.senders, nil
	}
	for j := range pp.blocks {
		bs := &pp.blocks[j]
		if bs.state != blockReceived || p.isPad(Block{Piece: i, Index: j}) {
			continue
		}
		if bs.from != nil && !slices.Contains(p.senders, bs.from) {
			p.senders = append(p.senders, bs.from)
		}
		bs.state, bs.from = blockFree, nil
		pp.received--
		pp.free++
	}
	pp.nextFree = 0
	p.freeChanged(pp)
	p.maybeEnd(pp)
	return p.senders, nil
}
