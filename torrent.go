package bittern

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/bittern/bittern/metainfo"
	"github.com/bittern/bittern/peerwire"
	"github.com/bittern/bittern/piecepicker"
	"github.com/bittern/bittern/storage"
)

// TorrentOptions tunes AddTorrent. A nil *TorrentOptions is the zero value.
type TorrentOptions struct {
	// Storage keeps the torrent's data. If nil, Config.Storage, or else a
	// storage.Dir rooted at Config.DataDir.
	Storage storage.Storage
	// Peers are dialled as soon as the torrent starts, as if passed to
	// AddPeers.
	Peers []netip.AddrPort
	// Trackers are announce tiers used in addition to the metainfo's
	// (BEP 12: each inner slice is a tier).
	Trackers [][]string
	// DownloadRateLimit bounds the payload bytes per second this torrent
	// receives, within the session's limit (Torrent.SetRateLimits changes
	// it at run time). If zero, unlimited.
	DownloadRateLimit int
	// UploadRateLimit bounds the payload bytes per second this torrent
	// sends, like DownloadRateLimit. If zero, unlimited.
	UploadRateLimit int
	// FilePriorities, if non-nil, sets the priority of each file of the
	// torrent's file list (metainfo.Info.Files, pad files included) from
	// the start, as Torrent.SetFilePriorities does: files past its end get
	// PriorityNormal. AddMagnet fills it from the link's BEP 53 "so="
	// selection when it is nil. If nil, every file is PriorityNormal.
	FilePriorities []Priority
	// WebSeeds are BEP 19 web seed URLs (http, https) used in addition to
	// the metainfo's url-list (and a magnet link's "ws="). If nil, only
	// those.
	WebSeeds []string
}

// Torrent is one torrent of a Session. Its methods are safe for concurrent
// use. Its state lives in one owner goroutine; the methods talk to it
// without waiting for it, except Wait.
type Torrent struct {
	s    *Session
	mi   *metainfo.MetaInfo
	info *metainfo.Info
	ih   metainfo.Hash     // v1 info-hash; a v2-only torrent's truncated v2 one
	ih2  metainfo.Hash     // a hybrid torrent's truncated v2 info-hash, else zero
	v2   *storage.Verifier // a v2-only torrent's merkle verifier, else nil
	st   storage.Torrent
	log  *slog.Logger

	// hashTrees caches, by pieces root, the merkle tree above the piece
	// layer of a file, for BEP 52 hash requests ([][]metainfo.HashV2).
	hashTrees sync.Map
	// byRoot maps pieces roots to file indexes, built on first use by
	// leaf hash requests.
	byRoot     map[metainfo.HashV2]int
	byRootOnce sync.Once

	ctx    context.Context
	cancel context.CancelFunc
	events chan peerEvent // from reader, dial and handshake goroutines
	inbox  *inbox         // from I/O jobs and API calls
	wg     sync.WaitGroup // reader, writer and dial goroutines
	jobs   sync.WaitGroup // I/O jobs in the pool
	owner  chan struct{}  // closed when the owner goroutine returns
	bg     sync.WaitGroup // the tracker announcer
	bgMu   sync.Mutex     // orders bg.Add before shutdown's bg.Wait
	bgDone bool           // shutdown began: start nothing more in bg

	complete     chan struct{} // closed when every piece is verified
	completeOnce sync.Once
	closed       chan struct{} // closed when the torrent has shut down
	shutOnce     sync.Once

	files    []*File      // the file list, fixed
	sel      selection    // file priorities
	verified *pieceSignal // verified pieces, for readers
	done     doneState    // closed while every selected piece is verified

	// Counters read by Stats.
	downloaded   atomic.Int64 // payload bytes received
	uploaded     atomic.Int64 // payload bytes sent
	wasted       atomic.Int64 // bytes discarded: duplicates and failed pieces
	hashFails    atomic.Int64
	numHave      atomic.Int64
	bytesHave    atomic.Int64
	bytesLeft    atomic.Int64 // of the selected files: see noteLeft
	numPeers     atomic.Int64
	numEncrypted atomic.Int64 // connections under MSE
	numUTP       atomic.Int64 // connections over uTP
	isPaused     atomic.Bool
	numBanned    atomic.Int64
	downRate     atomic.Uint64 // math.Float64bits, bytes/s
	upRate       atomic.Uint64

	trackerAnnounces atomic.Int64 // announces some tracker answered
	trackerErrors    atomic.Int64 // announces no tracker answered
	sourcePeers      atomic.Int64 // peers found by peer sources (DHT)
	pexPeers         atomic.Int64 // peers taken from ut_pex messages

	downLimit, upLimit rateLimit                 // TorrentOptions.DownloadRateLimit, UploadRateLimit
	fl                 filesLeft                 // for FileCompleted events; owner only
	stor               storage.Storage           // that opened st, for RemoveAndDelete
	gotInfo            chan struct{}             // closed once mi, info, st and the owner state are set
	fetch              atomic.Pointer[metaFetch] // a magnet's metadata fetch, while it runs
	infoErr            error                     // why a magnet torrent got no info; set before infoFailed closes
	infoFailed         chan struct{}             // closed when a magnet torrent will get no info
	webSeeds           webSeedSet                // BEP 19 web seeds (webseed.go)

	ownerState // touched only by the owner goroutine
}

