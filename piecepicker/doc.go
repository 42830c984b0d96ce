// Package piecepicker decides which block to request from which peer: the piece-selection
// policy of a BitTorrent download, with block-level bookkeeping. It is pure — no I/O, no
// clock but the one in Config, no goroutines, no locks — and is called from the one
// goroutine that owns a torrent's state: a Picker is not safe for concurrent use (the
// package's functions, such as AllowedFastSet, are).
//
// A bittern.Session uses it for every torrent; import it to write a
// download engine of your own or to study a policy in a simulation.
//
// The happy path, as a session's owner goroutine drives it:
//
//	p, _ := piecepicker.New(piecepicker.Config{NumPieces: n, PieceLength: pl, LastPieceLength: last})
//	peer := p.AddPeer()                  // on connect
//	p.PeerBitfield(peer, bf)             // or PeerHaveAll / PeerHaveNone, then PeerHave
//	p.PeerChoked(peer, false)            // on unchoke
//	reqs := p.Pick(peer, 16, nil)        // send a request for each
//	a, _ := p.Received(peer, block)      // on a piece message; cancel a.Cancel
//	if a.Complete { /* hash */ p.Verified(piece) /* or p.HashFailed(piece) */ }
//	p.RemovePeer(peer)                   // on disconnect
//
// It implements the piece-selection parts of BEP 3 (rarest first, have and bitfield), BEP 6
// (have-all/have-none, allowed-fast, suggest-piece, reject-request; AllowedFastSet computes
// the set we offer a peer), BEP 47 (Config.PadFiles: pad-file blocks are never requested),
// BEP 52 (Config.PieceLengths: each file's last piece is short), and the usual client
// policies: piece priorities derived from file priorities, finishing partial pieces first,
// sequential and streaming (deadline window) modes with time-critical re-requests, and
// endgame.
//
// # Bookkeeping
//
// Every block of a started piece is free, outstanding (from one or more peers) or received.
// A block is outstanding from two peers at once only in endgame (every wanted piece that a
// connected peer has is started) or when its piece is time-critical, and never from more
// than Config.MaxDuplicates peers.
// Rejected (Rejected), cancelled or timed-out (Release, ReleaseAll) and disconnected
// (RemovePeer) requests, blocks whose write failed (Lost) and hash-failed pieces
// (HashFailed) return to the pool; a piece with no progress left returns to the
// rarest-first buckets.
//
// # Order
//
// Pick prefers, in turn: pieces with a deadline (SetDeadline, SetWindow), earliest first,
// with time-critical re-requests; then, priority level by level from High down, started
// pieces, suggested pieces and untouched pieces rarest first with a random tie-break
// (RarestFirst), or started pieces then untouched pieces by index (Sequential); then, in
// endgame, duplicates of outstanding blocks. See Pick. A deadline overrides priority
// Skip without making the piece wanted: a streaming reader fetches what it reads while Done
// keeps meaning "every piece of priority above zero is verified" (see SetDeadline).
//
// # Cost
//
// Untouched wanted pieces live in buckets keyed by (priority, availability): unordered
// slices with a position index, plus a bitmap of non-empty buckets per priority level. A
// have, each piece of a bitfield or a disconnect, and a priority change move one piece
// between buckets in O(1); a bitfield or a disconnect is therefore O(pieces the peer has);
// a seed (have-all, or the have that completes a peer) is counted apart in O(1). Picking
// for a seed is O(1) per block.
//
// Each other peer keeps its candidates — the pieces it has that may still be untouched — in
// a bitset with summary levels, so the next one from any index is found in O(log64 n);
// a piece that stops being untouched is dropped from a peer's candidates only when a pick
// for that peer meets it, once per time it became one, which its have, bitfield or
// return paid for. It also keeps, per priority level, a floor under the availability of
// its untouched pieces, kept valid in O(1) per event. A pick then costs, whatever n: O(1)
// for a peer with no candidate (all its pieces started or verified); O(c) for a peer with
// c candidates, c under 64 or under √(untouched pieces); else a walk of the buckets from
// the floor up, rarest first, probing each from a random offset (a peer that has a
// fraction d of a bucket finds a piece after about 1/d probes), which raises the floor to
// the availability found. Only when 1,024 probes find nothing — the peer's rarest pieces
// are under 1/1,024 of their bucket — does it visit the peer's candidates, O(log n +
// candidates visited), stopping at the first 64 as rare as any left, and set the floor
// exactly, so the next pick starts there. Started pieces with free blocks are scanned
// linearly; there are about as many as peers, not pieces.
//
// Memory: about 18 bytes per piece (BenchmarkMemoryPerPiece), plus n/8 bytes for each
// connected peer's bitfield and as much again for its candidates (none for a seed), 160
// bytes of floors per peer, and about 48 bytes per block of each started piece.
//
// # Limits
//
// MaxPieces pieces, MaxPieceLength bytes per piece, MaxAllowedFast allowed-fast and
// MaxSuggested suggested pieces per peer, Config.MaxDuplicates requesters per block.
package piecepicker
