package pickertest

import (
	"fmt"
	"slices"

	"github.com/bittern/bittern/piecepicker"
)

// pick asks for want blocks for peer k and checks the answer against the model.
func (d *driver) pick(k, want int) error {
	m := d.m
	d.last = fmt.Sprintf("Pick(%d, %d)", k, want)
	wasUntouched := make([]bool, m.n)
	for i := range m.n {
		wasUntouched[i] = m.untouched(i)
	}
	got := d.p.Pick(m.peers[k].p, want, d.buf[:0])
	d.buf = got
	if len(got) > want {
		return fmt.Errorf("%s returned %d blocks", d.last, len(got))
	}
	var dups []piecepicker.Block
	for idx, b := range got {
		switch {
		case b.Piece < 0 || b.Piece >= m.n || b.Index < 0 || b.Index >= m.blocks[b.Piece]:
			return fmt.Errorf("%s: block %v out of range", d.last, b)
		case slices.Contains(got[:idx], b):
			return fmt.Errorf("%s: block %v returned twice", d.last, b)
		case !m.peers[k].has[b.Piece]:
			return fmt.Errorf("%s: block %v of a piece the peer lacks", d.last, b)
		case m.prio[b.Piece] == piecepicker.Skip && !m.due[b.Piece]:
			return fmt.Errorf("%s: block %v of a priority-0 piece without a deadline", d.last, b)
		case m.have[b.Piece]:
			return fmt.Errorf("%s: block %v of a verified piece", d.last, b)
		case m.peers[k].choked && !slices.Contains(m.peers[k].fast, b.Piece):
			return fmt.Errorf("%s: block %v from a choking peer outside its allowed-fast set %v", d.last, b, m.peers[k].fast)
		}
		if m.done(b) {
			return fmt.Errorf("%s: block %v already received or inside a pad file", d.last, b)
		}
		if slices.Contains(m.out[b], k) {
			return fmt.Errorf("%s: block %v already outstanding from this peer", d.last, b)
		}
		if len(m.out[b]) > 0 {
			dups = append(dups, b)
		}
		m.out[b] = append(m.out[b], k)
		if len(m.out[b]) > m.maxDup {
			return fmt.Errorf("%s: block %v outstanding from %d peers, max %d", d.last, b, len(m.out[b]), m.maxDup)
		}
	}
	endgame := m.numUntouched() == 0
	for _, b := range dups {
		if !endgame && !d.p.Critical(b.Piece) {
			return fmt.Errorf("%s: duplicate request for %v outside endgame and not time-critical", d.last, b)
		}
	}
	if err := d.checkOrder(k, got, wasUntouched); err != nil {
		return err
	}
	if len(got) == want {
		return nil
	}
	// Liveness: nothing the policy could have requested is left.
	for i := range m.n {
		if !m.allowed(k, i) {
			continue
		}
		for j := range m.blocks[i] {
			b := piecepicker.Block{Piece: i, Index: j}
			if m.done(b) {
				continue
			}
			if len(m.out[b]) == 0 {
				return fmt.Errorf("%s returned %d blocks but %v is free", d.last, len(got), b)
			}
			if endgame && len(m.out[b]) < m.maxDup && !slices.Contains(m.out[b], k) {
				return fmt.Errorf("%s returned %d blocks in endgame but %v may be duplicated", d.last, len(got), b)
			}
		}
	}
	return nil
}

// checkOrder checks the policy's order among pieces: every piece the Pick started (other
// than suggested, deadline and allowed-fast picks) must come after every started piece
// with free blocks left of at least its priority (any priority in Sequential mode), and be
// preferred to every piece the peer could have started but did not. RarestFirst prefers higher priority, then
// lower availability; Sequential prefers the lower index.
func (d *driver) checkOrder(k int, got []piecepicker.Block, wasUntouched []bool) error {
	m, pe := d.m, d.m.peers[k]
	if d.pol.Deadlines || pe.choked {
		return nil
	}
	for _, x := range got {
		if !wasUntouched[x.Piece] || slices.Contains(pe.suggested, x.Piece) {
			continue
		}
		for z := range m.n {
			if wasUntouched[z] || !m.allowed(k, z) || !m.hasFree(z) {
				continue
			}
			if d.pol.Config.Mode == piecepicker.Sequential || m.prio[z] >= m.prio[x.Piece] {
				return fmt.Errorf("%s started piece %d while started piece %d (priority %d) has free blocks",
					d.last, x.Piece, z, m.prio[z])
			}
		}
		for y := range m.n {
			if !m.untouched(y) || !m.allowed(k, y) {
				continue
			}
			var ok bool
			if d.pol.Config.Mode == piecepicker.Sequential {
				ok = x.Piece < y
			} else {
				px, py := m.prio[x.Piece], m.prio[y]
				ok = px > py || (px == py && m.availability(x.Piece) <= m.availability(y))
			}
			if !ok {
				return fmt.Errorf("%s started piece %d (priority %d, availability %d) before piece %d (priority %d, availability %d)",
					d.last, x.Piece, m.prio[x.Piece], m.availability(x.Piece), y, m.prio[y], m.availability(y))
			}
		}
	}
	return nil
}

