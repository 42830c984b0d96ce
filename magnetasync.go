package bittern

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"

	"github.com/bittern/bittern/metainfo"
	"github.com/bittern/bittern/peerwire"
	"github.com/bittern/bittern/storage"
)

// ErrNoInfo is returned by Torrent methods that need the info dictionary
// (SetFilePriorities) while a magnet's metadata is being fetched.
var ErrNoInfo = errors.New("bittern: torrent has no info dictionary yet")

// StartMagnet adds a torrent from a magnet link (BEP 9) like AddMagnet,
// but returns at once: the info dictionary is fetched in the background
// (from the same peers, trackers and peer sources), and the torrent then
// starts as AddTorrent would start it. Until then GotInfo is open, Info
// and MetaInfo return nil, and Stats reports HasInfo false and no pieces;
// WaitInfo blocks until the metadata has arrived. The torrent is one of
// the session's from the start: a second add of the same info-hash fails
// with ErrDuplicateTorrent, and Remove and Close stop the fetch.
//
// Errors are those of a malformed or unsupported link, ErrDuplicateTorrent
// and ErrClosed; failures after the metadata arrived (the piece layers of
// a v2 link that no peer gave, a storage that cannot open) are reported by
// WaitInfo.
func (s *Session) StartMagnet(uri string, opts *TorrentOptions) (*Torrent, error) {
	m, err := metainfo.ParseMagnet(uri)
	if err != nil {
		return nil, fmt.Errorf("bittern: %w", err)
	}
	ih := m.SwarmHash() // the truncated v2 hash of a v2-only link
	var o TorrentOptions
	if opts != nil {
		o = *opts
	}
	peers, tiers := s.magnetSources(m, &o)

	t := s.newTorrentShell(ih)
	f := newMetaFetch(s, ih)
	if m.InfoHash.IsZero() {
		f.v2 = m.InfoHashV2
	}
	t.fetch.Store(f)
	s.mu.Lock()
	switch {
	case s.closed:
		err = ErrClosed
	case s.lookupLocked(ih) != nil || s.fetches[ih] != nil:
		err = ErrDuplicateTorrent
	default:
		s.torrents[ih] = t
		s.skeys.Add(ih)
	}
	s.mu.Unlock()
	if err != nil {
		t.cancel()
		return nil, err
	}
	t.SetRateLimits(o.DownloadRateLimit, o.UploadRateLimit)
	go t.runMagnet(m, f, o, peers, tiers)
	return t, nil
}

// runMagnet is the goroutine of a torrent added by StartMagnet: it fetches
// the metadata, completes the torrent and becomes its owner goroutine.
// Without metadata it closes t.owner itself, so shutdown waits for it
// either way.
func (t *Torrent) runMagnet(m *metainfo.Magnet, f *metaFetch, o TorrentOptions, peers []netip.AddrPort, tiers [][]string) {
	info, err := f.run(t.ctx, peers, tiers)
	t.fetch.Store(nil)
	if err == nil {
		err = t.startInfo(m, info, &o, append(peers, f.sources()...), tiers)
	}
	if err != nil {
		if t.ctx.Err() != nil {
			err = ErrClosed
		} else {
			t.log.Warn("magnet", "err", err)
		}
		t.infoErr = err
		close(t.infoFailed)
		close(t.owner)
		return
	}
	t.run()
}

