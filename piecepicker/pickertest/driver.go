package pickertest

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/bittern/bittern/piecepicker"
)

const maxPeers = 12

type driver struct {
	p    *piecepicker.Picker
	m    *model
	in   *input
	pol  Policy
	now  *int64
	last string
	buf  []piecepicker.Block
}

type bools []bool

func (b bools) Has(i int) bool { return i >= 0 && i < len(b) && b[i] }
func (b bools) Len() int       { return len(b) }

// connected picks a connected peer, or -1.
func (d *driver) connected() int {
	var ks []int
	for k, pe := range d.m.peers {
		if pe.connected {
			ks = append(ks, k)
		}
	}
	if len(ks) == 0 {
		return -1
	}
	return ks[d.in.intn(len(ks))]
}

// outstanding picks one of peer k's outstanding blocks (per the model), or ok=false.
func (d *driver) outstanding(k int) (piecepicker.Block, bool) {
	var bs []piecepicker.Block
	for b, ks := range d.m.out {
		if slices.Contains(ks, k) {
			bs = append(bs, b)
		}
	}
	if len(bs) == 0 {
		return piecepicker.Block{}, false
	}
	slices.SortFunc(bs, func(a, b piecepicker.Block) int {
		if a.Piece != b.Piece {
			return a.Piece - b.Piece
		}
		return a.Index - b.Index
	})
	return bs[d.in.intn(len(bs))], true
}

func (d *driver) step() error {
	op := d.in.intn(26)
	p, m := d.p, d.m
	if op != 0 && op < 18 && d.connected() < 0 {
		op = 0
	}
	switch op {
	case 0:
		if len(m.peers) >= maxPeers {
			return nil
		}
		d.last = "AddPeer"
		m.peers = append(m.peers, &mpeer{p: p.AddPeer(), has: make([]bool, m.n), connected: true, choked: true})
	case 1:
		k := d.connected()
		d.last = fmt.Sprintf("RemovePeer(%d)", k)
		p.RemovePeer(m.peers[k].p)
		m.peers[k].connected = false
		m.dropAll(k)
	case 2, 3:
		k, i := d.connected(), d.in.intn(m.n)
		d.last = fmt.Sprintf("PeerHave(%d, %d)", k, i)
		if err := p.PeerHave(m.peers[k].p, i); err != nil {
			return fmt.Errorf("%s: %w", d.last, err)
		}
		m.peers[k].has[i] = true
	case 4:
		k := d.connected()
		r := rand.New(rand.NewPCG(uint64(d.in.byte()), 1))
		density := d.in.intn(5)
		bf := make(bools, m.n)
		for i := range bf {
			bf[i] = r.IntN(4) < density
		}
		d.last = fmt.Sprintf("PeerBitfield(%d, %v)", k, bf)
		if err := p.PeerBitfield(m.peers[k].p, bf); err != nil {
			return fmt.Errorf("%s: %w", d.last, err)
		}
		copy(m.peers[k].has, bf)
		if err := p.PeerBitfield(m.peers[k].p, make(bools, m.n+1)); !errors.Is(err, piecepicker.ErrBitfieldLen) {
			return fmt.Errorf("bitfield of wrong length: %v", err)
		}
	case 5:
		k := d.connected()
		d.last = fmt.Sprintf("PeerHaveAll(%d)", k)
		p.PeerHaveAll(m.peers[k].p)
		for i := range m.peers[k].has {
			m.peers[k].has[i] = true
		}
	case 6:
		k := d.connected()
		d.last = fmt.Sprintf("PeerHaveNone(%d)", k)
		p.PeerHaveNone(m.peers[k].p)
		clear(m.peers[k].has)
	case 7:
		k, c := d.connected(), d.in.byte()&1 == 1
		d.last = fmt.Sprintf("PeerChoked(%d, %v)", k, c)
		p.PeerChoked(m.peers[k].p, c)
		m.peers[k].choked = c
	case 8:
		k, i := d.connected(), d.in.intn(m.n)
		d.last = fmt.Sprintf("PeerAllowedFast(%d, %d)", k, i)
		if err := p.PeerAllowedFast(m.peers[k].p, i); err != nil {
			return fmt.Errorf("%s: %w", d.last, err)
		}
		if pe := m.peers[k]; len(pe.fast) < piecepicker.MaxAllowedFast && !slices.Contains(pe.fast, i) {
			pe.fast = append(pe.fast, i)
		}
	case 9:
		k, i := d.connected(), d.in.intn(m.n)
		d.last = fmt.Sprintf("PeerSuggest(%d, %d)", k, i)
		if err := p.PeerSuggest(m.peers[k].p, i); err != nil {
			return fmt.Errorf("%s: %w", d.last, err)
		}
		if pe := m.peers[k]; !slices.Contains(pe.suggested, i) {
			if len(pe.suggested) >= piecepicker.MaxSuggested {
				pe.suggested = pe.suggested[1:]
			}
			pe.suggested = append(pe.suggested, i)
		}
	case 10, 11, 12:
		return d.pick(d.connected(), 1+d.in.intn(8))
	case 13, 14:
		k := d.connected()
		b, ok := d.outstanding(k)
		if !ok {
			return d.pick(k, 1+d.in.intn(8))
		}
		return d.received(k, b)
	case 15:
		k := d.connected()
		i := d.in.intn(m.n)
		return d.received(k, piecepicker.Block{Piece: i, Index: d.in.intn(m.blocks[i])})
	case 16:
		k := d.connected()
		b, ok := d.outstanding(k)
		if !ok {
			i := d.in.intn(m.n)
			b = piecepicker.Block{Piece: i, Index: d.in.intn(m.blocks[i])}
		}
		d.last = fmt.Sprintf("Rejected(%d, %v)", k, b)
		err := p.Rejected(m.peers[k].p, b)
		if (ok || m.have[b.Piece]) != (err == nil) || (err != nil && !errors.Is(err, piecepicker.ErrNotRequested)) {
			return fmt.Errorf("%s: outstanding %v, error %v", d.last, ok, err)
		}
		if ok {
			m.dropOut(k, b)
			if pe := m.peers[k]; pe.choked {
				if j := slices.Index(pe.fast, b.Piece); j >= 0 {
					pe.fast = slices.Delete(pe.fast, j, j+1)
				}
			}
		}
	case 17:
		k := d.connected()
		if d.in.byte()&3 == 0 {
			d.last = fmt.Sprintf("ReleaseAll(%d)", k)
			p.ReleaseAll(m.peers[k].p)
			m.dropAll(k)
			return nil
		}
		b, ok := d.outstanding(k)
		if !ok {
			return nil
		}
		d.last = fmt.Sprintf("Release(%d, %v)", k, b)
		if !p.Release(m.peers[k].p, b) {
			return fmt.Errorf("%s: not outstanding", d.last)
		}
		m.dropOut(k, b)
	case 18, 19:
		return d.finishPiece()
	case 20:
		i, pr := d.in.intn(m.n), piecepicker.Priority(d.in.intn(8))
		d.last = fmt.Sprintf("SetPriority(%d, %d)", i, pr)
		if err := p.SetPriority(i, pr); err != nil {
			return fmt.Errorf("%s: %w", d.last, err)
		}
		m.prio[i] = pr
	case 21:
		if !d.pol.Deadlines {
			return nil
		}
		return d.deadline()
	case 22:
		*d.now += int64(d.in.intn(8)) * int64(250*time.Millisecond)
		d.last = "advance clock"
	case 23:
		i := d.in.intn(m.n)
		d.last = fmt.Sprintf("MarkHave(%d)", i)
		if err := p.MarkHave(i); err != nil {
			return fmt.Errorf("%s: %w", d.last, err)
		}
		m.verified(i)
		m.clearPiece(i)
	case 24:
		i := d.in.intn(m.n)
		d.last = fmt.Sprintf("ClearHave(%d)", i)
		if err := p.ClearHave(i); err != nil {
			return fmt.Errorf("%s: %w", d.last, err)
		}
		m.have[i] = m.allPad(i) // a piece of pad blocks only stays verified
	case 25:
		if d.in.byte()&1 == 0 {
			return d.removedPeer()
		}
		i := d.in.intn(m.n)
		b := piecepicker.Block{Piece: i, Index: d.in.intn(m.blocks[i])}
		d.last = fmt.Sprintf("Lost(%v)", b)
		_, recv := m.recv[b]
		if got := p.Lost(b); got != recv {
			return fmt.Errorf("%s = %v, want %v", d.last, got, recv)
		}
		delete(m.recv, b)
	}
	return nil
}

