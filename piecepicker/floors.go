package piecepicker

import "math"

// A floor is a lower bound, per peer and priority level, on the availability of the
// untouched pieces of that level the peer has: the bucket walk starts there, so buckets
// that once proved to hold none of the peer's pieces are not probed again and again (a
// peer that has only common pieces while rare ones fill the lowest buckets). It is kept
// valid in O(1) per event:
//
//   - a disconnect (or a replaced bitfield) lowers each piece's availability by at most
//     one, so floors lower by one for each such event since they were set (Picker.drops);
//   - a piece that joins a level's buckets (a started piece given back, a priority change,
//     ClearHave) is logged with its availability in Picker.entered, which each floor
//     folds in when next read; a floor older than the log's last reset drops to zero;
//   - a have lowers the floor of the peer that sent it to the piece's availability;
//   - a bitfield sets the peer's floors to the exact minima.
//
// The walk and the candidates scan raise a floor to the exact minimum they establish.
type floor struct {
	avail int32  // noFloor if the peer has no untouched piece of the level
	drops uint64 // Picker.drops when avail was set
	log   int    // Picker.entered[level] position when avail was set
}

// noFloor marks a level where the peer has no untouched piece.
const noFloor = math.MaxInt32

// maxEntered is how many entries a level's log keeps before it starts again.
const maxEntered = 4096

// enterLog records the availability of each piece that joined a level's buckets other than
// by a have or a bitfield.
type enterLog struct {
	base  int     // position of avail[0]
	avail []int32 // availability of each piece as it joined
}

// logEnter records that untouched piece i joined the buckets of its level.
func (p *Picker) logEnter(i int) {
	if p.peers == 0 {
		return // no floors to keep
	}
	lg := &p.entered[p.prio[i]]
	if len(lg.avail) >= maxEntered {
		lg.base += len(lg.avail)
		lg.avail = lg.avail[:0]
	}
	lg.avail = append(lg.avail, p.avail[i])
}

// peekFloor returns the peer's current floor at level prio.
func (p *Picker) peekFloor(peer *Peer, prio Priority) int32 {
	f, lg := &peer.floors[prio], &p.entered[prio]
	v := f.avail
	if f.log < lg.base {
		v = 0
	} else {
		for _, a := range lg.avail[f.log-lg.base:] {
			v = min(v, a)
		}
	}
	if v == noFloor {
		return v
	}
	return int32(max(int64(v)-int64(p.drops-f.drops), 0))
}

// floorOf returns the peer's floor at level prio, folding in what happened since it was
// set. Cost: O(1) amortized.
func (p *Picker) floorOf(peer *Peer, prio Priority) int32 {
	v := p.peekFloor(peer, prio)
	p.setFloor(peer, prio, v)
	return v
}

// setFloor sets the peer's floor at level prio to v as of now.
func (p *Picker) setFloor(peer *Peer, prio Priority, v int32) {
	lg := &p.entered[prio]
	peer.floors[prio] = floor{avail: v, drops: p.drops, log: lg.base + len(lg.avail)}
}

// resetFloors records that the peer has no pieces.
func (p *Picker) resetFloors(peer *Peer) {
	for l := range peer.floors {
		p.setFloor(peer, Priority(l), noFloor)
	}
}

// lowerFloor lowers the peer's floor for untouched piece i, which it now has.
func (p *Picker) lowerFloor(peer *Peer, i int) {
	if v := p.floorOf(peer, p.prio[i]); p.avail[i] < v {
		peer.floors[p.prio[i]].avail = p.avail[i]
	}
}
