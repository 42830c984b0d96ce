package bittern

import (
	"context"
	"errors"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/bittern/bittern/peerwire"
	"github.com/bittern/bittern/piecepicker"
)

// Web seed (BEP 19) limits and timings.
const (
	// MaxWebSeeds bounds the web seeds of a torrent (its url-list, a
	// magnet's "ws=", TorrentOptions.WebSeeds and AddWebSeeds together);
	// more are ignored.
	MaxWebSeeds = 32
	// MaxWebSeedURLLength bounds the length of a web seed URL; longer ones
	// are ignored.
	MaxWebSeedURLLength = 2048
	// MaxWebSeedRequests is how many HTTP requests a torrent keeps in
	// flight to each of its web seeds at once (each fetching up to
	// webSeedJobBytes through ranged GETs, one after the other).
	MaxWebSeedRequests = 4
	// WebSeedMaxHashFailures is how many pieces a web seed may send that
	// fail their hash check before the torrent stops using it for good
	// (a WebSeedError event with ErrWebSeedCorrupt says so).
	WebSeedMaxHashFailures = 3
)

const (
	// webSeedJobBytes is what one request job asks of a web seed: a piece,
	// or as many blocks as make this much for small pieces. With
	// MaxWebSeedRequests jobs, a web seed has at most four times this (or
	// four pieces) outstanding, so that it does not start every piece of
	// a small torrent at once and push the peers into endgame.
	webSeedJobBytes = 256 << 10
	// webSeedQueueBlocks bounds the blocks a web seed has read and not yet
	// written to storage; at the bound its jobs stop reading.
	webSeedQueueBlocks = 64
	// webSeedStall cancels a request that received no byte for this long
	// (dial, headers or body); time spent waiting for the rate limits or
	// for the disk does not count.
	webSeedStall = 30 * time.Second
	// webSeedBackoff is the first wait after a network error, a server
	// error without Retry-After or a malformed response; it doubles with
	// each failure in a row, up to webSeedMaxBackoff.
	webSeedBackoff    = 5 * time.Second
	webSeedMaxBackoff = 10 * time.Minute
	// webSeedGoneRetry is how long a web seed answering 404 or 410 is left
	// alone.
	webSeedGoneRetry = 30 * time.Minute
	// webSeedMaxRetryAfter caps the wait a Retry-After header asks for.
	webSeedMaxRetryAfter = time.Hour
)

// Web seed errors, reported by WebSeedError events (wrapped).
var (
	// ErrWebSeedCorrupt: the web seed sent WebSeedMaxHashFailures pieces
	// that failed their hash check; it is not used again by the torrent.
	ErrWebSeedCorrupt = errors.New("bittern: web seed sent corrupt data")
	// ErrWebSeedResponse: the web seed's answer to a ranged request was
	// not the range asked for (status, Content-Range or length).
	ErrWebSeedResponse = errors.New("bittern: bad web seed response")
)

// WebSeedError: a web seed of the torrent failed. The torrent stops using
// it until RetryAt, or for good if RetryAt is zero (corrupt data). Other
// sources go on meanwhile.
type WebSeedError struct {
	EventBase
	// URL is the web seed's URL as given (url-list, "ws=", options).
	URL string
	// Err says why: an HTTP status (*WebSeedStatusError), a network error,
	// ErrWebSeedResponse or ErrWebSeedCorrupt.
	Err error
	// RetryAt is when the web seed is tried again; zero if never.
	RetryAt time.Time
}

// webSeed is one web seed URL of a torrent. Owner goroutine only, but for
// the atomic counters and tokens.
type webSeed struct {
	url string // as given

	pp        *piecepicker.Peer // nil while not in use (waiting, paused, disabled)
	ctx       context.Context   // of the current jobs; cancelled on suspend
	cancel    context.CancelFunc
	active    int         // jobs running
	fails     int         // transport failures in a row, for backoff
	hashFails int         // pieces it sent that failed their hash check
	disabled  bool        // for good
	retry     *time.Timer // while waiting to be tried again
	next      int         // the piece after its last job's: the next job starts there

	// tokens bounds its blocks read and not yet written (a slow disk
	// slows the web seed as it slows a peer).
	tokens chan struct{}
}

