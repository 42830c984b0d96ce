package piecepicker

import (
	"fmt"
	"testing"
	"time"
)

// checkDue verifies that the due set is exactly the pieces with a deadline, none of them
// verified, and that wanted is untouched by deadlines.
func checkDue(p *Picker) error {
	if p.due.Count() != len(p.deadlines) {
		return fmt.Errorf("%d due pieces, %d deadlines", p.due.Count(), len(p.deadlines))
	}
	for _, d := range p.deadlines {
		if !p.due.Has(d.piece) {
			return fmt.Errorf("piece %d has a deadline but is not due", d.piece)
		}
		if p.have.Has(d.piece) {
			return fmt.Errorf("verified piece %d has a deadline", d.piece)
		}
	}
	return nil
}

// TestDeadlineOverridesSkip: a skipped piece with a deadline is requested, its blocks are
// kept, a peer that has it is interesting, and it never counts as wanted: Done stays true.
func TestDeadlineOverridesSkip(t *testing.T) {
	const n = 8
	p := newTest(t, Config{NumPieces: n, PieceLength: 2 * BlockSize})
	for i := range n {
		p.SetPriority(i, Skip)
	}
	bf := make(bools, n)
	bf[3], bf[4] = true, true
	pe := unchoked(p, bf)
	if !p.Done() || p.Interesting(pe) || len(p.Pick(pe, 10, nil)) != 0 {
		t.Fatal("all skipped: want done, not interesting, nothing picked")
	}
	if err := p.SetWindow(3, 1, time.Now(), time.Second); err != nil {
		t.Fatal(err)
	}
	if !p.HasDeadline(3) || p.HasDeadline(4) || p.Wanted(3) || !p.Done() || p.Remaining() != 0 {
		t.Fatal("window piece: want a deadline, not wanted, still done")
	}
	if !p.Interesting(pe) {
		t.Fatal("peer with a window piece not interesting")
	}
	got := p.Pick(pe, 10, nil)
	if len(got) != 2 || got[0].Piece != 3 || got[1].Piece != 3 {
		t.Fatalf("picked %v, want the two blocks of piece 3", got)
	}
	a, err := p.Received(pe, got[0])
	if err != nil || a.Duplicate {
		t.Fatalf("block of a window piece: %+v %v", a, err)
	}
	a, err = p.Received(pe, got[1])
	if err != nil || a.Duplicate || !a.Complete {
		t.Fatalf("last block of a window piece: %+v %v", a, err)
	}
	if err := p.Verified(3); err != nil {
		t.Fatal(err)
	}
	if p.HasDeadline(3) || !p.Done() || p.NumDeadlines() != 0 || p.Interesting(pe) {
		t.Fatal("verified window piece: want no deadline, done, not interesting")
	}
	// A window that moves away leaves the piece's received blocks, and later data for it
	// is a duplicate.
	p.SetWindow(4, 1, time.Now(), time.Second)
	got = p.Pick(pe, 1, nil)
	if len(got) != 1 || got[0].Piece != 4 {
		t.Fatalf("picked %v, want a block of piece 4", got)
	}
	if a, _ := p.Received(pe, got[0]); a.Duplicate {
		t.Fatal("window block reported duplicate")
	}
	rest := p.Pick(pe, 1, nil)
	p.ClearDeadlines()
	if p.Interesting(pe) || len(p.Pick(pe, 10, nil)) != 0 {
		t.Fatal("after ClearDeadlines: want not interesting, nothing picked")
	}
	if a, _ := p.Received(pe, rest[0]); !a.Duplicate {
		t.Fatal("block of a piece whose deadline was dropped not reported duplicate")
	}
	if err := checkInvariants(p, []*Peer{pe}); err != nil {
		t.Fatal(err)
	}
}