// AddTorrent adds a torrent to the session and starts it: v1, v2-only
// (BEP 52: its pieces are checked against the piece layers, which mi must
// hold for every file larger than a piece), or hybrid (it joins both
// swarms). It opens the storage and verifies the data already
// there before it returns — trusting the pieces of a valid completion
// record when the storage keeps one (storage.CompletionStore) — so a torrent
// whose data is complete seeds at once. ctx bounds that check.
func (s *Session) AddTorrent(ctx context.Context, mi *metainfo.MetaInfo, opts *TorrentOptions) (*Torrent, error) {
	if opts == nil {
		opts = &TorrentOptions{}
	}
	info := mi.Info()
	if info == nil {
		return nil, fmt.Errorf("%w: no info dictionary", ErrUnsupported)
	}
	ih, ih2 := mi.SwarmHash(), v2Hash(mi)
	s.mu.Lock()
	closed, dup := s.closed, s.takenLocked(ih, ih2)
	if !closed {
		s.adding.Add(1)
	}
	s.mu.Unlock()
	if closed {
		return nil, ErrClosed
	}
	defer s.adding.Done()
	if dup {
		return nil, ErrDuplicateTorrent
	}
	// Close cancels the storage check, and waits for it.
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stop := context.AfterFunc(s.ctx, cancel)
	defer stop()
	stor := opts.Storage
	if stor == nil {
		stor = s.cfg.Storage
	}
	if stor == nil {
		stor = &storage.Dir{Root: s.cfg.DataDir}
	}
	st, err := stor.Open(ctx, info, ih)
	if err != nil {
		return nil, fmt.Errorf("bittern: open storage: %w", err)
	}
	t, err := s.newTorrent(ctx, mi, st)
	if err != nil {
		st.Close()
		return nil, err
	}
	if err := t.initFiles(opts.FilePriorities); err != nil {
		t.cancel()
		st.Close()
		return nil, err
	}
	t.stor = stor
	s.mu.Lock()
	switch {
	case s.closed:
		err = ErrClosed
	case s.takenLocked(ih, ih2):
		err = ErrDuplicateTorrent
	default:
		s.addLocked(t)
	}
	s.mu.Unlock()
	if err != nil {
		t.cancel()
		st.Close()
		return nil, err
	}
	t.SetRateLimits(opts.DownloadRateLimit, opts.UploadRateLimit)
	t.startWebSeeds(opts.WebSeeds)
	go t.run()
	if len(opts.Peers) > 0 {
		t.AddPeers(opts.Peers...)
	}
	t.startAnnouncer(trackerTiers(mi.Trackers(), opts.Trackers))
	t.startPeerSources()
	return t, nil
}

func (s *Session) newTorrent(ctx context.Context, mi *metainfo.MetaInfo, st storage.Torrent) (*Torrent, error) {
	t := s.newTorrentShell(mi.SwarmHash())
	if err := t.setInfo(ctx, mi, st); err != nil {
		t.cancel()
		return nil, err
	}
	close(t.gotInfo) // the torrent is not published yet: initFiles may follow
	return t, nil
}