// webSeedSet is a torrent's web seeds. Owner goroutine only, but for
// the fields under mu, slotsHeld and the stats counters.
type webSeedSet struct {
	mu      sync.Mutex // guards pending and started
	pending []string   // from AddWebSeeds before the metadata
	started bool       // startWebSeeds ran: AddWebSeeds posts to the owner

	seeds   []*webSeed
	contrib map[int][]*webSeed // piece -> web seeds that sent kept blocks
	// slotsHeld counts the session write slots taken by web seed blocks
	// not yet written: shutdown gives back those whose block never
	// reached the writer.
	slotsHeld atomic.Int64
	inUse     atomic.Int64 // web seeds in use, for Stats
	bytes     atomic.Int64 // payload bytes received from web seeds
}

// webSeedJob is one request job: blocks asked of a web seed, fetched in
// order by one goroutine.
type webSeedJob struct {
	ws        *webSeed
	pp        *piecepicker.Peer // ws.pp when the job started
	blocks    []piecepicker.Block
	spans     []blockSpan // each block's place in the torrent's byte space
	delivered int         // blocks the owner received; the rest go back on done
}

// blockSpan places a block in the torrent's byte space.
type blockSpan struct {
	off int64
	n   int
}

// AddWebSeeds gives the torrent more BEP 19 web seed URLs (http or https;
// others are ignored), as TorrentOptions.WebSeeds does. It does not block.
// Before a magnet's metadata is known they wait for it.
func (t *Torrent) AddWebSeeds(urls ...string) {
	urls = slices.Clone(urls)
	w := &t.webSeeds
	w.mu.Lock()
	if !w.started {
		w.pending = append(w.pending, urls...)
		w.mu.Unlock()
		return
	}
	w.mu.Unlock()
	t.inbox.post(func() { t.addWebSeeds(urls) })
}

// startWebSeeds queues the torrent's first web seeds for its owner, once
// the metadata is known: the metainfo's url-list, then lists (options,
// a magnet's "ws="), then those AddWebSeeds was given before.
func (t *Torrent) startWebSeeds(lists ...[]string) {
	lists = append([][]string{t.mi.URLList}, lists...)
	w := &t.webSeeds
	w.mu.Lock()
	w.started = true
	lists = append(lists, w.pending)
	w.pending = nil
	w.mu.Unlock()
	t.inbox.post(func() { t.addWebSeeds(lists...) })
}

// addWebSeeds adds web seeds and starts using them. Owner goroutine.
func (t *Torrent) addWebSeeds(lists ...[]string) {
	if t.s.cfg.DisableWebSeeds {
		return
	}
	w := &t.webSeeds
	for _, list := range lists {
		for _, u := range list {
			if len(w.seeds) >= MaxWebSeeds {
				t.log.Debug("web seed ignored: too many", "url", u)
				break
			}
			if !usableWebSeed(u) || slices.ContainsFunc(w.seeds, func(ws *webSeed) bool { return ws.url == u }) {
				continue
			}
			ws := &webSeed{url: u, tokens: make(chan struct{}, webSeedQueueBlocks)}
			w.seeds = append(w.seeds, ws)
			if !t.paused {
				t.activateWebSeed(ws)
			}
		}
	}
	t.requestWebSeeds()
}

// usableWebSeed reports whether u is an http or https URL we can fetch.
func usableWebSeed(u string) bool {
	if u == "" || len(u) > MaxWebSeedURLLength {
		return false
	}
	p, err := url.Parse(u)
	if err != nil || p.Host == "" {
		return false
	}
	s := strings.ToLower(p.Scheme)
	return s == "http" || s == "https"
}

// activateWebSeed makes ws a source the picker hands blocks to: a peer
// that has every piece and never chokes.
func (t *Torrent) activateWebSeed(ws *webSeed) {
	if ws.pp != nil || ws.disabled || ws.retry != nil {
		return
	}
	ws.ctx, ws.cancel = context.WithCancel(t.ctx)
	ws.pp = t.picker.AddPeer()
	t.picker.PeerHaveAll(ws.pp)
	t.picker.PeerChoked(ws.pp, false)
	t.webSeeds.inUse.Add(1)
}

