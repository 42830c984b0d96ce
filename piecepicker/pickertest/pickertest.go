// Package pickertest checks the properties every piece picker must keep, against every
// policy of package piecepicker, by driving a Picker with random (or fuzzed) operation
// sequences and comparing each answer with an independent model:
//
//   - Pick never returns a piece the peer lacks, a piece of priority zero without a
//     deadline, a verified piece, a received block, a block already outstanding from the
//     same peer, or a block outstanding from another peer outside endgame and
//     time-critical pieces; never more than MaxDuplicates requesters per block; never a
//     piece outside a choking peer's allowed-fast set (BEP 6); never more blocks than
//     asked for.
//   - Pick keeps its policy's order: a piece it starts (other than suggested, deadline and
//     allowed-fast picks) comes after every partial piece with free blocks of at least its
//     priority, and is preferred to every piece the peer could have started instead:
//     higher priority then lower availability (RarestFirst), lower index (Sequential).
//   - Pick is live: if it returns fewer blocks than asked, the peer has no free block the
//     policy may request (and, in endgame, no block it may duplicate).
//   - Received reports exactly the other requesters to cancel, completion when the last
//     block arrives, and duplicates; HashFailed names exactly the peers that sent data.
//   - Availability, Remaining, Endgame, NumRequests and Interesting agree with the model
//     after every operation.
//
// Use Run in a test, Drive in a fuzz target:
//
//	func TestPicker(t *testing.T) { pickertest.Run(t, pickertest.Policies(), 200) }
package pickertest

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/bittern/bittern/piecepicker"
)

// Policy is one configuration of a Picker under test.
type Policy struct {
	// Name labels the subtest.
	Name string
	// Config supplies the policy fields (Mode, MaxDuplicates, CriticalWindow,
	// RerequestAfter); the driver sets the torrent shape, clock and random source.
	Config piecepicker.Config
	// Deadlines lets the driver set deadlines and streaming windows.
	Deadlines bool
	// PieceLengths gives pieces random lengths (BEP 52 style) through
	// Config.PieceLengths instead of uniform ones.
	PieceLengths bool
	// PadFiles adds random BEP 47 pad files, each ending on a piece boundary.
	PadFiles bool
	// Pieces is the most pieces a torrent gets, at most 256; if zero, 24. Above 64 a peer
	// can have enough pieces for the Picker to walk its buckets rather than visit the
	// peer's pieces one by one.
	Pieces int
}

// Policies lists every policy of package piecepicker.
func Policies() []Policy {
	return []Policy{
		{Name: "RarestFirst", Config: piecepicker.Config{Mode: piecepicker.RarestFirst}},
		{Name: "Sequential", Config: piecepicker.Config{Mode: piecepicker.Sequential}},
		{Name: "Streaming", Config: piecepicker.Config{Mode: piecepicker.RarestFirst}, Deadlines: true},
		{Name: "SequentialStreaming", Config: piecepicker.Config{Mode: piecepicker.Sequential}, Deadlines: true},
		{Name: "Endgame3", Config: piecepicker.Config{MaxDuplicates: 3}, Deadlines: true},
		{Name: "PieceLengths", Config: piecepicker.Config{Mode: piecepicker.RarestFirst}, PieceLengths: true},
		{Name: "PadFiles", Config: piecepicker.Config{Mode: piecepicker.RarestFirst}, PadFiles: true},
		{Name: "RarestFirstLarge", Config: piecepicker.Config{Mode: piecepicker.RarestFirst}, Pieces: 200},
	}
}

// Run drives rounds random operation sequences against each policy and fails t on the
// first property violation, printing the seed that reproduces it.
func Run(t *testing.T, policies []Policy, rounds int) {
	t.Helper()
	for _, pol := range policies {
		t.Run(pol.Name, func(t *testing.T) {
			for seed := range uint64(rounds) {
				r := rand.New(rand.NewPCG(seed, 0x9e3779b97f4a7c15))
				ops := make([]byte, 64+r.IntN(2000))
				for i := range ops {
					ops[i] = byte(r.Uint32())
				}
				if err := Drive(pol, ops); err != nil {
					t.Fatalf("seed %d: %v", seed, err)
				}
			}
		})
	}
}