// startInfo opens the storage for a fetched info dictionary, checks the
// data already there, and starts what AddTorrent starts besides the owner.
func (t *Torrent) startInfo(m *metainfo.Magnet, info []byte, o *TorrentOptions, peers []netip.AddrPort, tiers [][]string) error {
	mi, err := magnetMetaInfo(info, tiers)
	if err != nil {
		return err
	}
	s := t.s
	if err := checkMagnetInfo(m, mi); err != nil {
		return err
	}
	if err := s.fetchPieceLayers(t.ctx, mi, peers); err != nil {
		return err
	}
	stor := o.Storage
	if stor == nil {
		stor = s.cfg.Storage
	}
	if stor == nil {
		stor = &storage.Dir{Root: s.cfg.DataDir}
	}
	st, err := stor.Open(t.ctx, mi.Info(), mi.SwarmHash()) // as AddTorrent: a hybrid keeps its v1 hash, even from its btmh link
	if err != nil {
		return fmt.Errorf("bittern: open storage: %w", err)
	}
	t.stor = stor
	err = t.setInfo(t.ctx, mi, st)
	if err == nil {
		prios := o.FilePriorities
		if prios == nil {
			prios = magnetPriorities(m, mi.Info()) // BEP 53 "so="
		}
		err = t.initFiles(prios)
	}
	if err != nil {
		st.Close()
		t.st = nil // shutdown closes nothing more
		return err
	}
	s.addV2AliasOf(t) // a hybrid torrent is reached by its v2 hash too
	close(t.gotInfo)
	t.emit(func(b EventBase) Event { return MetadataReceived{b} })
	if len(peers) > 0 {
		t.AddPeers(peers...)
	}
	t.startWebSeeds(o.WebSeeds, m.WebSeeds)
	t.startAnnouncer(trackerTiers(mi.Trackers(), nil))
	t.startPeerSources()
	return nil
}

// GotInfo returns a channel closed once the torrent has its info
// dictionary: at once for AddTorrent and AddMagnet, when the metadata
// arrives for StartMagnet.
func (t *Torrent) GotInfo() <-chan struct{} { return t.gotInfo }

// hasInfo reports whether GotInfo is closed.
func (t *Torrent) hasInfo() bool {
	select {
	case <-t.gotInfo:
		return true
	default:
		return false
	}
}

// Info returns the torrent's info dictionary, or nil while a magnet's
// metadata is being fetched.
func (t *Torrent) Info() *metainfo.Info {
	if !t.hasInfo() {
		return nil
	}
	return t.info
}

// WaitInfo blocks until the torrent has its info dictionary (nil), the
// torrent is closed or its metadata proved unusable first (ErrClosed, or
// the error, such as ErrUnsupported for a v2-only dictionary), or ctx
// ends (its error).
func (t *Torrent) WaitInfo(ctx context.Context) error {
	if t.hasInfo() {
		return nil
	}
	select {
	case <-t.gotInfo:
		return nil
	case <-t.infoFailed:
		return t.infoErr
	case <-ctx.Done():
		return ctx.Err()
	}
}

// handoffToFetch passes a connection accepted for a torrent whose metadata
// is being fetched to the fetch. It reports false if there is no fetch
// (any more).
func (t *Torrent) handoffToFetch(conn net.Conn, rd io.Reader, hs peerwire.Handshake) bool {
	f := t.fetch.Load()
	if f == nil {
		return false
	}
	addr, _ := netip.ParseAddrPort(conn.RemoteAddr().String())
	select {
	case f.incoming <- incomingConn{conn: conn, rd: rd, hs: hs, addr: addr}:
		return true
	case <-f.stopped:
		return false
	}
}

// feedFetch gives peer addresses to the metadata fetch, if one runs,
// dropping what its queue has no room for.
func (t *Torrent) feedFetch(addrs []netip.AddrPort) {
	f := t.fetch.Load()
	if f == nil {
		return
	}
	for _, a := range addrs {
		select {
		case f.addrs <- a:
		case <-f.stopped:
			return
		default:
			return
		}
	}
}

// pendingStats is Stats while the metadata is fetched: traffic counters
// only.
func (t *Torrent) pendingStats() TorrentStats {
	return TorrentStats{
		Paused:           t.isPaused.Load(),
		TrackerAnnounces: t.trackerAnnounces.Load(),
		TrackerErrors:    t.trackerErrors.Load(),
		SourcePeers:      t.sourcePeers.Load(),
		ETA:              -1,
	}
}
