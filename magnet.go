package bittern

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"sync"
	"time"

	"github.com/bittern/bittern/bencode"
	"github.com/bittern/bittern/metainfo"
	"github.com/bittern/bittern/peerwire"
	"github.com/bittern/bittern/tracker"
)

// DefaultMaxMetadataSize is the default cap on the size of an info
// dictionary fetched from peers (Config.MaxMetadataSize).
const DefaultMaxMetadataSize = 8 << 20

// Errors of the metadata exchange, seen in Debug logs.
var (
	errNoMetadataExt   = errors.New("bittern: peer does not offer ut_metadata")
	errMetadataSize    = errors.New("bittern: metadata size out of bounds")
	errMetadataReject  = errors.New("bittern: peer rejected a metadata request")
	errMetadataBadHash = errors.New("bittern: metadata does not match the info-hash")
)

// AddMagnet adds a torrent from a magnet link (BEP 9). It fetches the info
// dictionary from peers — those of opts.Peers and the link's "x.pe"
// hints, and those the link's "tr" trackers, opts.Trackers and the DHT
// (and other peer sources) return —
// checks it against the link's info-hash, and then adds the torrent as
// AddTorrent does, with the link's trackers. A BEP 53 "so=" selection
// downloads only the files it names (unless opts.FilePriorities is set). It blocks until the metadata
// has arrived and been checked, ctx ends, or the session closes.
// StartMagnet is the form that returns at once.
//
// Metadata larger than Config.MaxMetadataSize is refused. A link with
// only a v2 info-hash ("btmh", BEP 52) is fetched under its truncated
// hash and checked with SHA-256; the piece layers the info dictionary
// lacks are then asked of the peers that gave it (BEP 52 hash requests).
func (s *Session) AddMagnet(ctx context.Context, uri string, opts *TorrentOptions) (*Torrent, error) {
	m, err := metainfo.ParseMagnet(uri)
	if err != nil {
		return nil, fmt.Errorf("bittern: %w", err)
	}
	ih := m.SwarmHash()
	var o TorrentOptions
	if opts != nil {
		o = *opts
	}
	peers, tiers := s.magnetSources(m, &o)

	s.mu.Lock()
	closed, dup := s.closed, s.lookupLocked(ih) != nil
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
	fctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stop := context.AfterFunc(s.ctx, cancel)
	defer stop()
	f := newMetaFetch(s, ih)
	if m.InfoHash.IsZero() {
		f.v2 = m.InfoHashV2
	}
	// Peers may also connect to us for it while we fetch.
	s.mu.Lock()
	if s.fetches[ih] == nil {
		s.fetches[ih] = f
		s.skeys.Add(ih)
	}
	s.mu.Unlock()
	info, err := f.run(fctx, peers, tiers)
	s.mu.Lock()
	if s.fetches[ih] == f {
		delete(s.fetches, ih)
		if s.lookupLocked(ih) == nil {
			s.skeys.Remove(ih)
		}
	}
	s.mu.Unlock()
	if err != nil {
		if s.ctx.Err() != nil {
			return nil, ErrClosed
		}
		return nil, err
	}
	mi, err := magnetMetaInfo(info, tiers)
	if err != nil {
		return nil, err
	}
	o.Peers = append(peers, f.sources()...)
	o.Trackers = nil // they are in mi
	o.WebSeeds = append(o.WebSeeds, m.WebSeeds...)
	if err := checkMagnetInfo(m, mi); err != nil {
		return nil, err
	}
	if err := s.fetchPieceLayers(fctx, mi, o.Peers); err != nil {
		if s.ctx.Err() != nil {
			return nil, ErrClosed
		}
		return nil, err
	}
	if o.FilePriorities == nil {
		o.FilePriorities = magnetPriorities(m, mi.Info()) // BEP 53 "so="
	}
	t, err := s.AddTorrent(ctx, mi, &o)
	if err == nil {
		t.emit(func(b EventBase) Event { return MetadataReceived{b} })
	}
	return t, err
}

