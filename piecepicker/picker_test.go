package piecepicker

import (
	"errors"
	"math/rand/v2"
	"slices"
	"testing"
	"testing/synctest"
	"time"

	"github.com/bittern/bittern/internal/bitset"
)

type bools []bool

func (b bools) Has(i int) bool { return i >= 0 && i < len(b) && b[i] }
func (b bools) Len() int       { return len(b) }

func newTest(t testing.TB, c Config) *Picker {
	t.Helper()
	if c.Rand == nil {
		c.Rand = rand.New(rand.NewPCG(1, 2))
	}
	p, err := New(c)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func bitsOf(n int, set ...int) bools {
	b := make(bools, n)
	for _, i := range set {
		b[i] = true
	}
	return b
}

func unchoked(p *Picker, bf Bitfield) *Peer {
	pe := p.AddPeer()
	if bf == nil {
		p.PeerHaveAll(pe)
	} else if err := p.PeerBitfield(pe, bf); err != nil {
		panic(err)
	}
	p.PeerChoked(pe, false)
	return pe
}

func pieces(bs []Block) []int {
	var out []int
	for _, b := range bs {
		if len(out) == 0 || out[len(out)-1] != b.Piece {
			out = append(out, b.Piece)
		}
	}
	return out
}

func TestConfigErrors(t *testing.T) {
	for _, c := range []Config{
		{NumPieces: -1, PieceLength: 1},
		{NumPieces: MaxPieces + 1, PieceLength: 1},
		{NumPieces: 2},
		{NumPieces: 2, PieceLength: MaxPieceLength + 1},
		{NumPieces: 2, PieceLength: 10, LastPieceLength: 11},
		{NumPieces: 2, PieceLength: 10, LastPieceLength: -1},
		{NumPieces: 2, PieceLengths: func(int) int { return 0 }},
		{NumPieces: 1, PieceLength: 1, Mode: 9},
	} {
		if _, err := New(c); !errors.Is(err, ErrConfig) {
			t.Errorf("New(%+v) = %v, want ErrConfig", c, err)
		}
	}
	p, err := New(Config{})
	if err != nil || p.NumPieces() != 0 || !p.Done() {
		t.Fatalf("zero Config: %v", err)
	}
	if got := p.Pick(p.AddPeer(), 4, nil); len(got) != 0 {
		t.Fatal("picked from an empty torrent")
	}
}

func TestBlockSpan(t *testing.T) {
	p := newTest(t, Config{NumPieces: 3, PieceLength: 2 * BlockSize, LastPieceLength: BlockSize + 100})
	if got := p.NumBlocks(2); got != 2 {
		t.Fatalf("NumBlocks(last) = %d", got)
	}
	begin, length, ok := p.BlockSpan(Block{Piece: 2, Index: 1})
	if !ok || begin != BlockSize || length != 100 {
		t.Fatalf("last block span %d %d %v", begin, length, ok)
	}
	for _, b := range []Block{{-1, 0}, {3, 0}, {0, 2}, {0, -1}} {
		if _, _, ok := p.BlockSpan(b); ok {
			t.Errorf("BlockSpan(%v) ok", b)
		}
	}
	if b, err := p.BlockAt(2, BlockSize, 100); err != nil || b != (Block{2, 1}) {
		t.Fatalf("BlockAt = %v, %v", b, err)
	}
	for _, c := range [][3]int{{2, BlockSize, 99}, {0, 1, BlockSize}, {0, -BlockSize, BlockSize}, {5, 0, BlockSize}, {0, 2 * BlockSize, 1}} {
		if _, err := p.BlockAt(c[0], c[1], c[2]); !errors.Is(err, ErrBadBlock) {
			t.Errorf("BlockAt%v = %v", c, err)
		}
	}
	v2 := newTest(t, Config{NumPieces: 3, PieceLengths: func(i int) int { return []int{BlockSize * 2, 5, BlockSize * 2}[i] }})
	if v2.NumBlocks(1) != 1 || v2.PieceLength(1) != 5 || v2.PieceLength(2) != 2*BlockSize {
		t.Fatal("PieceLengths not honoured")
	}
}

func TestRarestFirst(t *testing.T) {
	p := newTest(t, Config{NumPieces: 6, PieceLength: BlockSize})
	unchoked(p, bitsOf(6, 0, 1, 2, 3, 4))
	unchoked(p, bitsOf(6, 0, 1, 2, 3))
	unchoked(p, bitsOf(6, 0, 1))
	seed := unchoked(p, nil)
	// Availability: 0,1 → 4; 2,3 → 3; 4 → 2; 5 → 1.
	got := pieces(p.Pick(seed, 6, nil))
	if want := []int{5, 4}; !slices.Equal(got[:2], want) {
		t.Fatalf("order %v, want rarest %v first", got, want)
	}
	if !slices.Contains(got[2:4], 2) || !slices.Contains(got[2:4], 3) {
		t.Fatalf("order %v: 2 and 3 must come third and fourth", got)
	}
}

func TestPriorityBeatsRarity(t *testing.T) {
	p := newTest(t, Config{NumPieces: 4, PieceLength: BlockSize})
	unchoked(p, bitsOf(4, 0))
	seed := unchoked(p, nil)
	if err := p.SetPriority(0, High); err != nil {
		t.Fatal(err)
	}
	if err := p.SetPriority(3, Skip); err != nil {
		t.Fatal(err)
	}
	if err := p.SetPriority(1, Low); err != nil {
		t.Fatal(err)
	}
	if got := pieces(p.Pick(seed, 4, nil)); !slices.Equal(got, []int{0, 2, 1}) {
		t.Fatalf("order %v, want [0 2 1]", got)
	}
	if err := p.SetPriority(0, 8); !errors.Is(err, ErrBadPriority) {
		t.Fatalf("priority 8: %v", err)
	}
	if err := p.SetPriority(4, Low); !errors.Is(err, ErrBadPiece) {
		t.Fatalf("piece 4: %v", err)
	}
}

func TestRandomTieBreak(t *testing.T) {
	first := map[int]bool{}
	for seed := range uint64(40) {
		p := newTest(t, Config{NumPieces: 100, PieceLength: BlockSize, Rand: rand.New(rand.NewPCG(seed, 3))})
		first[p.Pick(unchoked(p, nil), 1, nil)[0].Piece] = true
	}
	if len(first) < 20 {
		t.Fatalf("40 pickers chose only %d distinct first pieces", len(first))
	}
}

func TestPartialFirst(t *testing.T) {
	p := newTest(t, Config{NumPieces: 10, PieceLength: 4 * BlockSize})
	a, b := unchoked(p, nil), unchoked(p, nil)
	first := p.Pick(a, 1, nil)
	got := p.Pick(b, 3, nil)
	want := []Block{{first[0].Piece, 1}, {first[0].Piece, 2}, {first[0].Piece, 3}}
	if !slices.Equal(got, want) {
		t.Fatalf("second peer got %v, want the rest of the partial piece %v", got, want)
	}
}

func TestSequential(t *testing.T) {
	p := newTest(t, Config{NumPieces: 8, PieceLength: BlockSize, Mode: Sequential})
	p.SetPriority(2, Skip)
	p.MarkHave(4)
	pe := unchoked(p, bitsOf(8, 0, 1, 2, 3, 4, 6, 7))
	if got := pieces(p.Pick(pe, 10, nil)); !slices.Equal(got, []int{0, 1, 3, 6, 7}) {
		t.Fatalf("sequential order %v", got)
	}
	p.SetMode(RarestFirst)
	if err := p.SetMode(7); !errors.Is(err, ErrConfig) {
		t.Fatal(err)
	}
}

func TestAllowedFastAndReject(t *testing.T) {
	p := newTest(t, Config{NumPieces: 8, PieceLength: 2 * BlockSize})
	pe := p.AddPeer()
	p.PeerHaveAll(pe)
	if got := p.Pick(pe, 4, nil); len(got) != 0 {
		t.Fatalf("choked peer without allowed-fast gave %v", got)
	}
	p.PeerAllowedFast(pe, 5)
	p.PeerAllowedFast(pe, 6)
	got := p.Pick(pe, 8, nil)
	if ps := pieces(got); len(got) != 4 || !slices.Contains(ps, 5) || !slices.Contains(ps, 6) {
		t.Fatalf("choked peer picks %v, want all of 5 and 6", got)
	}
	if err := p.Rejected(pe, Block{5, 0}); err != nil {
		t.Fatal(err)
	}
	if err := p.Rejected(pe, Block{5, 0}); !errors.Is(err, ErrNotRequested) {
		t.Fatalf("second reject: %v", err)
	}
	if got := p.Pick(pe, 8, nil); len(got) != 0 {
		t.Fatalf("rejected piece 5 left the allowed-fast set, yet got %v", got)
	}
	for i := range MaxAllowedFast + 5 {
		p.PeerAllowedFast(pe, i%8)
	}
	if err := p.PeerAllowedFast(pe, 8); !errors.Is(err, ErrBadPiece) {
		t.Fatal(err)
	}
}

func TestSuggest(t *testing.T) {
	p := newTest(t, Config{NumPieces: 6, PieceLength: BlockSize})
	unchoked(p, bitsOf(6, 0, 1, 2, 3, 4))
	pe := unchoked(p, nil)
	p.PeerSuggest(pe, 1)
	if got := pieces(p.Pick(pe, 2, nil)); !slices.Equal(got, []int{1, 5}) {
		t.Fatalf("got %v, want suggested 1 before rarest 5", got)
	}
	for i := range MaxSuggested + 3 {
		p.PeerSuggest(pe, i%6)
	}
	if len(pe.suggested) > MaxSuggested {
		t.Fatal("suggestions unbounded")
	}
}

func TestDeadlinesCritical(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := newTest(t, Config{NumPieces: 10, PieceLength: 2 * BlockSize})
		a, b := unchoked(p, nil), unchoked(p, nil)
		if err := p.SetDeadline(7, time.Now().Add(5*time.Second)); err != nil {
			t.Fatal(err)
		}
		if got := p.Pick(a, 2, nil); !slices.Equal(pieces(got), []int{7}) {
			t.Fatalf("deadline piece not first: %v", got)
		}
		// Not yet critical: b gets other work, not duplicates.
		if got := p.Pick(b, 1, nil); got[0].Piece == 7 {
			t.Fatalf("duplicate before critical: %v", got)
		}
		time.Sleep(3*time.Second + time.Millisecond)
		if !p.Critical(7) {
			t.Fatal("not critical 2s before the deadline")
		}
		if got := p.Pick(b, 1, nil); !slices.Equal(got, []Block{{7, 0}}) {
			t.Fatalf("time-critical re-request: %v", got)
		}
		arr, _ := p.Received(b, Block{7, 0})
		if len(arr.Cancel) != 1 || arr.Cancel[0] != a {
			t.Fatalf("cancel %v, want a", arr.Cancel)
		}
		p.Received(a, Block{7, 1})
		p.Verified(7)
		if p.NumDeadlines() != 0 {
			t.Fatal("verified piece kept its deadline")
		}
	})
}

