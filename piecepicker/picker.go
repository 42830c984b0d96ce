package piecepicker

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/bittern/bittern/internal/bitset"
)

// BlockSize is the size of a block, the unit of a request (BEP 3): 16 KiB. The last block of
// a piece may be shorter.
const BlockSize = 16 << 10

// Limits on the torrent shape a Picker accepts.
const (
	// MaxPieces is the largest number of pieces New accepts.
	MaxPieces = 1 << 24
	// MaxPieceLength is the largest piece length New accepts: 256 MiB, 16,384 blocks.
	MaxPieceLength = 1 << 28
	// MaxAllowedFast is how many BEP 6 allowed-fast pieces are remembered per peer; later
	// ones are ignored.
	MaxAllowedFast = 64
	// MaxSuggested is how many BEP 6 suggested pieces are remembered per peer; a new
	// suggestion beyond it evicts the oldest.
	MaxSuggested = 32
)

// Errors returned by the Picker. Argument errors wrap one of these sentinels.
var (
	ErrConfig        = errors.New("piecepicker: invalid config")
	ErrBadPiece      = errors.New("piecepicker: piece index out of range")
	ErrBadBlock      = errors.New("piecepicker: block out of range")
	ErrBadPriority   = errors.New("piecepicker: priority out of range")
	ErrBitfieldLen   = errors.New("piecepicker: bitfield length does not match piece count")
	ErrNotRequested  = errors.New("piecepicker: block was not requested from this peer")
	ErrPeerRemoved   = errors.New("piecepicker: peer was removed")
	ErrFileRange     = errors.New("piecepicker: file range outside the torrent")
	ErrPrioritiesLen = errors.New("piecepicker: priorities length does not match piece count")
)

// Priority is a piece or file priority: 0 (Skip) means never download, 1..7 rank wanted
// pieces, higher first.
type Priority uint8

// Priority levels, as in libtorrent's download_priority_t.
const (
	Skip    Priority = 0
	Low     Priority = 1
	Normal  Priority = 4
	High    Priority = 7
	MaxPrio          = High
)

// Mode selects the order in which untouched pieces are started.
type Mode uint8

const (
	// RarestFirst starts the wanted piece with the fewest copies among connected peers,
	// highest priority first, ties broken at random.
	RarestFirst Mode = iota
	// Sequential starts the wanted piece with the lowest index; priorities above zero do not
	// reorder pieces. Use deadlines for a read position that jumps.
	Sequential
)

// Bitfield is the view of a peer's pieces the Picker reads. *bitset.Bitset from the
// internal package and any []bool wrapper satisfy it.
type Bitfield interface {
	Has(i int) bool
	Len() int
}

// Block names one block: block Index (of BlockSize bytes) within Piece.
type Block struct {
	Piece int
	Index int
}

func (b Block) String() string { return fmt.Sprintf("%d/%d", b.Piece, b.Index) }

// Config describes the torrent and tunes the Picker. Only the shape fields are required.
type Config struct {
	// NumPieces is the number of pieces. If zero, the torrent is empty.
	NumPieces int
	// PieceLength is the length of every piece but the last. Required if NumPieces > 0
	// and PieceLengths is nil.
	PieceLength int
	// LastPieceLength is the length of the last piece. If zero, PieceLength.
	LastPieceLength int
	// PieceLengths, if non-nil, gives the length of each piece and overrides PieceLength
	// and LastPieceLength (BEP 52 torrents, where each file's last piece is short).
	PieceLengths func(piece int) int
	// PadFiles are the byte ranges of BEP 47 pad files. Blocks wholly inside them are
	// never requested and count as received (the storage reads them as zeros); a piece
	// made only of such blocks starts out verified. If nil, there are none.
	PadFiles []Range
	// Mode is the order untouched pieces are started in. If zero, RarestFirst.
	Mode Mode
	// MaxDuplicates is how many peers may have one block requested at the same time in
	// endgame or for a time-critical piece. If zero, 2.
	MaxDuplicates int
	// CriticalWindow: a piece whose deadline is this close (or past) is time-critical, and
	// its blocks requested longer than RerequestAfter ago are also requested from other
	// peers. If zero, 2s.
	CriticalWindow time.Duration
	// RerequestAfter is how long a time-critical block must have been outstanding before it
	// is requested again from another peer. If zero, 500ms.
	RerequestAfter time.Duration
	// Now is the clock for deadlines. If nil, time.Now.
	Now func() time.Time
	// Rand breaks ties between equally rare pieces. If nil, a randomly seeded source.
	Rand *rand.Rand
}

// Range is a span of the torrent's byte space.
type Range struct {
	Offset int64
	Length int64
}

