package piecepicker

import "fmt"

// File is one file's byte range in the torrent's byte space and its priority, the input
// from which piece priorities are derived. For BEP 52 torrents, whose files start on piece
// boundaries, give offsets in that padded byte space. BEP 47 pad files are best left out
// (or given priority Skip).
type File struct {
	Offset   int64
	Length   int64
	Priority Priority
}

// SetPriority sets the priority of piece i. Skip (0) excludes the piece from every pick;
// requests already outstanding for it stay outstanding. Cost: O(1).
func (p *Picker) SetPriority(i int, prio Priority) error {
	if uint(i) >= uint(p.n) {
		return fmt.Errorf("%w: priority of %d of %d", ErrBadPiece, i, p.n)
	}
	if prio > MaxPrio {
		return fmt.Errorf("%w: %d", ErrBadPriority, prio)
	}
	p.setPriority(i, prio)
	return nil
}

func (p *Picker) setPriority(i int, prio Priority) {
	if p.prio[i] == prio {
		return
	}
	was := p.wanted.Has(i)
	in := p.buckets.pos[i] >= 0
	if in {
		p.bucketRemove(i)
	}
	if p.part[i] >= 0 {
		p.partialsAt[p.prio[i]]--
		p.partialsAt[prio]++
	}
	p.prio[i] = prio
	switch {
	case p.have.Has(i):
	case prio == Skip:
		p.wanted.Clear(i)
	default:
		p.wanted.Set(i)
		if p.part[i] < 0 {
			p.bucketAdd(i)
		}
	}
	if !was && p.wanted.Has(i) {
		p.logRewanted(i)
	}
}

// SetPriorities sets the priority of every piece; len(prios) must be NumPieces. Cost: O(n).
func (p *Picker) SetPriorities(prios []Priority) error {
	if len(prios) != p.n {
		return fmt.Errorf("%w: %d priorities for %d pieces", ErrPrioritiesLen, len(prios), p.n)
	}
	for i, pr := range prios {
		if pr > MaxPrio {
			return fmt.Errorf("%w: piece %d: %d", ErrBadPriority, i, pr)
		}
	}
	for i, pr := range prios {
		p.setPriority(i, pr)
	}
	return nil
}

// SetFilePriorities derives every piece's priority from file priorities (see
// PiecePriorities) and applies them. Cost: O(n + files).
func (p *Picker) SetFilePriorities(files []File) error {
	prios, err := p.piecePriorities(files)
	if err != nil {
		return err
	}
	return p.SetPriorities(prios)
}

func (p *Picker) piecePriorities(files []File) ([]Priority, error) {
	var total int64
	for i := range p.n {
		total += int64(p.PieceLength(i))
	}
	if p.lens == nil {
		return PiecePriorities(files, int64(p.pieceLen), total)
	}
	// Non-uniform pieces: map each file range through the cumulative piece offsets.
	prios := make([]Priority, p.n)
	starts := make([]int64, p.n+1)
	for i := range p.n {
		starts[i+1] = starts[i] + int64(p.lens[i])
	}
	for k, f := range files {
		if err := checkFile(k, f, total); err != nil {
			return nil, err
		}
		if f.Length == 0 {
			continue
		}
		first := searchPiece(starts, f.Offset)
		for i := first; i < p.n && starts[i] < f.Offset+f.Length; i++ {
			prios[i] = max(prios[i], f.Priority)
		}
	}
	return prios, nil
}

// searchPiece returns the piece containing byte off given cumulative starts.
func searchPiece(starts []int64, off int64) int {
	lo, hi := 0, len(starts)-2
	for lo < hi {
		mid := (lo + hi + 1) / 2
		if starts[mid] <= off {
			lo = mid
		} else {
			hi = mid - 1
		}
	}
	return lo
}

func checkFile(k int, f File, total int64) error {
	if f.Priority > MaxPrio {
		return fmt.Errorf("%w: file %d: %d", ErrBadPriority, k, f.Priority)
	}
	if f.Offset < 0 || f.Length < 0 || f.Offset > total || f.Length > total-f.Offset {
		return fmt.Errorf("%w: file %d at %d length %d, torrent length %d", ErrFileRange, k, f.Offset, f.Length, total)
	}
	return nil
}

// PiecePriorities maps file priorities onto pieces of pieceLength bytes (the last piece
// shorter) in a torrent of totalLength bytes: a piece gets the highest priority of the files
// it overlaps, so a piece shared by a wanted and a skipped file is downloaded. Pieces that
// overlap no file of non-zero length get Skip. Cost: O(pieces + files).
func PiecePriorities(files []File, pieceLength, totalLength int64) ([]Priority, error) {
	if pieceLength <= 0 || totalLength < 0 {
		return nil, fmt.Errorf("%w: piece length %d, total length %d", ErrConfig, pieceLength, totalLength)
	}
	n := (totalLength + pieceLength - 1) / pieceLength
	if n > MaxPieces {
		return nil, fmt.Errorf("%w: %d pieces", ErrConfig, n)
	}
	prios := make([]Priority, n)
	for k, f := range files {
		if err := checkFile(k, f, totalLength); err != nil {
			return nil, err
		}
		if f.Length == 0 {
			continue
		}
		first := f.Offset / pieceLength
		last := (f.Offset + f.Length - 1) / pieceLength
		for i := first; i <= last; i++ {
			prios[i] = max(prios[i], f.Priority)
		}
	}
	return prios, nil
}