// deactivateWebSeed stops ws's jobs and gives its outstanding blocks back
// to the picker. Blocks its jobs still deliver are discarded.
func (t *Torrent) deactivateWebSeed(ws *webSeed) {
	if ws.pp == nil {
		return
	}
	ws.cancel()
	t.picker.RemovePeer(ws.pp)
	ws.pp = nil
	t.webSeeds.inUse.Add(-1)
}

// requestWebSeeds starts request jobs on every web seed in use, up to
// MaxWebSeedRequests each, while the picker has blocks for them.
func (t *Torrent) requestWebSeeds() {
	if t.paused || t.picker == nil {
		return
	}
	for _, ws := range t.webSeeds.seeds {
		for ws.pp != nil && ws.active < MaxWebSeedRequests {
			if !t.startWebSeedJob(ws) {
				break
			}
		}
	}
}

// startWebSeedJob picks blocks for ws and starts a goroutine fetching
// them. It reports false if the picker had none.
//
// As BEP 19 suggests, a web seed reads long runs: after a first piece
// where the picker's order puts it (rarest first, at random among equals:
// somewhere in the file), the pieces that follow the end of its last job
// are suggested to the picker (as a BEP 6 peer suggests pieces), which
// takes them, when still untouched, before other pieces of their
// priority. Of what the picker returns, the job keeps the run of
// consecutive pieces holding its first choice and gives the rest back,
// so that a job is one ranged GET per file it spans. While pieces have
// deadlines (streaming), everything picked is kept.
func (t *Torrent) startWebSeedJob(ws *webSeed) bool {
	per := int((t.info.PieceLength + peerwire.BlockSize - 1) / peerwire.BlockSize)
	n := int(max(t.info.PieceLength, webSeedJobBytes) / peerwire.BlockSize)
	np := t.picker.NumPieces()
	var blocks []piecepicker.Block
	if ws.next <= 0 || ws.next >= np {
		blocks = t.picker.Pick(ws.pp, min(n, per), nil)
		if len(blocks) == 0 {
			return false
		}
		n -= len(blocks)
		ws.next = blocks[0].Piece + 1
	}
	if n > 0 {
		k := min((n+per-1)/per, piecepicker.MaxSuggested)
		for i := ws.next; i < min(ws.next+k, np); i++ {
			_ = t.picker.PeerSuggest(ws.pp, i) // i is in range
		}
		blocks = t.picker.Pick(ws.pp, n, blocks)
	}
	if len(blocks) == 0 {
		return false
	}
	first := blocks[0].Piece
	// In torrent order, so that neighbours share a ranged GET.
	slices.SortFunc(blocks, func(a, b piecepicker.Block) int {
		if a.Piece != b.Piece {
			return a.Piece - b.Piece
		}
		return a.Index - b.Index
	})
	if t.picker.NumDeadlines() == 0 {
		blocks = t.keepRun(ws, blocks, first)
	}
	ws.next = blocks[len(blocks)-1].Piece + 1
	job := &webSeedJob{ws: ws, pp: ws.pp, blocks: blocks, spans: make([]blockSpan, len(blocks))}
	for k, b := range blocks {
		begin, length, _ := t.picker.BlockSpan(b)
		job.spans[k] = blockSpan{off: int64(b.Piece)*t.info.PieceLength + int64(begin), n: length}
	}
	ws.active++
	t.wg.Add(1)
	go t.runWebSeedJob(ws.ctx, job)
	return true
}

