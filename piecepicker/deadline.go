package piecepicker

import (
	"fmt"
	"slices"
	"time"
)

// deadline is a piece a reader is waiting for.
type deadline struct {
	piece int
	at    int64 // unix nanoseconds
}

// SetDeadline asks for piece i by time t: pieces with deadlines are picked before all
// others, earliest deadline first, and once a deadline is within Config.CriticalWindow the
// piece's slow blocks are also requested from other peers. Verified pieces drop their
// deadline; a deadline for a verified piece is ignored.
//
// A deadline overrides priority Skip (a reader fetches what it reads, as libtorrent's
// set_piece_deadline does): while it lasts the piece is requested, its blocks are not
// Duplicate, and a peer that has it is Interesting. Such a piece is still not wanted:
// Wanted, Remaining, Done and Endgame count only pieces of priority above zero, so
// fetching it does not make a finished download unfinished, and dropping its deadline
// (ClearDeadline, ClearDeadlines, SetWindow elsewhere) stops fetching it, its blocks
// received so far kept. Cost: O(d), d pieces with deadlines.
func (p *Picker) SetDeadline(i int, t time.Time) error {
	if uint(i) >= uint(p.n) {
		return fmt.Errorf("%w: deadline for %d of %d", ErrBadPiece, i, p.n)
	}
	if p.have.Has(i) {
		return nil
	}
	p.dropDeadline(i)
	d := deadline{piece: i, at: t.UnixNano()}
	k, _ := slices.BinarySearchFunc(p.deadlines, d, func(a, b deadline) int {
		if a.at != b.at {
			if a.at < b.at {
				return -1
			}
			return 1
		}
		return a.piece - b.piece
	})
	p.deadlines = slices.Insert(p.deadlines, k, d)
	p.due.Set(i)
	return nil
}

// ClearDeadline removes the deadline of piece i, if any.
func (p *Picker) ClearDeadline(i int) { p.dropDeadline(i) }

// ClearDeadlines removes every deadline.
func (p *Picker) ClearDeadlines() {
	for _, d := range p.deadlines {
		p.due.Clear(d.piece)
	}
	p.deadlines = p.deadlines[:0]
}

// HasDeadline reports whether piece i has a deadline: it is requested whatever its
// priority (see SetDeadline). O(1).
func (p *Picker) HasDeadline(i int) bool { return uint(i) < uint(p.n) && p.due.Has(i) }

// fetch reports whether piece i may be requested: wanted, or given a deadline.
func (p *Picker) fetch(i int) bool { return p.wanted.Has(i) || p.due.Has(i) }

// SetWindow is the streaming mode: it replaces all deadlines with a window of count pieces
// starting at piece from (a reader's position), piece from+k due at first + k*step. Call it
// again as the reader moves. Pieces already verified are left out; pieces of priority Skip
// are fetched, as with SetDeadline.
func (p *Picker) SetWindow(from, count int, first time.Time, step time.Duration) error {
	if uint(from) >= uint(p.n) || count < 0 {
		return fmt.Errorf("%w: window at %d count %d of %d", ErrBadPiece, from, count, p.n)
	}
	p.ClearDeadlines()
	base := first.UnixNano()
	for k := range min(count, p.n-from) {
		if i := from + k; !p.have.Has(i) {
			p.deadlines = append(p.deadlines, deadline{piece: i, at: base + int64(k)*int64(step)})
			p.due.Set(i)
		}
	}
	// A negative (or overflowing) step leaves them out of order.
	byTime := func(a, b deadline) int {
		if a.at != b.at {
			if a.at < b.at {
				return -1
			}
			return 1
		}
		return a.piece - b.piece
	}
	if !slices.IsSortedFunc(p.deadlines, byTime) {
		slices.SortFunc(p.deadlines, byTime)
	}
	return nil
}

// NumDeadlines reports how many pieces have a deadline.
func (p *Picker) NumDeadlines() int { return len(p.deadlines) }

func (p *Picker) dropDeadline(i int) {
	for k, d := range p.deadlines {
		if d.piece == i {
			p.deadlines = slices.Delete(p.deadlines, k, k+1)
			p.due.Clear(i)
			return
		}
	}
}

// Critical reports whether piece i has a deadline within Config.CriticalWindow of now.
func (p *Picker) Critical(i int) bool {
	now := p.now().UnixNano()
	for _, d := range p.deadlines {
		if d.piece == i {
			return d.at-now <= int64(p.critical)
		}
	}
	return false
}