func TestSetWindow(t *testing.T) {
	now := time.Unix(100, 0)
	p := newTest(t, Config{NumPieces: 10, PieceLength: BlockSize, Now: func() time.Time { return now }})
	seed := unchoked(p, nil)
	p.MarkHave(3)
	if err := p.SetWindow(2, 4, now, -time.Second); err != nil {
		t.Fatal(err)
	}
	if got := pieces(p.Pick(seed, 3, nil)); !slices.Equal(got, []int{5, 4, 2}) {
		t.Fatalf("window order %v", got)
	}
	if err := p.SetWindow(10, 1, now, 0); !errors.Is(err, ErrBadPiece) {
		t.Fatal(err)
	}
}

func TestHashFailed(t *testing.T) {
	p := newTest(t, Config{NumPieces: 1, PieceLength: 2 * BlockSize})
	a, b := unchoked(p, nil), unchoked(p, nil)
	ba, bb := p.Pick(a, 1, nil), p.Pick(b, 1, nil)
	p.Received(a, ba[0])
	arr, _ := p.Received(b, bb[0])
	if !arr.Complete {
		t.Fatal("not complete")
	}
	senders, err := p.HashFailed(0)
	if err != nil || len(senders) != 2 {
		t.Fatalf("senders %v %v", senders, err)
	}
	if p.Endgame() {
		t.Fatal("failed piece did not return to the pool")
	}
	if got := p.Pick(a, 4, nil); len(got) != 2 {
		t.Fatalf("re-pick after hash failure: %v", got)
	}
}

