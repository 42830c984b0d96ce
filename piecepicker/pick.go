package piecepicker

import "slices"

// Pick chooses up to n blocks to request from peer next, marks them outstanding from it, and
// appends them to dst. The order of preference:
//
//  1. pieces with a deadline, earliest first; then, for time-critical pieces, blocks
//     outstanding from other peers for longer than Config.RerequestAfter (duplicates);
//  2. in RarestFirst mode, for each priority level from High down: pieces already started
//     (partial), the one closest to being fully requested first; then pieces the peer
//     suggested (BEP 6); then untouched pieces, rarest first, ties at random;
//  3. in Sequential mode (or while the peer chokes us): partial pieces, highest priority
//     then lowest index; suggested pieces; untouched pieces, lowest index first (while
//     choked: allowed-fast pieces in the order the peer announced them);
//  4. in endgame (every wanted piece that a connected peer has is started), blocks
//     outstanding from other peers, fewest requesters first, each from at most
//     Config.MaxDuplicates peers.
//
// Only pieces the peer has, with priority above zero or a deadline and not verified, are picked; while the
// peer chokes us, only pieces in its allowed-fast set. A block already outstanding is picked
// again only in steps 1 and 4, and never twice from one peer.
//
// Cost: O(1) amortized per block for seeds; see bestUntouched for other peers, plus a scan
// of the partial pieces (bounded by the number of outstanding pieces, not by n).
func (p *Picker) Pick(peer *Peer, n int, dst []Block) []Block {
	if peer.removed || n <= 0 || (p.wanted.Count() == 0 && len(p.deadlines) == 0) {
		return dst
	}
	if peer.choked && len(peer.allowedFast) == 0 {
		return dst
	}
	want := n
	now := p.now().UnixNano()

	for _, d := range p.deadlines {
		if want == 0 {
			break
		}
		if p.candidate(peer, d.piece) {
			dst = p.takeFree(peer, d.piece, dst, &want, now)
		}
	}
	for _, d := range p.deadlines {
		if want == 0 || d.at-now > int64(p.critical) {
			break
		}
		if pp := p.partialOf(d.piece); pp != nil && p.candidate(peer, d.piece) {
			for r := 1; r < p.maxDup && want > 0; r++ {
				dst = p.takeBusy(peer, pp, dst, &want, r, now-int64(p.rerequest))
			}
		}
	}

	if p.mode == RarestFirst && !peer.choked {
		for lvl := MaxPrio; lvl > Skip && want > 0; lvl-- {
			if p.partialsAt[lvl] > 0 {
				dst = p.pickPartials(peer, dst, &want, now, lvl)
			}
			dst = p.pickSuggested(peer, dst, &want, now, lvl)
			for want > 0 {
				i := p.bestUntouched(peer, lvl)
				if i < 0 {
					break
				}
				dst = p.takeFree(peer, i, dst, &want, now)
			}
		}
	} else {
		dst = p.pickPartials(peer, dst, &want, now, Skip)
		dst = p.pickSuggested(peer, dst, &want, now, Skip)
		for want > 0 {
			i := -1
			if peer.choked {
				for _, s := range peer.allowedFast {
					if p.untouched.Has(int(s)) && p.candidate(peer, int(s)) {
						i = int(s)
						break
					}
				}
			} else {
				i = p.firstUntouched(peer)
			}
			if i < 0 {
				break
			}
			dst = p.takeFree(peer, i, dst, &want, now)
		}
	}

	if want > 0 && p.obtainableUntouched() == 0 {
		for r := 1; r < p.maxDup && want > 0; r++ {
			for _, pp := range p.partials {
				if want == 0 {
					break
				}
				if p.candidate(peer, pp.piece) {
					dst = p.takeBusy(peer, pp, dst, &want, r, now)
				}
			}
		}
	}
	return dst
}

// candidate reports whether piece i may be requested from peer.
func (p *Picker) candidate(peer *Peer, i int) bool {
	return p.fetch(i) && (peer.seed || peer.has.Has(i)) && (!peer.choked || peer.allowed(i))
}

// takeFree requests free blocks of piece i from peer, lowest index first.
func (p *Picker) takeFree(peer *Peer, i int, dst []Block, want *int, now int64) []Block {
	pp := p.startPiece(i)
	j := pp.nextFree
	for ; j < len(pp.blocks) && *want > 0 && pp.free > 0; j++ {
		if pp.blocks[j].state == blockFree {
			p.request(peer, pp, j, now)
			dst = append(dst, Block{Piece: i, Index: j})
			*want--
		}
	}
	pp.nextFree = j
	return dst
}

// takeBusy requests from peer blocks of pp that are outstanding from exactly r other peers,
// not from peer, since at or before olderThan.
func (p *Picker) takeBusy(peer *Peer, pp *partial, dst []Block, want *int, r int, olderThan int64) []Block {
	for j := range pp.blocks {
		if *want == 0 {
			break
		}
		b := &pp.blocks[j]
		if b.state != blockRequested || len(b.reqs) != r || b.at > olderThan || slices.Contains(b.reqs, peer) {
			continue
		}
		p.request(peer, pp, j, b.at)
		dst = append(dst, Block{Piece: pp.piece, Index: j})
		*want--
	}
	return dst
}

// pickSuggested starts the untouched pieces the peer suggested, of priority lvl (any if
// lvl is Skip).
func (p *Picker) pickSuggested(peer *Peer, dst []Block, want *int, now int64, lvl Priority) []Block {
	for _, s := range peer.suggested {
		if *want == 0 {
			break
		}
		if i := int(s); p.untouched.Has(i) && (lvl == Skip || p.prio[i] == lvl) && p.candidate(peer, i) {
			dst = p.takeFree(peer, i, dst, want, now)
		}
	}
	return dst
}

// pickPartials requests free blocks of started pieces of priority lvl (any if lvl is Skip),
// best piece first.
func (p *Picker) pickPartials(peer *Peer, dst []Block, want *int, now int64, lvl Priority) []Block {
	for *want > 0 {
		var best *partial
		for _, pp := range p.open {
			if (lvl == Skip || p.prio[pp.piece] == lvl) && p.candidate(peer, pp.piece) && (best == nil || p.betterPartial(pp, best)) {
				best = pp
			}
		}
		if best == nil {
			break
		}
		dst = p.takeFree(peer, best.piece, dst, want, now)
	}
	return dst
}

// betterPartial orders started pieces: higher priority, then (RarestFirst) fewer free
// blocks and lower availability, then lower index.
func (p *Picker) betterPartial(a, b *partial) bool {
	if pa, pb := p.prio[a.piece], p.prio[b.piece]; pa != pb {
		return pa > pb
	}
	if p.mode == RarestFirst {
		if a.free != b.free {
			return a.free < b.free
		}
		if aa, ab := p.avail[a.piece], p.avail[b.piece]; aa != ab {
			return aa < ab
		}
	}
	return a.piece < b.piece
}
