package bittern

import (
	"testing"
	"time"
)

func unchokedSet(u []bool) map[int]bool {
	m := map[int]bool{}
	for i, ok := range u {
		if ok {
			m[i] = true
		}
	}
	return m
}

func TestChooseFewInterested(t *testing.T) {
	cands := []chokeCand{{interested: true}, {}, {interested: true}}
	u, opt := choose(cands, 4, false, true)
	if got := unchokedSet(u); len(got) != 2 || !got[0] || !got[2] {
		t.Fatalf("unchoked %v, want 0 and 2", got)
	}
	if opt != -1 {
		t.Fatalf("optimistic %d, want none", opt)
	}
	if u, _ := choose(cands, 0, false, true); len(unchokedSet(u)) != 0 {
		t.Fatal("zero slots unchoked someone")
	}
}

func TestChooseTitForTat(t *testing.T) {
	base := time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)
	cands := []chokeCand{
		{interested: true, downRate: 10, upRate: 900, lastUnchoke: base.Add(5 * time.Second)},
		{interested: true, downRate: 500, upRate: 1, lastUnchoke: base.Add(4 * time.Second)},
		{interested: true, downRate: 300, upRate: 2, lastUnchoke: base.Add(3 * time.Second)},
		{interested: true, downRate: 0, upRate: 0, lastUnchoke: base.Add(2 * time.Second)},
		{interested: true, downRate: 0, upRate: 0, lastUnchoke: base.Add(1 * time.Second)},
		{interested: false, downRate: 9999},
	}
	// Downloading: the two best uploaders to us, plus the optimistic slot
	// for the interested peer unchoked longest ago.
	u, opt := choose(cands, 3, false, true)
	got := unchokedSet(u)
	if len(got) != 3 || !got[1] || !got[2] || !got[4] || opt != 4 {
		t.Fatalf("downloading: unchoked %v optimistic %d, want 1, 2 and optimistic 4", got, opt)
	}
	// Seeding: ranked by what we sent them.
	u, opt = choose(cands, 3, true, true)
	got = unchokedSet(u)
	if len(got) != 3 || !got[0] || !got[2] || opt != 4 || !got[4] {
		t.Fatalf("seeding: unchoked %v optimistic %d, want 0, 2 and optimistic 4", got, opt)
	}
}

func TestChooseOptimisticKeptUntilRotation(t *testing.T) {
	base := time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)
	cands := []chokeCand{
		{interested: true, downRate: 100, lastUnchoke: base},
		{interested: true, downRate: 50, lastUnchoke: base},
		{interested: true, downRate: 0, lastUnchoke: base.Add(time.Hour), optimistic: true},
		{interested: true, downRate: 0, lastUnchoke: base.Add(-time.Hour)},
	}
	u, opt := choose(cands, 2, false, false)
	if got := unchokedSet(u); opt != 2 || len(got) != 2 || !got[0] || !got[2] {
		t.Fatalf("without rotation: unchoked %v optimistic %d, want 0 and optimistic 2", got, opt)
	}
	u, opt = choose(cands, 2, false, true)
	if got := unchokedSet(u); opt != 3 || len(got) != 2 || !got[0] || !got[3] {
		t.Fatalf("with rotation: unchoked %v optimistic %d, want 0 and optimistic 3", got, opt)
	}
}

// Over many rounds of a seeding choker with equal rates, every interested
// peer gets a turn.
func TestChooseRotatesEveryone(t *testing.T) {
	now := time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)
	cands := make([]chokeCand, 10)
	for i := range cands {
		cands[i].interested = true
	}
	served := map[int]bool{}
	unchoked := make([]bool, len(cands))
	for round := 0; round < 30; round++ {
		now = now.Add(10 * time.Second)
		u, opt := choose(cands, 4, true, round%3 == 0)
		for i := range cands {
			if u[i] {
				served[i] = true
				if !unchoked[i] {
					cands[i].lastUnchoke = now // as runChoker does
				}
			}
			unchoked[i] = u[i]
			cands[i].optimistic = i == opt
		}
	}
	if len(served) != len(cands) {
		t.Fatalf("only %d of %d peers were ever unchoked", len(served), len(cands))
	}
}