// newTorrentShell returns a torrent that knows only its info-hash, with
// its channels and context; setInfo completes it.
func (s *Session) newTorrentShell(ih metainfo.Hash) *Torrent {
	t := &Torrent{
		s:          s,
		ih:         ih,
		log:        s.cfg.Logger.With("torrent", ih),
		events:     make(chan peerEvent, eventQueueLen),
		inbox:      newInbox(),
		owner:      make(chan struct{}),
		complete:   make(chan struct{}),
		closed:     make(chan struct{}),
		gotInfo:    make(chan struct{}),
		infoFailed: make(chan struct{}),
	}
	t.ctx, t.cancel = context.WithCancel(s.ctx)
	return t
}

// setInfo gives a torrent shell its metainfo and storage: it checks the
// data already stored and sets up the owner's state. The caller closes
// gotInfo.
func (t *Torrent) setInfo(ctx context.Context, mi *metainfo.MetaInfo, st storage.Torrent) error {
	s := t.s
	info := mi.Info()
	n := info.NumPieces()
	pc := piecepicker.Config{NumPieces: n, PieceLength: int(info.PieceLength)}
	if n > 0 {
		pc.LastPieceLength = int(info.PieceSize(n - 1))
	}
	picker, err := piecepicker.New(pc)
	if err != nil {
		return fmt.Errorf("bittern: %w", err)
	}
	v2, err := newV2Verifier(mi)
	if err != nil {
		return err
	}
	have, err := recheck(ctx, mi, v2, st, s.cfg.IOWorkers)
	if err != nil {
		return err
	}
	for i, ok := range have {
		if ok {
			if err := picker.MarkHave(i); err != nil {
				return fmt.Errorf("bittern: %w", err)
			}
		}
	}
	t.mi, t.info, t.st = mi, info, st
	t.ih2, t.v2 = v2Hash(mi), v2
	if t.ih2 == t.ih && !t.ih.IsZero() {
		t.ih2 = mi.InfoHash() // a hybrid torrent started from its v2 link: v1 is its other hash
	}
	t.initOwner(picker)
	t.numHave.Store(int64(picker.NumHave()))
	for i, ok := range have {
		if ok {
			t.bytesHave.Add(info.PieceSize(i))
		}
	}
	if picker.Done() {
		t.markComplete()
	}
	return nil
}

// recheck finds the pieces already stored and intact. Pieces vouched for
// by a valid completion record are trusted; every other piece is hashed,
// with v if not nil (a v2-only torrent's), else with SHA-1.
func recheck(ctx context.Context, mi *metainfo.MetaInfo, v *storage.Verifier, st storage.Torrent, workers int) ([]bool, error) {
	info := mi.Info()
	var err error
	if v == nil {
		v, err = storage.NewVerifier(info, nil)
		if err != nil {
			return nil, fmt.Errorf("bittern: %w", err)
		}
	}
	var trusted []bool
	if cs, ok := st.(storage.CompletionStore); ok {
		r, err := cs.LoadCompletion(ctx)
		if err == nil && len(r.Verified) == info.NumPieces() {
			trusted = r.Verified
		}
	}
	opts := &storage.RecheckOptions{Workers: workers}
	if trusted != nil {
		opts.Only = make([]bool, len(trusted))
		for i, ok := range trusted {
			opts.Only[i] = !ok
		}
	}
	if opts.Only, err = skipZeroPieces(ctx, info, st, opts.Only); err != nil {
		return nil, fmt.Errorf("bittern: recheck: %w", err)
	}
	if !info.IsV1() {
		if opts.Only, err = skipZeroPiecesV2(ctx, mi, st, opts.Only); err != nil {
			return nil, fmt.Errorf("bittern: recheck: %w", err)
		}
	}
	have, err := v.Recheck(ctx, st, opts)
	if err != nil {
		return nil, fmt.Errorf("bittern: recheck: %w", err)
	}
	for i, ok := range trusted {
		if ok {
			have[i] = true
		}
	}
	return have, nil
}

// InfoHash returns the torrent's v1 info-hash; for a v2-only torrent, its
// truncated v2 info-hash (the one used on the wire, metainfo's SwarmHash).
func (t *Torrent) InfoHash() metainfo.Hash { return t.ih }

// MetaInfo returns the torrent's metainfo, or nil while a magnet's
// metadata is being fetched (see StartMagnet).
func (t *Torrent) MetaInfo() *metainfo.MetaInfo {
	if !t.hasInfo() {
		return nil
	}
	return t.mi
}

// Complete returns a channel closed once every piece of the selected files
// (all of them unless file priorities say otherwise) is verified. Selecting
// more files afterwards replaces it with an open channel: call Complete
// again.
func (t *Torrent) Complete() <-chan struct{} { return t.done.wait() }