// keepRun keeps, of blocks picked for ws (sorted), those of the run of
// consecutive pieces that holds piece first, and gives the others back to
// the picker.
func (t *Torrent) keepRun(ws *webSeed, blocks []piecepicker.Block, first int) []piecepicker.Block {
	lo := slices.IndexFunc(blocks, func(b piecepicker.Block) bool { return b.Piece == first })
	hi := lo + 1
	for lo > 0 && blocks[lo-1].Piece >= blocks[lo].Piece-1 {
		lo--
	}
	for hi < len(blocks) && blocks[hi].Piece <= blocks[hi-1].Piece+1 {
		hi++
	}
	for _, b := range blocks[:lo] {
		t.picker.Release(ws.pp, b)
	}
	for _, b := range blocks[hi:] {
		t.picker.Release(ws.pp, b)
	}
	return blocks[lo:hi]
}

// onWebSeedBlock takes block k of a job, read from the web seed: like a
// peer's block, it is recorded with the picker and queued to be written
// and hashed.
func (t *Torrent) onWebSeedBlock(job *webSeedJob, k int, data []byte) {
	job.delivered = k + 1
	ws := job.ws
	b := job.blocks[k]
	a, err := t.picker.Received(job.pp, b)
	if err != nil || a.Duplicate {
		// A suspended web seed's (its peer is removed), or one a peer
		// sent first in endgame.
		t.wasted.Add(int64(len(data)))
		peerwire.PutBlock(data)
		t.releaseWebSeedToken(ws)
		return
	}
	begin, _, _ := t.picker.BlockSpan(b)
	for _, other := range a.Cancel {
		if oc := t.byPicker[other]; oc != nil {
			t.sendCancel(oc, blockKey{uint32(b.Piece), uint32(begin), uint32(len(data))})
		}
	}
	piece := b.Piece
	if !slices.Contains(t.webSeeds.contrib[piece], ws) {
		if t.webSeeds.contrib == nil {
			t.webSeeds.contrib = make(map[int][]*webSeed)
		}
		t.webSeeds.contrib[piece] = append(t.webSeeds.contrib[piece], ws)
	}
	t.queueWrite(piece, a.Complete, pendingBlock{begin: int64(begin), data: data, ws: ws})
}

// onWebSeedJobDone runs on the owner when a job ended, err nil if it
// fetched every block. Its undelivered blocks go back to the picker.
func (t *Torrent) onWebSeedJobDone(job *webSeedJob, err error) {
	ws := job.ws
	ws.active--
	released := false
	for _, b := range job.blocks[job.delivered:] {
		if t.picker.Release(job.pp, b) {
			released = true
		}
	}
	switch {
	case err == nil:
		ws.fails = 0
	case job.pp != ws.pp:
		// Suspended, paused or closing meanwhile: not the server's fault.
	default:
		t.webSeedFailed(ws, err)
		released = true
	}
	if released {
		t.requestAll() // peers may take what the web seed did not fetch
		return
	}
	t.requestWebSeeds()
}

// webSeedFailed suspends ws after a failed request, for as long as the
// failure calls for.
func (t *Torrent) webSeedFailed(ws *webSeed, err error) {
	var wait time.Duration
	var se *WebSeedStatusError
	switch {
	case errors.As(err, &se) && se.gone():
		wait = webSeedGoneRetry
	case errors.As(err, &se) && se.RetryAfter > 0:
		wait = min(se.RetryAfter, webSeedMaxRetryAfter)
	default:
		ws.fails++
		wait = min(webSeedBackoff<<min(ws.fails-1, 16), webSeedMaxBackoff)
	}
	t.log.Debug("web seed failed", "url", ws.url, "err", err, "retry", wait)
	t.suspendWebSeed(ws, err, wait)
}

// suspendWebSeed stops using ws for wait, or for good if wait is zero.
func (t *Torrent) suspendWebSeed(ws *webSeed, err error, wait time.Duration) {
	t.deactivateWebSeed(ws)
	var at time.Time
	if wait <= 0 {
		ws.disabled = true
	} else if ws.retry == nil {
		at = time.Now().Add(wait)
		ws.retry = time.AfterFunc(wait, func() {
			t.inbox.post(func() { t.retryWebSeed(ws) })
		})
	}
	t.emit(func(b EventBase) Event { return WebSeedError{EventBase: b, URL: ws.url, Err: err, RetryAt: at} })
}

