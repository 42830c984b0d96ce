package piecepicker

// Stats is a snapshot of the Picker's state, for a session's statistics and logs.
type Stats struct {
	Pieces    int  // pieces in the torrent
	Have      int  // pieces verified
	Remaining int  // wanted pieces not verified yet
	Partial   int  // pieces started and not verified
	Untouched int  // wanted pieces not started
	Requests  int  // blocks outstanding, counting each requester
	Peers     int  // connected peers
	Seeds     int  // connected peers that have every piece
	Deadlines int  // pieces with a deadline
	Endgame   bool // see Endgame
}

// Stats returns a snapshot of the Picker's state. Cost: O(started pieces × blocks).
func (p *Picker) Stats() Stats {
	s := Stats{
		Pieces:    p.n,
		Have:      p.have.Count(),
		Remaining: p.wanted.Count(),
		Partial:   len(p.partials),
		Untouched: p.untouched.Count(),
		Peers:     p.peers,
		Seeds:     p.seeds,
		Deadlines: len(p.deadlines),
		Endgame:   p.Endgame(),
	}
	for _, pp := range p.partials {
		for j := range pp.blocks {
			s.Requests += len(pp.blocks[j].reqs)
		}
	}
	return s
}