// magnetMetaInfo builds the metainfo of a fetched info dictionary.
func magnetMetaInfo(info []byte, tiers [][]string) (*metainfo.MetaInfo, error) {
	d := map[string]any{"info": bencode.RawMessage(info)}
	if len(tiers) > 0 {
		d["announce"] = tiers[0][0]
		d["announce-list"] = tiers
	}
	b, err := bencode.Marshal(d)
	if err != nil {
		return nil, fmt.Errorf("bittern: %w", err)
	}
	mi, err := metainfo.Parse(b)
	if err != nil {
		return nil, fmt.Errorf("bittern: metadata from peers: %w", err)
	}
	return mi, nil
}

// metaFetch fetches one torrent's info dictionary from peers. Each peer
// connection runs on its own goroutine; the shared progress below is
// guarded by mu.
type metaFetch struct {
	s  *Session
	ih metainfo.Hash
	v2 metainfo.HashV2 // for a v2-only link: the info must hash to it (SHA-256)

	addrs    chan netip.AddrPort // found by trackers, to dial
	incoming chan incomingConn   // connections accepted for this fetch
	stopped  chan struct{}       // closed when run stops taking connections
	wg       sync.WaitGroup      // connections and the announcer

	mu      sync.Mutex
	size    int      // agreed metadata size; 0 until a peer says
	pieces  [][]byte // received pieces; nil where missing
	from    []netip.AddrPort
	got     int
	asked   []int // piece -> outstanding requests
	bad     map[netip.AddrPort]bool
	dialled map[netip.AddrPort]bool // sources we dialled (their listening address)
	good    []netip.AddrPort
	result  []byte
	done    chan struct{}
	doneSet bool
}

func newMetaFetch(s *Session, ih metainfo.Hash) *metaFetch {
	return &metaFetch{
		s:        s,
		ih:       ih,
		addrs:    make(chan netip.AddrPort, 256),
		incoming: make(chan incomingConn),
		stopped:  make(chan struct{}),
		bad:      make(map[netip.AddrPort]bool),
		dialled:  make(map[netip.AddrPort]bool),
		done:     make(chan struct{}),
	}
}

// incomingConn is a connection accepted for a fetch, after the
// handshake.
type incomingConn struct {
	conn net.Conn
	rd   io.Reader
	hs   peerwire.Handshake
	addr netip.AddrPort
}

// handoff passes an accepted connection to the fetch, or closes it if the
// fetch has ended.
func (f *metaFetch) handoff(conn net.Conn, rd io.Reader, hs peerwire.Handshake) {
	addr, _ := netip.ParseAddrPort(conn.RemoteAddr().String())
	select {
	case f.incoming <- incomingConn{conn: conn, rd: rd, hs: hs, addr: addr}:
	case <-f.stopped:
		conn.Close()
	}
}

// sources returns the addresses of the peers that sent verified pieces.
func (f *metaFetch) sources() []netip.AddrPort {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]netip.AddrPort(nil), f.good...)
}