func TestDisconnectAndSeedConversion(t *testing.T) {
	p := newTest(t, Config{NumPieces: 4, PieceLength: BlockSize})
	a := unchoked(p, bitsOf(4, 0, 1))
	b := p.AddPeer()
	for i := range 4 {
		p.PeerHave(b, i)
	}
	if !b.seed || p.seeds != 1 || p.Availability(0) != 2 || p.Availability(3) != 1 {
		t.Fatalf("seed conversion: seed=%v avail %d %d", b.seed, p.Availability(0), p.Availability(3))
	}
	got := p.Pick(a, 2, nil)
	p.RemovePeer(a)
	p.RemovePeer(a)
	if p.Availability(0) != 1 || p.NumRequests(a) != 0 {
		t.Fatal("disconnect kept availability or requests")
	}
	p.PeerChoked(b, false)
	again := p.Pick(b, 4, nil)
	if len(again) != 4 || !slices.Contains(again, got[0]) || !slices.Contains(again, got[1]) {
		t.Fatalf("released requests %v not re-picked, got %v", got, again)
	}
	if err := p.PeerHave(a, 0); !errors.Is(err, ErrPeerRemoved) {
		t.Fatal(err)
	}
	p.PeerHaveNone(b)
	if p.seeds != 0 || p.Availability(0) != 0 || p.Interesting(b) {
		t.Fatal("have-none kept the seed")
	}
	bs := bitset.New(4)
	bs.SetAll()
	if err := p.PeerBitfield(b, bs); err != nil || !b.seed {
		t.Fatalf("full *bitset.Bitset did not make a seed: %v", err)
	}
}