// removedPeer checks that a disconnected peer is inert.
func (d *driver) removedPeer() error {
	d.last = "removed peer"
	for _, pe := range d.m.peers {
		if pe.connected {
			continue
		}
		if got := d.p.Pick(pe.p, 4, nil); len(got) != 0 {
			return fmt.Errorf("p.Pick for a removed peer returned %v", got)
		}
		if err := d.p.PeerHave(pe.p, 0); !errors.Is(err, piecepicker.ErrPeerRemoved) {
			return fmt.Errorf("p.PeerHave for a removed peer: %v", err)
		}
		if _, err := d.p.Received(pe.p, piecepicker.Block{}); !errors.Is(err, piecepicker.ErrPeerRemoved) {
			return fmt.Errorf("p.Received from a removed peer: %v", err)
		}
		return nil
	}
	return nil
}

// deadline sets a deadline, a streaming window, or clears them.
func (d *driver) deadline() error {
	now := time.Unix(0, *d.now)
	switch d.in.intn(3) {
	case 0:
		i := d.in.intn(d.m.n)
		at := now.Add(time.Duration(d.in.intn(20)) * 250 * time.Millisecond)
		d.last = fmt.Sprintf("SetDeadline(%d, +%v)", i, at.Sub(now))
		if err := d.p.SetDeadline(i, at); err != nil {
			return fmt.Errorf("%s: %w", d.last, err)
		}
		d.m.due[i] = !d.m.have[i]
	case 1:
		from, count := d.in.intn(d.m.n), d.in.intn(6)
		d.last = fmt.Sprintf("SetWindow(%d, %d)", from, count)
		if err := d.p.SetWindow(from, count, now.Add(time.Second), 500*time.Millisecond); err != nil {
			return fmt.Errorf("%s: %w", d.last, err)
		}
		clear(d.m.due)
		for i := from; i < min(from+count, d.m.n); i++ {
			d.m.due[i] = !d.m.have[i]
		}
	default:
		d.last = "ClearDeadlines"
		d.p.ClearDeadlines()
		clear(d.m.due)
	}
	return nil
}