// run dials peers (at most Config.MaxHalfOpen at a time; each address
// again after Config.RetryBackoff when it fails) until the metadata is
// complete and verified or ctx ends, and returns it. Every goroutine it
// starts has ended when it returns.
func (f *metaFetch) run(ctx context.Context, peers []netip.AddrPort, tiers [][]string) ([]byte, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer f.wg.Wait()
	defer cancel()
	defer close(f.stopped)
	if !f.s.cfg.NoTrackers && len(tiers) > 0 {
		f.wg.Add(1)
		go f.announce(ctx, tiers)
	}
	for _, src := range f.s.sources {
		f.wg.Add(1)
		go f.findPeers(ctx, src)
	}
	type retry struct {
		addr netip.AddrPort
		at   time.Time
	}
	var (
		queue   = append([]netip.AddrPort(nil), peers...)
		known   = make(map[netip.AddrPort]bool)
		retries []retry
		active  int
		ended   = make(chan netip.AddrPort)
	)
	for _, a := range peers {
		known[a] = true
	}
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		for active < f.s.cfg.MaxHalfOpen && len(queue) > 0 {
			a := queue[0]
			queue = queue[1:]
			if !a.IsValid() || a.Port() == 0 || f.isBad(a) {
				continue
			}
			active++
			f.wg.Add(1)
			go func() {
				defer f.wg.Done()
				err := f.fetchFrom(ctx, a)
				f.s.cfg.Logger.Debug("metadata: peer", "torrent", f.ih, "peer", a, "err", err)
				select {
				case ended <- a:
				case <-ctx.Done():
				}
			}()
		}
		next := time.Hour
		now := time.Now()
		for _, r := range retries {
			next = min(next, r.at.Sub(now))
		}
		timer.Reset(max(next, 0))
		select {
		case <-f.done:
			f.mu.Lock()
			defer f.mu.Unlock()
			return f.result, nil
		case <-ctx.Done():
			return nil, ctx.Err()
		case ic := <-f.incoming:
			if active >= 2*f.s.cfg.MaxHalfOpen {
				ic.conn.Close()
				continue
			}
			active++
			f.wg.Add(1)
			go func() {
				defer f.wg.Done()
				stop := context.AfterFunc(ctx, func() { ic.conn.Close() })
				defer stop()
				defer ic.conn.Close()
				err := f.fetchOn(ctx, ic.conn, ic.rd, ic.hs, ic.addr, false)
				f.s.cfg.Logger.Debug("metadata: incoming peer", "torrent", f.ih, "peer", ic.addr, "err", err)
				select {
				case ended <- netip.AddrPort{}:
				case <-ctx.Done():
				}
			}()
		case a := <-f.addrs:
			if !known[a] {
				known[a] = true
				queue = append(queue, a)
			}
		case a := <-ended:
			active--
			if a.IsValid() { // not an incoming connection
				retries = append(retries, retry{a, time.Now().Add(f.s.cfg.RetryBackoff)})
			}
		case <-timer.C:
			now := time.Now()
			kept := retries[:0]
			for _, r := range retries {
				if now.Before(r.at) {
					kept = append(kept, r)
				} else {
					queue = append(queue, r.addr)
				}
			}
			retries = kept
		}
	}
}