func TestPriorityWhilePartial(t *testing.T) {
	p := newTest(t, Config{NumPieces: 2, PieceLength: 2 * BlockSize})
	a := unchoked(p, bitsOf(2, 0))
	got := p.Pick(a, 1, nil)
	p.SetPriority(0, Skip)
	if more := p.Pick(a, 4, nil); len(more) != 0 {
		t.Fatalf("picked from a skipped partial piece: %v", more)
	}
	arr, _ := p.Received(a, got[0])
	if !arr.Duplicate {
		t.Fatal("data for a skipped piece not reported duplicate")
	}
	p.SetPriority(0, Normal)
	if again := p.Pick(a, 4, nil); len(again) != 2 {
		t.Fatalf("re-wanted piece: %v", again)
	}
}

func TestNoAllocsSteadyState(t *testing.T) {
	p := newTest(t, Config{NumPieces: 1000, PieceLength: 16 * BlockSize})
	pe := unchoked(p, nil)
	buf := make([]Block, 0, 16)
	next := 0
	cycle := func() {
		buf = p.Pick(pe, 16, buf[:0])
		for _, b := range buf {
			p.Received(pe, b)
		}
		// Keep the torrent from finishing: unverify what we verify.
		p.Verified(buf[0].Piece)
		p.ClearHave(next)
		next = (next + 1) % 1000
	}
	for range 100 {
		cycle()
	}
	if allocs := testing.AllocsPerRun(200, cycle); allocs != 0 {
		t.Fatalf("%v allocations per pick/receive/verify cycle", allocs)
	}
}

func TestPriorityBeatsPartial(t *testing.T) {
	p := newTest(t, Config{NumPieces: 3, PieceLength: 2 * BlockSize})
	a, b := unchoked(p, nil), unchoked(p, nil)
	p.SetPriority(1, Low)
	p.SetPriority(2, Low)
	p.SetPriority(0, Skip)
	first := p.Pick(a, 1, nil)
	p.SetPriority(0, High)
	got := p.Pick(b, 3, nil)
	want := []Block{{0, 0}, {0, 1}, {first[0].Piece, 1}}
	if !slices.Equal(got, want) {
		t.Fatalf("got %v, want the High piece before the Low partial: %v", got, want)
	}
}