// Picker decides which blocks to request from which peer. It is not safe for concurrent
// use: the torrent's owner goroutine calls it.
type Picker struct {
	n         int
	pieceLen  int
	lastLen   int
	lens      []int32 // per-piece lengths when Config.PieceLengths is set
	mode      Mode
	maxDup    int
	critical  time.Duration
	rerequest time.Duration
	now       func() time.Time
	rnd       *rand.Rand

	prio  []Priority
	avail []int32 // copies among non-seed peers
	seeds int     // peers that have every piece

	have      *bitset.Bitset // verified pieces
	wanted    *bitset.Bitset // prio > 0 && !have
	untouched *bitset.Bitset // wanted with no block state: members of the buckets

	buckets buckets
	seqHint int // every untouched piece index is >= seqHint

	pads       map[int][]int // piece -> indices of its pad blocks, ascending
	part       []int32       // index into partials, -1 if none
	partialsAt [MaxPrio + 1]int
	partials   []*partial
	open       []*partial // partials with free blocks
	pool       []*partial

	deadlines []deadline
	due       *bitset.Bitset // pieces in deadlines (never verified ones): requested even at priority Skip

	nextPeerID uint64
	peers      int
	drops      uint64 // disconnects and replaced bitfields: see floor
	entered    [MaxPrio + 1]enterLog
	rewanted   pieceLog // pieces that became wanted again: see candidates.go

	// Scratch returned to callers, valid until the next call.
	cancel  []*Peer
	senders []*Peer
}

// New returns a Picker for the torrent shape in c. Every piece starts at Normal priority,
// missing, with no peers.
func New(c Config) (*Picker, error) {
	if c.NumPieces < 0 || c.NumPieces > MaxPieces {
		return nil, fmt.Errorf("%w: NumPieces %d not in [0, %d]", ErrConfig, c.NumPieces, MaxPieces)
	}
	p := &Picker{
		n:         c.NumPieces,
		pieceLen:  c.PieceLength,
		lastLen:   c.LastPieceLength,
		mode:      c.Mode,
		maxDup:    c.MaxDuplicates,
		critical:  c.CriticalWindow,
		rerequest: c.RerequestAfter,
		now:       c.Now,
		rnd:       c.Rand,
	}
	if p.mode > Sequential {
		return nil, fmt.Errorf("%w: unknown mode %d", ErrConfig, p.mode)
	}
	if c.PieceLengths != nil {
		p.lens = make([]int32, p.n)
		for i := range p.n {
			l := c.PieceLengths(i)
			if l <= 0 || l > MaxPieceLength {
				return nil, fmt.Errorf("%w: length of piece %d is %d, not in [1, %d]", ErrConfig, i, l, MaxPieceLength)
			}
			p.lens[i] = int32(l)
		}
	} else if p.n > 0 {
		if p.pieceLen <= 0 || p.pieceLen > MaxPieceLength {
			return nil, fmt.Errorf("%w: PieceLength %d not in [1, %d]", ErrConfig, p.pieceLen, MaxPieceLength)
		}
		if p.lastLen == 0 {
			p.lastLen = p.pieceLen
		}
		if p.lastLen < 0 || p.lastLen > p.pieceLen {
			return nil, fmt.Errorf("%w: LastPieceLength %d not in [1, PieceLength]", ErrConfig, p.lastLen)
		}
	}
	if p.maxDup <= 0 {
		p.maxDup = 2
	}
	if p.maxDup > 255 {
		p.maxDup = 255
	}
	if p.critical <= 0 {
		p.critical = 2 * time.Second
	}
	if p.rerequest <= 0 {
		p.rerequest = 500 * time.Millisecond
	}
	if p.now == nil {
		p.now = time.Now
	}
	if p.rnd == nil {
		p.rnd = rand.New(rand.NewPCG(rand.Uint64(), rand.Uint64()))
	}
	p.prio = make([]Priority, p.n)
	p.avail = make([]int32, p.n)
	p.part = make([]int32, p.n)
	p.have = bitset.New(p.n)
	p.wanted = bitset.New(p.n)
	p.untouched = bitset.New(p.n)
	p.due = bitset.New(p.n)
	p.buckets.init(p.n)
	for i := range p.n {
		p.prio[i] = Normal
		p.part[i] = -1
		p.wanted.Set(i)
	}
	for i := range p.n {
		p.bucketAdd(i)
	}
	if err := p.setPads(c.PadFiles); err != nil {
		return nil, err
	}
	return p, nil
}

// setPads records the blocks wholly inside pad files; pieces made only of them are verified.
func (p *Picker) setPads(pads []Range) error {
	if len(pads) == 0 {
		return nil
	}
	starts := make([]int64, p.n+1)
	for i := range p.n {
		starts[i+1] = starts[i] + int64(p.PieceLength(i))
	}
	total := starts[p.n]
	p.pads = make(map[int][]int)
	for k, r := range pads {
		if r.Offset < 0 || r.Length < 0 || r.Offset > total || r.Length > total-r.Offset {
			return fmt.Errorf("%w: pad file %d at %d length %d, torrent length %d", ErrConfig, k, r.Offset, r.Length, total)
		}
		if r.Length == 0 {
			continue
		}
		end := r.Offset + r.Length
		for i := searchPiece(starts, r.Offset); i < p.n && starts[i] < end; i++ {
			for j := range p.NumBlocks(i) {
				b0 := starts[i] + int64(j)*BlockSize
				b1 := min(b0+BlockSize, starts[i+1])
				if b0 >= r.Offset && b1 <= end && !slices.Contains(p.pads[i], j) {
					p.pads[i] = append(p.pads[i], j)
				}
			}
		}
	}
	for i, js := range p.pads {
		slices.Sort(js)
		if len(js) == p.NumBlocks(i) {
			p.Verified(i)
		}
	}
	return nil
}