// announce asks the trackers for peers while the metadata is fetched:
// at once, then at the interval they ask for. Until the size is known the
// torrent is announced as having one byte left.
func (f *metaFetch) announce(ctx context.Context, tiers [][]string) {
	defer f.wg.Done()
	mc := f.s.cfg.Tracker
	if mc.Config.Logger == nil {
		mc.Config.Logger = f.s.cfg.Logger
	}
	m := tracker.NewMulti(tiers, &mc)
	defer m.Close()
	fails := 0
	for {
		resp, err := m.Announce(ctx, tracker.AnnounceRequest{
			InfoHash: f.ih, PeerID: f.s.peerID, Port: uint16(f.s.listenPort()), Left: 1, Key: f.s.announceKey,
		})
		if ctx.Err() != nil {
			return
		}
		wait := DefaultAnnounceInterval
		if err != nil {
			fails++
			wait = min(announceRetryMin<<min(fails-1, 10), announceRetryMax)
		} else {
			fails = 0
			if resp.Interval > 0 {
				wait = resp.Interval
			}
			wait = max(wait, resp.MinInterval, MinAnnounceInterval)
			for _, p := range resp.Peers {
				select {
				case f.addrs <- p:
				case <-ctx.Done():
					return
				}
			}
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
	}
}

// findPeers asks a peer source (the DHT) for peers while the metadata is
// fetched, every Config.PeerSourceInterval (once a minute while it
// fails).
func (f *metaFetch) findPeers(ctx context.Context, src PeerSource) {
	defer f.wg.Done()
	found := func(a netip.AddrPort) {
		select {
		case f.addrs <- a:
		case <-ctx.Done():
		}
	}
	for {
		err := src.FindPeers(ctx, f.ih, found)
		if ctx.Err() != nil {
			return
		}
		wait := f.s.cfg.PeerSourceInterval
		if err != nil {
			wait = min(wait, peerSourceRetry)
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
	}
}

func (f *metaFetch) isBad(a netip.AddrPort) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.bad[a]
}

// setSize agrees on the metadata size a peer announced, if it is within
// bounds and matches what earlier peers said.
func (f *metaFetch) setSize(n int) error {
	if n <= 0 || n > f.s.cfg.MaxMetadataSize || n > peerwire.MaxMetadataSize {
		return fmt.Errorf("%w: %d bytes (cap %d)", errMetadataSize, n, f.s.cfg.MaxMetadataSize)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.size == 0 {
		f.size = n
		np := peerwire.NumMetadataPieces(n)
		f.pieces = make([][]byte, np)
		f.from = make([]netip.AddrPort, np)
		f.asked = make([]int, np)
	}
	if f.size != n {
		return fmt.Errorf("%w: %d bytes, others said %d", errMetadataSize, n, f.size)
	}
	return nil
}

// claim picks a missing piece for a connection to request, one nobody has
// asked for if there is one; mine are the pieces this connection has
// outstanding. It returns -1 if no piece is left to ask this peer for.
func (f *metaFetch) claim(mine map[int]bool) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	best := -1
	for i, p := range f.pieces {
		if p != nil || mine[i] {
			continue
		}
		if best < 0 || f.asked[i] < f.asked[best] {
			best = i
		}
	}
	if best >= 0 {
		f.asked[best]++
	}
	return best
}

// unclaim forgets a connection's outstanding requests.
func (f *metaFetch) unclaim(mine map[int]bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for i := range mine {
		if i < len(f.asked) && f.asked[i] > 0 {
			f.asked[i]--
		}
	}
}

// deliver stores a piece from peer a. When the last piece arrives the
// whole is checked against the info-hash: on success the fetch is done;
// on failure every piece is discarded and the peers that sent them are
// not asked again.
func (f *metaFetch) deliver(a netip.AddrPort, dialled bool, m peerwire.MetadataMessage) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if m.TotalSize != f.size {
		return fmt.Errorf("%w: data says %d bytes, agreed %d", errMetadataSize, m.TotalSize, f.size)
	}
	if f.doneSet || f.pieces[m.Piece] != nil {
		return nil
	}
	f.pieces[m.Piece] = append([]byte(nil), m.Data...)
	f.from[m.Piece] = a
	if dialled {
		f.dialled[a] = true
	}
	f.got++
	if f.got < len(f.pieces) {
		return nil
	}
	if !f.infoMatches() {
		for i := range f.pieces {
			f.bad[f.from[i]] = true
			f.pieces[i] = nil
		}
		f.got = 0
		return errMetadataBadHash
	}
	info := make([]byte, 0, f.size)
	seen := make(map[netip.AddrPort]bool)
	for i, p := range f.pieces {
		info = append(info, p...)
		if !seen[f.from[i]] && f.dialled[f.from[i]] {
			seen[f.from[i]] = true
			f.good = append(f.good, f.from[i])
		}
	}
	f.result = info
	f.doneSet = true
	close(f.done)
	return nil
}

// magnetSources returns the peers (opts.Peers and the link's "x.pe"
// hints) and tracker tiers (one per "tr" of the link, then opts.Trackers)
// to fetch a magnet link's metadata from.
func (s *Session) magnetSources(m *metainfo.Magnet, opts *TorrentOptions) ([]netip.AddrPort, [][]string) {
	peers := append([]netip.AddrPort(nil), opts.Peers...)
	for _, p := range m.Peers {
		if ap, err := netip.ParseAddrPort(p); err == nil {
			peers = append(peers, ap)
		} else {
			s.cfg.Logger.Debug("magnet: x.pe peer is not an IP address and port", "peer", p)
		}
	}
	var tiers [][]string
	for _, tr := range m.Trackers {
		tiers = append(tiers, []string{tr})
	}
	return peers, append(tiers, opts.Trackers...)
}