func TestRarestFirstNonSeed(t *testing.T) {
	// A dense peer (bucket walk) and a sparse one (word-wise scan) both start their
	// rarest pieces first.
	for _, n := range []int{12, 5000} {
		p := newTest(t, Config{NumPieces: n, PieceLength: BlockSize})
		mine := []int{n - 1, 3, n / 2, 7}
		// Piece mine[k] gets k extra copies.
		for k, i := range mine {
			for range k {
				unchoked(p, bitsOf(n, i))
			}
		}
		// Background copies make everything else common.
		for range 6 {
			all := make(bools, n)
			for i := range all {
				all[i] = !slices.Contains(mine, i)
			}
			unchoked(p, all)
		}
		pe := unchoked(p, bitsOf(n, mine...))
		if got := pieces(p.Pick(pe, 4, nil)); !slices.Equal(got, mine) {
			t.Fatalf("n=%d: order %v, want %v", n, got, mine)
		}
	}
}

func TestRarestFirstProbeFallback(t *testing.T) {
	// The peer has only the most common pieces, so the bucket walk gives up after its probe
	// budget and the word-wise scan must still find the rarest of them.
	const n = 5000
	p := newTest(t, Config{NumPieces: n, PieceLength: BlockSize})
	var mine []int
	for i := 0; i < n; i += 25 {
		mine = append(mine, i)
	}
	common := bitsOf(n, mine...)
	for range 3 {
		unchoked(p, common)
	}
	rest := make(bools, n)
	for i := range rest {
		rest[i] = !common[i]
	}
	unchoked(p, rest)                        // 4,800 rarer pieces (one copy) this peer lacks
	p.PeerHave(unchoked(p, bitsOf(n)), 1000) // piece 1000: one more copy than the rest of mine
	pe := unchoked(p, common)
	got := p.Pick(pe, 1, nil)
	if len(got) != 1 || got[0].Piece == 1000 || !slices.Contains(mine, got[0].Piece) {
		t.Fatalf("got %v", got)
	}
	// Others of mine have 4 copies, piece 1000 five: it must come last.
	var order []int
	for range len(mine) - 1 {
		order = append(order, pieces(p.Pick(pe, 1, nil))...)
	}
	if order[len(order)-1] != 1000 {
		t.Fatalf("piece 1000 (most common) not picked last: %v", order[len(order)-5:])
	}
}

func TestNilBitfieldAndHugeWindow(t *testing.T) {
	p := newTest(t, Config{NumPieces: 4, PieceLength: BlockSize})
	pe := p.AddPeer()
	var nilSet *bitset.Bitset
	for _, bf := range []Bitfield{nil, nilSet} {
		if err := p.PeerBitfield(pe, bf); !errors.Is(err, ErrBitfieldLen) {
			t.Fatalf("PeerBitfield(%v) = %v", bf, err)
		}
	}
	if err := p.SetWindow(0, 1<<40, time.Unix(0, 0), time.Duration(1<<62)); err != nil {
		t.Fatal(err)
	}
	if !slices.IsSortedFunc(p.deadlines, func(a, b deadline) int { return int(min(max(a.at-b.at, -1), 1)) }) {
		t.Fatalf("deadlines out of order after overflow: %v", p.deadlines)
	}
	p.PeerHaveAll(pe)
	p.PeerChoked(pe, false)
	if got := p.Pick(pe, 1<<30, nil); len(got) != 4 {
		t.Fatalf("huge n: %v", got)
	}
}

func TestRandomTieBreakNonSeed(t *testing.T) {
	first := map[int]bool{}
	bf := make(bools, 200)
	for i := range bf {
		bf[i] = i%2 == 0
	}
	for seed := range uint64(40) {
		p := newTest(t, Config{NumPieces: 200, PieceLength: BlockSize, Rand: rand.New(rand.NewPCG(seed, 5))})
		first[p.Pick(unchoked(p, bf), 1, nil)[0].Piece] = true
	}
	if len(first) < 20 {
		t.Fatalf("40 pickers chose only %d distinct first pieces", len(first))
	}
}

