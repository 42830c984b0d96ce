package bittern

import (
	"slices"
	"time"
)

// chokeCand is the choker's view of one peer.
type chokeCand struct {
	interested  bool      // the peer wants data from us
	downRate    float64   // bytes/s we received from it last round
	upRate      float64   // bytes/s we sent it last round
	lastUnchoke time.Time // when it was last unchoked (zero: never)
	optimistic  bool      // it holds the optimistic slot now
}

// choose decides which peers are unchoked for the next round: a pure
// function of the candidates, so that it is tested on its own.
//
// Of slots upload slots, slots-1 go to the interested peers that gave us
// the most data last round (tit-for-tat) while downloading, or to those we
// sent the most while seeding (so that fast peers keep their slot and the
// rest rotate through the optimistic one). Ties go to the peer unchoked
// longest ago. The last slot is the optimistic unchoke: it stays with its
// holder until rotate is set (every 30 s), then passes to the interested
// peer, not already unchoked, that was unchoked longest ago. With fewer
// interested peers than slots, every interested peer is unchoked.
//
// It returns, for each candidate, whether it is unchoked, and the index of
// the optimistic one (-1 if none).
func choose(cands []chokeCand, slots int, seeding, rotate bool) (unchoke []bool, optimistic int) {
	unchoke = make([]bool, len(cands))
	optimistic = -1
	idx := make([]int, 0, len(cands))
	for i, c := range cands {
		if c.interested {
			idx = append(idx, i)
		}
	}
	if slots <= 0 {
		return unchoke, -1
	}
	if len(idx) <= slots {
		for _, i := range idx {
			unchoke[i] = true
			if cands[i].optimistic {
				optimistic = i
			}
		}
		return unchoke, optimistic
	}
	rate := func(i int) float64 {
		if seeding {
			return cands[i].upRate
		}
		return cands[i].downRate
	}
	slices.SortStableFunc(idx, func(a, b int) int {
		ra, rb := rate(a), rate(b)
		switch {
		case ra > rb:
			return -1
		case ra < rb:
			return 1
		}
		return cands[a].lastUnchoke.Compare(cands[b].lastUnchoke)
	})
	regular := slots - 1
	// The current optimistic peer keeps its slot between rotations, so it
	// is not counted among the regular ones.
	keep := -1
	if !rotate {
		for _, i := range idx {
			if cands[i].optimistic {
				keep = i
				break
			}
		}
	}
	n := 0
	for _, i := range idx {
		if n == regular {
			break
		}
		if i == keep {
			continue
		}
		unchoke[i] = true
		n++
	}
	if keep >= 0 {
		unchoke[keep] = true
		return unchoke, keep
	}
	for _, i := range idx {
		if unchoke[i] {
			continue
		}
		if optimistic < 0 || cands[i].lastUnchoke.Before(cands[optimistic].lastUnchoke) {
			optimistic = i
		}
	}
	if optimistic >= 0 {
		unchoke[optimistic] = true
	}
	return unchoke, optimistic
}