// isPad reports whether block b lies wholly inside a pad file.
func (p *Picker) isPad(b Block) bool {
	_, found := slices.BinarySearch(p.pads[b.Piece], b.Index)
	return found
}

// NumPieces reports the number of pieces.
func (p *Picker) NumPieces() int { return p.n }

// PieceLength reports the length in bytes of piece i (0 if i is out of range).
func (p *Picker) PieceLength(i int) int {
	switch {
	case uint(i) >= uint(p.n):
		return 0
	case p.lens != nil:
		return int(p.lens[i])
	case i == p.n-1:
		return p.lastLen
	default:
		return p.pieceLen
	}
}

// NumBlocks reports how many blocks piece i has.
func (p *Picker) NumBlocks(i int) int { return (p.PieceLength(i) + BlockSize - 1) / BlockSize }

// BlockSpan reports the byte offset within its piece and the length of block b, as a
// request message carries them. ok is false if b is out of range.
func (p *Picker) BlockSpan(b Block) (begin, length int, ok bool) {
	pl := p.PieceLength(b.Piece)
	begin = b.Index * BlockSize
	if pl == 0 || b.Index < 0 || begin >= pl {
		return 0, 0, false
	}
	return begin, min(BlockSize, pl-begin), true
}

// BlockAt maps a wire (piece, begin, length) triple to its Block. It fails with ErrBadBlock
// unless the triple is exactly one block as BlockSpan reports it.
func (p *Picker) BlockAt(piece, begin, length int) (Block, error) {
	b := Block{Piece: piece, Index: begin / BlockSize}
	if begin < 0 || begin%BlockSize != 0 {
		return Block{}, fmt.Errorf("%w: piece %d begin %d length %d", ErrBadBlock, piece, begin, length)
	}
	if bb, l, ok := p.BlockSpan(b); !ok || bb != begin || l != length {
		return Block{}, fmt.Errorf("%w: piece %d begin %d length %d", ErrBadBlock, piece, begin, length)
	}
	return b, nil
}

func (p *Picker) validBlock(b Block) bool {
	return uint(b.Piece) < uint(p.n) && b.Index >= 0 && b.Index < p.NumBlocks(b.Piece)
}

// HasPiece reports whether piece i was verified.
func (p *Picker) HasPiece(i int) bool { return p.have.Has(i) }

// Wanted reports whether piece i has priority above zero and is not verified: a peer that
// announces it becomes interesting (BEP 3), an O(1) test for each have message. A piece of
// priority Skip with a deadline is not wanted but is requested too: see HasDeadline.
func (p *Picker) Wanted(i int) bool { return p.wanted.Has(i) }

// NumHave reports how many pieces were verified.
func (p *Picker) NumHave() int { return p.have.Count() }

// Remaining reports how many wanted pieces (priority above zero) are not verified yet.
func (p *Picker) Remaining() int { return p.wanted.Count() }

// Done reports whether every wanted piece is verified. Deadlines of pieces of priority Skip
// do not count: see SetDeadline.
func (p *Picker) Done() bool { return p.wanted.Count() == 0 }

// Endgame reports whether every wanted piece that some connected peer has has been
// started, so that a peer with nothing else to request may duplicate requests other peers
// already have outstanding. Pieces no connected peer has do not hold endgame back (unlike
// libtorrent's strict endgame mode, where they do).
func (p *Picker) Endgame() bool { return p.obtainableUntouched() == 0 && p.wanted.Count() > 0 }

// obtainableUntouched counts the untouched wanted pieces some connected peer has: all of
// them if a seed is connected, else those outside the zero-availability buckets. O(1).
func (p *Picker) obtainableUntouched() int {
	c := p.untouched.Count()
	if p.seeds > 0 {
		return c
	}
	for l := range p.buckets.levels {
		if b := p.buckets.levels[l].b; len(b) > 0 {
			c -= len(b[0])
		}
	}
	return c
}

// Availability reports how many connected peers have piece i.
func (p *Picker) Availability(i int) int {
	if uint(i) >= uint(p.n) {
		return 0
	}
	return int(p.avail[i]) + p.seeds
}

// Priority reports the priority of piece i.
func (p *Picker) Priority(i int) Priority {
	if uint(i) >= uint(p.n) {
		return Skip
	}
	return p.prio[i]
}

// SetMode switches the order in which untouched pieces are started.
func (p *Picker) SetMode(m Mode) error {
	if m > Sequential {
		return fmt.Errorf("%w: unknown mode %d", ErrConfig, m)
	}
	p.mode = m
	return nil
}

// AppendHave appends the BEP 3 bitfield of verified pieces to dst.
func (p *Picker) AppendHave(dst []byte) []byte { return p.have.AppendWire(dst) }