// received delivers block b from peer k and checks the Arrival.
func (d *driver) received(k int, b piecepicker.Block) error {
	m := d.m
	d.last = fmt.Sprintf("Received(%d, %v)", k, b)
	a, err := d.p.Received(m.peers[k].p, b)
	if err != nil {
		return fmt.Errorf("%s: %w", d.last, err)
	}
	wasOut := m.dropOut(k, b)
	if m.have[b.Piece] {
		if !a.Duplicate || a.Unrequested == wasOut || len(a.Cancel) != 0 || a.Complete {
			return fmt.Errorf("%s: block of a verified piece: want a bare duplicate, Unrequested=%v, got %+v", d.last, !wasOut, a)
		}
		return nil
	}
	if a.Unrequested == wasOut {
		return fmt.Errorf("%s: Unrequested=%v, but outstanding=%v", d.last, a.Unrequested, wasOut)
	}
	already := m.done(b)
	if dup := already || !m.fetch(b.Piece); dup {
		if !a.Duplicate || len(a.Cancel) != 0 || a.Complete {
			return fmt.Errorf("%s: want a bare duplicate, got %+v", d.last, a)
		}
		return nil
	}
	if a.Duplicate {
		return fmt.Errorf("%s: needed block reported duplicate", d.last)
	}
	var cancel []int
	for _, pe := range a.Cancel {
		cancel = append(cancel, m.peerIndex(pe))
	}
	slices.Sort(cancel)
	others := slices.Clone(m.out[b])
	slices.Sort(others)
	if !slices.Equal(cancel, others) {
		return fmt.Errorf("%s: cancel %v, want %v", d.last, cancel, others)
	}
	delete(m.out, b)
	m.recv[b] = k
	if c := m.complete(b.Piece); a.Complete != c {
		return fmt.Errorf("%s: Complete=%v, want %v", d.last, a.Complete, c)
	}
	return nil
}

// finishPiece verifies or fails a complete piece.
func (d *driver) finishPiece() error {
	m := d.m
	var done []int
	for i := range m.n {
		if !m.have[i] && m.complete(i) {
			done = append(done, i)
		}
	}
	if len(done) == 0 {
		return nil
	}
	i := done[d.in.intn(len(done))]
	if d.in.byte()&1 == 0 {
		d.last = fmt.Sprintf("Verified(%d)", i)
		if err := d.p.Verified(i); err != nil {
			return fmt.Errorf("%s: %w", d.last, err)
		}
		m.verified(i)
		m.clearPiece(i)
		return nil
	}
	d.last = fmt.Sprintf("HashFailed(%d)", i)
	senders, err := d.p.HashFailed(i)
	if err != nil {
		return fmt.Errorf("%s: %w", d.last, err)
	}
	var got, want []int
	for _, pe := range senders {
		got = append(got, m.peerIndex(pe))
	}
	for j := range m.blocks[i] {
		b := piecepicker.Block{Piece: i, Index: j}
		if k, ok := m.recv[b]; ok && !slices.Contains(want, k) {
			want = append(want, k)
		}
		delete(m.recv, b)
	}
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		return fmt.Errorf("%s: senders %v, want %v", d.last, got, want)
	}
	return nil
}

// check compares the Picker's queries with the model.
func (d *driver) check() error {
	p, m := d.p, d.m
	if got, want := p.Remaining(), m.remaining(); got != want {
		return fmt.Errorf("p.Remaining %d, want %d", got, want)
	}
	if got, want := p.Endgame(), m.numUntouched() == 0 && m.remaining() > 0; got != want {
		return fmt.Errorf("p.Endgame %v, want %v", got, want)
	}
	for i := range m.n {
		if got, want := p.Availability(i), m.availability(i); got != want {
			return fmt.Errorf("p.Availability(%d) %d, want %d", i, got, want)
		}
		if p.HasPiece(i) != m.have[i] {
			return fmt.Errorf("p.HasPiece(%d) %v, want %v", i, !m.have[i], m.have[i])
		}
		if p.NumBlocks(i) != m.blocks[i] {
			return fmt.Errorf("p.NumBlocks(%d) %d, want %d", i, p.NumBlocks(i), m.blocks[i])
		}
		if p.Wanted(i) != m.wanted(i) {
			return fmt.Errorf("p.Wanted(%d) %v, want %v", i, !m.wanted(i), m.wanted(i))
		}
		if p.HasDeadline(i) != (m.due[i] && !m.have[i]) {
			return fmt.Errorf("p.HasDeadline(%d) %v, want %v", i, p.HasDeadline(i), m.due[i] && !m.have[i])
		}
		if p.Priority(i) != m.prio[i] {
			return fmt.Errorf("p.Priority(%d) %d, want %d", i, p.Priority(i), m.prio[i])
		}
	}
	st, reqs, peers := p.Stats(), 0, 0
	for _, ks := range m.out {
		reqs += len(ks)
	}
	for _, pe := range m.peers {
		if pe.connected {
			peers++
		}
	}
	if st.Requests != reqs || st.Peers != peers || st.Remaining != m.remaining() || st.Pieces != m.n {
		return fmt.Errorf("p.Stats %+v, want %d requests, %d peers, %d remaining", st, reqs, peers, m.remaining())
	}
	for k, pe := range m.peers {
		if !pe.connected {
			continue
		}
		if got, want := p.NumRequests(pe.p), m.numRequests(k); got != want {
			return fmt.Errorf("p.NumRequests(%d) %d, want %d", k, got, want)
		}
		interesting := false
		for i := range m.n {
			interesting = interesting || (pe.has[i] && m.fetch(i))
		}
		if p.Interesting(pe.p) != interesting {
			return fmt.Errorf("p.Interesting(%d) %v, want %v", k, !interesting, interesting)
		}
	}
	return nil
}