// retryWebSeed takes ws back into use once its wait is over.
func (t *Torrent) retryWebSeed(ws *webSeed) {
	if ws.retry == nil {
		return // stopped meanwhile
	}
	ws.retry = nil
	if t.paused {
		return // Resume takes it back
	}
	t.activateWebSeed(ws)
	t.requestWebSeeds()
}

// settleWebSeeds counts a piece that failed its hash check against the
// web seeds that sent blocks of it; one that did so too often is dropped
// for good.
func (t *Torrent) settleWebSeeds(piece int, ok bool) {
	who := t.webSeeds.contrib[piece]
	if who == nil {
		return
	}
	delete(t.webSeeds.contrib, piece)
	if ok {
		return
	}
	for _, ws := range who {
		ws.hashFails++
		if ws.hashFails >= WebSeedMaxHashFailures && !ws.disabled {
			t.log.Warn("web seed disabled: corrupt data", "url", ws.url, "failed pieces", ws.hashFails)
			t.suspendWebSeed(ws, ErrWebSeedCorrupt, 0)
		}
	}
}

// webSeedsSent reports whether a web seed sent blocks of piece, so that
// a peer is not the piece's only suspect when it fails.
func (t *Torrent) webSeedsSent(piece int) bool { return len(t.webSeeds.contrib[piece]) > 0 }

// pauseWebSeeds stops every web seed's requests (Pause).
func (t *Torrent) pauseWebSeeds() {
	for _, ws := range t.webSeeds.seeds {
		t.deactivateWebSeed(ws)
	}
}

// resumeWebSeeds takes the web seeds back into use (Resume), but for
// those waiting or disabled.
func (t *Torrent) resumeWebSeeds() {
	for _, ws := range t.webSeeds.seeds {
		t.activateWebSeed(ws)
	}
	t.requestWebSeeds()
}

// stopWebSeeds ends every web seed as the owner returns: jobs are
// cancelled (t.ctx is too) and retry timers stopped.
func (t *Torrent) stopWebSeeds() {
	t.webSeeds.inUse.Store(0)
	for _, ws := range t.webSeeds.seeds {
		if ws.cancel != nil {
			ws.cancel()
		}
		if ws.retry != nil {
			ws.retry.Stop()
			ws.retry = nil
		}
	}
}

// acquireWebSeedToken takes a slot of ws's and of the session's queue of
// blocks waiting to be written, waiting while either is full. It reports
// false if ctx ended meanwhile.
func (t *Torrent) acquireWebSeedToken(ctx context.Context, ws *webSeed) bool {
	select {
	case ws.tokens <- struct{}{}:
	case <-ctx.Done():
		return false
	}
	select {
	case t.s.writeSlots <- struct{}{}:
		t.webSeeds.slotsHeld.Add(1)
		return true
	case <-ctx.Done():
		<-ws.tokens
		return false
	}
}

// releaseWebSeedToken gives back the slots a web seed's block held.
func (t *Torrent) releaseWebSeedToken(ws *webSeed) {
	select {
	case <-ws.tokens:
	default:
	}
	t.webSeeds.slotsHeld.Add(-1)
	t.s.releaseWriteSlot()
}

// releaseWebSeedSlots gives back, at shutdown, the session write slots of
// web seed blocks that never reached the writer (posted to an owner that
// had returned).
func (t *Torrent) releaseWebSeedSlots() {
	for n := t.webSeeds.slotsHeld.Swap(0); n > 0; n-- {
		t.s.releaseWriteSlot()
	}
}

// releaseToken gives back the queue slots a written block held: its
// connection's, or its web seed's.
func (b *pendingBlock) releaseToken(t *Torrent) {
	if b.ws != nil {
		t.releaseWebSeedToken(b.ws)
		return
	}
	b.c.releaseToken()
}

// webSeedStats fills in the web seed fields of st.
func (t *Torrent) webSeedStats(st *TorrentStats) {
	st.WebSeeds = int(t.webSeeds.inUse.Load())
	st.WebSeedDownloaded = t.webSeeds.bytes.Load()
}