// Wait blocks until every piece of the selected files is verified (nil),
// the torrent is closed first (ErrClosed), the metadata of a torrent added
// by StartMagnet proves unusable (the error WaitInfo returns), or ctx ends
// (its error).
func (t *Torrent) Wait(ctx context.Context) error {
	complete := t.Complete()
	select {
	case <-complete:
		return nil
	default:
	}
	select {
	case <-complete:
		return nil
	case <-t.closed:
		return ErrClosed
	case <-t.infoFailed:
		return t.infoErr
	case <-ctx.Done():
		return ctx.Err()
	}
}

// AddPeers gives the torrent addresses of peers to connect to. It does not
// block; the connections are made within Config.MaxPeers and
// Config.MaxHalfOpen, and retried with backoff (Config.RetryBackoff) when
// they fail or drop. A seeding torrent dials too, except addresses found to
// be seeds.
func (t *Torrent) AddPeers(addrs ...netip.AddrPort) {
	addrs = append([]netip.AddrPort(nil), addrs...)
	t.feedFetch(addrs)
	t.inbox.post(func() { t.addPeerAddrs(addrs) })
}

// Pause disconnects every peer and stops making or accepting connections.
// The torrent keeps its place in the session, its data and its progress;
// writes and hash checks already under way finish. It does not block.
func (t *Torrent) Pause() {
	t.inbox.post(func() {
		t.paused = true
		t.isPaused.Store(true)
		for c := range t.conns {
			t.dropConn(c, errPaused)
		}
		t.pauseWebSeeds()
	})
}

// Resume undoes Pause: known peers are dialled again at once. It does not
// block.
func (t *Torrent) Resume() {
	t.inbox.post(func() {
		t.paused = false
		t.isPaused.Store(false)
		for _, pa := range t.addrs {
			pa.nextTry = time.Time{}
		}
		t.connectPeers()
		t.resumeWebSeeds()
	})
}

func (t *Torrent) markComplete() {
	// t.complete (the tracker's "completed", a DHT seed) needs every
	// piece; the public completion only the selected ones.
	if t.picker.NumHave() == t.picker.NumPieces() {
		t.completeOnce.Do(func() { close(t.complete) })
	}
	t.done.markDone()
}

// handoff passes a connection that finished its handshake to the owner, or
// closes it if the torrent is shutting down.
func (t *Torrent) handoff(conn net.Conn, rd io.Reader, hs peerwire.Handshake, outgoing bool) {
	if !outgoing && t.handoffToFetch(conn, rd, hs) {
		return
	}
	select {
	case t.events <- peerEvent{kind: evNewConn, conn: conn, rd: rd, hs: hs, outgoing: outgoing}:
	case <-t.ctx.Done():
		conn.Close()
	}
}

// shutdown stops the torrent and waits for everything it started: the
// owner, the connections, dials and I/O jobs. Then it saves the completion
// record (if the storage keeps one) and closes the storage.
func (t *Torrent) shutdown() {
	t.shutOnce.Do(func() {
		t.bgMu.Lock()
		t.bgDone = true
		t.bgMu.Unlock()
		t.cancel()
		<-t.owner
		t.bg.Wait() // the "stopped" announce, bounded by Config.TrackerStopTimeout
		t.wg.Wait()
		t.jobs.Wait()
		// Blocks the owner never took give back their write slots.
		for drained := false; !drained; {
			select {
			case ev := <-t.events:
				if ev.kind == evMessage && ev.id == peerwire.IDPiece {
					peerwire.PutBlock(ev.data)
					ev.c.releaseToken()
				}
				if ev.conn != nil {
					ev.conn.Close()
				}
			default:
				drained = true
			}
		}
		t.releaseWebSeedSlots()
		if cs, ok := t.st.(storage.CompletionStore); ok {
			if err := cs.SaveCompletion(context.Background(), t.finalHave); err != nil && !errors.Is(err, storage.ErrClosed) {
				t.log.Warn("save completion", "err", err)
				t.emitStorageError("save completion", -1, err)
			}
		}
		if t.st == nil {
			// A magnet's torrent that never got its metadata.
		} else if err := t.st.Close(); err != nil {
			t.log.Warn("close storage", "err", err)
		}
		close(t.closed)
	})
}