func TestPadFiles(t *testing.T) {
	pl := 4 * BlockSize
	p := newTest(t, Config{
		NumPieces: 3, PieceLength: pl,
		PadFiles: []Range{
			{Offset: int64(pl) - 2*BlockSize - 100, Length: 2*BlockSize + 100}, // end of piece 0
			{Offset: 2 * int64(pl), Length: int64(pl)},                         // all of piece 2
		},
	})
	if !p.HasPiece(2) || p.Remaining() != 2 {
		t.Fatalf("all-pad piece not verified: remaining %d", p.Remaining())
	}
	p.ClearHave(2)
	if !p.HasPiece(2) {
		t.Fatal("ClearHave dropped an all-pad piece")
	}
	p.SetPriority(1, Skip)
	seed := unchoked(p, nil)
	got := p.Pick(seed, 8, nil)
	if want := []Block{{0, 0}, {0, 1}}; !slices.Equal(got, want) {
		t.Fatalf("picked %v, want only the non-pad blocks %v", got, want)
	}
	if a, _ := p.Received(seed, Block{0, 3}); !a.Duplicate {
		t.Fatal("pad block data not reported duplicate")
	}
	p.Received(seed, got[0])
	if a, _ := p.Received(seed, got[1]); !a.Complete {
		t.Fatal("piece with pad blocks did not complete")
	}
	if p.Lost(Block{0, 2}) {
		t.Fatal("a pad block was lost")
	}
	if senders, _ := p.HashFailed(0); len(senders) != 1 {
		t.Fatalf("senders %v", senders)
	}
	if again := p.Pick(seed, 8, nil); !slices.Equal(again, got) {
		t.Fatalf("after hash failure picked %v", again)
	}
	p.ReleaseAll(seed)
	if !p.untouched.Has(0) {
		t.Fatal("released piece with pad blocks did not return to the buckets")
	}
	if _, err := New(Config{NumPieces: 1, PieceLength: 10, PadFiles: []Range{{Offset: 5, Length: 6}}}); !errors.Is(err, ErrConfig) {
		t.Fatalf("pad outside the torrent: %v", err)
	}
}

func TestEndgameIgnoresUnobtainablePieces(t *testing.T) {
	p := newTest(t, Config{NumPieces: 3, PieceLength: BlockSize})
	a := unchoked(p, bitsOf(3, 0, 1))
	b := unchoked(p, bitsOf(3, 0, 1))
	got := p.Pick(a, 4, nil)
	if len(got) != 2 || !p.Endgame() {
		t.Fatalf("picked %v, endgame %v: piece 2 has no source and must not hold endgame back", got, p.Endgame())
	}
	if dup := p.Pick(b, 4, nil); len(dup) != 2 {
		t.Fatalf("endgame duplicates %v", dup)
	}
	p.PeerHave(b, 2)
	if p.Endgame() {
		t.Fatal("a source for piece 2 appeared: not endgame any more")
	}
}

func TestRandomTieBreakScan(t *testing.T) {
	// A sparse peer (20 of 5,000 pieces, all equally rare) takes the word-wise scan; its
	// ties must still be broken at random, not by position.
	var mine []int
	for i := range 20 {
		mine = append(mine, 100+i) // adjacent: a positional bias would always pick 100
	}
	first := map[int]bool{}
	for seed := range uint64(40) {
		p := newTest(t, Config{NumPieces: 5000, PieceLength: BlockSize, Rand: rand.New(rand.NewPCG(seed, 9))})
		first[p.Pick(unchoked(p, bitsOf(5000, mine...)), 1, nil)[0].Piece] = true
	}
	if len(first) < 10 {
		t.Fatalf("40 pickers chose only %d distinct first pieces among 20 ties", len(first))
	}
}

func TestStats(t *testing.T) {
	p := newTest(t, Config{NumPieces: 4, PieceLength: 2 * BlockSize})
	a, b := unchoked(p, nil), unchoked(p, bitsOf(4, 1))
	p.MarkHave(3)
	p.SetDeadline(2, time.Now().Add(time.Hour))
	p.Pick(a, 3, nil)
	p.Pick(b, 1, nil)
	// a: deadline piece 2 (both blocks), then the rarest, 0; b: piece 1, its only piece.
	want := Stats{Pieces: 4, Have: 1, Remaining: 3, Partial: 3, Requests: 4, Peers: 2, Seeds: 1, Deadlines: 1, Endgame: true}
	if got := p.Stats(); got != want {
		t.Fatalf("Stats = %+v, want %+v", got, want)
	}
}