// input reads operation bytes; past the end it reads zeros.
type input struct {
	b []byte
}

func (in *input) byte() byte {
	if len(in.b) == 0 {
		return 0
	}
	c := in.b[0]
	in.b = in.b[1:]
	return c
}

func (in *input) intn(n int) int {
	if n <= 0 {
		return 0
	}
	return int(in.byte()) % n
}

// Drive applies the operations encoded in ops to a fresh Picker configured by pol (the
// first bytes choose the torrent shape) and returns the first property violation, or nil.
// Every byte string is a valid input.
func Drive(pol Policy, ops []byte) error {
	in := &input{b: ops}
	maxPieces := 24
	if pol.Pieces > 0 {
		maxPieces = min(pol.Pieces, 256)
	}
	n := 1 + in.intn(maxPieces)
	bpp := 1 + in.intn(4)
	lastBlocks := 1 + in.intn(bpp)
	lastTail := 1 + in.intn(256)*64
	cfg := pol.Config
	cfg.NumPieces = n
	cfg.PieceLength = bpp * piecepicker.BlockSize
	cfg.LastPieceLength = (lastBlocks-1)*piecepicker.BlockSize + min(lastTail, piecepicker.BlockSize)
	now := int64(1_000_000_000_000)
	cfg.Now = func() time.Time { return time.Unix(0, now) }
	cfg.Rand = rand.New(rand.NewPCG(uint64(len(ops)), 7))
	blocks := make([]int, n)
	for i := range blocks {
		blocks[i] = bpp
	}
	blocks[n-1] = lastBlocks
	if pol.PieceLengths {
		lens := make([]int, n)
		for i := range lens {
			blocks[i] = 1 + in.intn(4)
			lens[i] = (blocks[i]-1)*piecepicker.BlockSize + min(1+in.intn(256)*64, piecepicker.BlockSize)
		}
		cfg.PieceLengths = func(i int) int { return lens[i] }
	}
	var pads []piecepicker.Range
	if pol.PadFiles && !pol.PieceLengths && n > 1 {
		for range in.intn(4) {
			// A pad file of 1..bpp blocks' worth of bytes ending where piece i ends.
			i := in.intn(n - 1)
			end := int64(i+1) * int64(cfg.PieceLength)
			length := min(int64(1+in.intn(256)*256), int64(cfg.PieceLength))
			if in.byte()&3 == 0 {
				length = int64(cfg.PieceLength) // the whole piece
			}
			pads = append(pads, piecepicker.Range{Offset: end - length, Length: length})
		}
		cfg.PadFiles = pads
	}
	p, err := piecepicker.New(cfg)
	if err != nil {
		return fmt.Errorf("p.New: %w", err)
	}
	maxDup := cfg.MaxDuplicates
	if maxDup <= 0 {
		maxDup = 2
	}
	m := newModel(n, blocks, maxDup)
	for _, r := range pads {
		for i := range n {
			start := int64(i) * int64(cfg.PieceLength)
			for j := range blocks[i] {
				b0 := start + int64(j)*piecepicker.BlockSize
				b1 := min(b0+piecepicker.BlockSize, start+int64(cfg.PieceLength))
				if b0 >= r.Offset && b1 <= r.Offset+r.Length {
					m.pad[piecepicker.Block{Piece: i, Index: j}] = true
				}
			}
		}
	}
	for i := range n {
		m.have[i] = m.allPad(i)
	}
	d := &driver{p: p, m: m, in: in, pol: pol, now: &now}
	for step := 0; len(in.b) > 0; step++ {
		if err := d.step(); err != nil {
			return fmt.Errorf("step %d: %w", step, err)
		}
		if err := d.check(); err != nil {
			return fmt.Errorf("step %d (after %s): %w", step, d.last, err)
		}
	}
	return nil
}
