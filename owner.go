package bittern

import (
	"context"
	"math"
	"net/netip"
	"time"

	"github.com/bittern/bittern/internal/bitset"
	"github.com/bittern/bittern/metainfo"
	"github.com/bittern/bittern/peerwire"
	"github.com/bittern/bittern/peerwire/mse"
	"github.com/bittern/bittern/piecepicker"
)

// ownerState is the part of a Torrent only its owner goroutine touches.
type ownerState struct {
	picker    *piecepicker.Picker
	conns     map[*peerConn]struct{}
	byID      map[[20]byte]*peerConn
	byPicker  map[*piecepicker.Peer]*peerConn
	addrs     map[netip.AddrPort]*peerAddr
	halfOpen  int
	dialCands []*peerAddr       // scratch for connectPeers
	rankedAs  [2]netip.AddrPort // our IPv4 and IPv6 addresses when ranks were computed

	pendingWrites map[int]int        // piece -> block writes in flight
	writeFailed   map[int]bool       // piece -> a write failed
	hashWanted    map[int]bool       // complete pieces waiting for their writes
	hashers       map[int]*pieceHash // partial pieces' running SHA-1

	finalHave []bool // set when the owner returns, for the completion record

	paused bool

	streams map[*Reader]streamWindow // readers' windows, for deadlines

	contrib   map[int][]contributor // piece -> peers that sent kept blocks
	trust     map[[20]byte]int      // trust points by peer ID
	bannedIPs map[netip.Addr]bool
	bannedIDs map[[20]byte]bool

	chokeRound int
	lastChoke  time.Time
	lastTick   time.Time
	prevDown   int64
	prevUp     int64
}

// peerAddr is a known address of a peer to dial.
type peerAddr struct {
	addr    netip.AddrPort
	busy    bool // dialling or connected
	self    bool // it was ourselves: never dial again
	seed    bool // it had every piece or said upload_only: not dialled while we seed
	v2      bool // found in a hybrid torrent's v2 swarm: dialled with its v2 hash
	fails   int
	nextTry time.Time
	rank    uint32 // BEP 40 priority: the highest are dialled first
}

func (t *Torrent) initOwner(p *piecepicker.Picker) {
	t.picker = p
	t.conns = make(map[*peerConn]struct{})
	t.byID = make(map[[20]byte]*peerConn)
	t.byPicker = make(map[*piecepicker.Peer]*peerConn)
	t.addrs = make(map[netip.AddrPort]*peerAddr)
	t.pendingWrites = make(map[int]int)
	t.writeFailed = make(map[int]bool)
	t.hashWanted = make(map[int]bool)
	t.hashers = make(map[int]*pieceHash)
	t.contrib = make(map[int][]contributor)
	t.trust = make(map[[20]byte]int)
	t.bannedIPs = make(map[netip.Addr]bool)
	t.bannedIDs = make(map[[20]byte]bool)
}

// run is the torrent's owner goroutine.
func (t *Torrent) run() {
	defer close(t.owner)
	defer t.closeAll()
	now := time.Now()
	t.lastChoke, t.lastTick = now, now
	tick := time.NewTicker(tickInterval)
	defer tick.Stop()
	tickC := tick.C // nil while idle (see tickNeeded)
	var fns []func()
	for {
		select {
		case <-t.ctx.Done():
			return
		case ev := <-t.events:
			t.handleEvent(ev)
		case <-t.inbox.notify:
			fns = t.inbox.take(fns)
			for i, f := range fns {
				f()
				fns[i] = nil
			}
		case now := <-tickC:
			t.onTick(now)
			if !t.tickNeeded() {
				tick.Stop()
				tickC = nil
			}
			continue
		}
		if tickC == nil {
			tick.Reset(tickInterval)
			tickC = tick.C
		}
	}
}

// closeAll closes every connection as the owner returns.
func (t *Torrent) closeAll() {
	for c := range t.conns {
		c.removed = true
		c.close(errTorrentClosing)
	}
	t.s.numConns.Add(-int64(len(t.conns)))
	clear(t.conns)
	t.numPeers.Store(0)
	t.numEncrypted.Store(0)
	t.numUTP.Store(0)
	t.stopWebSeeds()
	t.finalHave = make([]bool, t.picker.NumPieces())
	for i := range t.finalHave {
		t.finalHave[i] = t.picker.HasPiece(i)
	}
}

func (t *Torrent) onTick(now time.Time) {
	if dt := now.Sub(t.lastTick).Seconds(); dt > 0 {
		down, up := t.downloaded.Load(), t.uploaded.Load()
		t.downRate.Store(math.Float64bits(float64(down-t.prevDown) / dt))
		t.upRate.Store(math.Float64bits(float64(up-t.prevUp) / dt))
		t.prevDown, t.prevUp = down, up
	}
	t.lastTick = now
	idle := t.s.cfg.IdleTimeout
	for c := range t.conns {
		if now.Sub(time.Unix(0, c.lastRecv.Load())) > idle {
			t.dropConn(c, errIdle)
		}
	}
	for c := range t.conns {
		t.samplePipeline(c, now)
	}
	t.checkRequestTimeouts(now)
	t.sendPEX(now)
	if now.Sub(t.lastChoke) >= t.s.cfg.ChokeInterval {
		t.chokeRound++
		t.runChoker(now)
		t.lastChoke = now
	}
	t.connectPeers()
}

func (t *Torrent) handleEvent(ev peerEvent) {
	switch ev.kind {
	case evNewConn:
		t.acceptConn(ev)
	case evDialFailed:
		t.halfOpen--
		t.dialDone(ev.dialAddr, true)
		t.log.Debug("dial", "peer", ev.dialAddr, "err", ev.err)
	case evClosed:
		t.dropConn(ev.c, ev.err)
	case evMessage:
		if ev.c.removed {
			if ev.id == peerwire.IDPiece {
				peerwire.PutBlock(ev.data)
				ev.c.releaseToken()
			}
			return
		}
		t.handleMessage(ev.c, ev)
	}
}

// MaxPeerAddrs bounds the peer addresses a torrent remembers (from
// AddPeers, trackers, the DHT and PEX); more are ignored.
const MaxPeerAddrs = 5000

// addPeerAddrs records addresses to dial and dials what the limits allow.
func (t *Torrent) addPeerAddrs(addrs []netip.AddrPort) {
	for _, a := range addrs {
		if !a.IsValid() || a.Port() == 0 {
			continue
		}
		if _, ok := t.addrs[a]; !ok {
			if len(t.addrs) >= MaxPeerAddrs {
				break
			}
			t.addrs[a] = &peerAddr{addr: a, rank: t.rankOf(a)}
		}
	}
	t.connectPeers()
}

// connectPeers dials known addresses while the connection limits allow.
// A seed dials too (leechers behind a NAT can only be reached that way),
// but not addresses that were seeds themselves.
func (t *Torrent) connectPeers() {
	if t.paused {
		return
	}
	seeding := !t.wantsData()
	cfg := &t.s.cfg
	now := time.Now()
	free := min(cfg.MaxHalfOpen-t.halfOpen, cfg.MaxPeers-len(t.conns)-t.halfOpen,
		cfg.MaxConnections-int(t.s.numConns.Load())-t.halfOpen)
	if free <= 0 {
		return
	}
	cands := t.dialCands[:0]
	for _, pa := range t.addrs {
		if pa.busy || pa.self || (seeding && pa.seed) || now.Before(pa.nextTry) || t.bannedIPs[pa.addr.Addr()] {
			continue
		}
		cands = append(cands, pa)
	}
	if len(cands) > free {
		t.refreshRanks()
	}
	for _, pa := range bestCandidates(cands, free) {
		pa.busy = true
		t.halfOpen++
		t.wg.Add(1)
		go t.dial(pa.addr, t.dialHash(pa))
	}
	clear(cands)
	t.dialCands = cands[:0]
}

// dialDone updates the address book after an outgoing connection ended
// (failed, or closed after it was up).
func (t *Torrent) dialDone(addr string, failed bool) {
	a, err := netip.ParseAddrPort(addr)
	if err != nil {
		return
	}
	pa := t.addrs[a]
	if pa == nil {
		return
	}
	pa.busy = false
	if failed {
		pa.fails++
	} else {
		pa.fails = 0
	}
	backoff := t.s.cfg.RetryBackoff << min(pa.fails, 6)
	pa.nextTry = time.Now().Add(backoff)
}

// dial connects to a peer and performs the handshake; it runs on its own
// goroutine and reports to the owner through events.
func (t *Torrent) dial(addr netip.AddrPort, ih metainfo.Hash) {
	defer t.wg.Done()
	cfg := &t.s.cfg
	ctx, cancel := context.WithTimeout(t.ctx, cfg.HandshakeTimeout)
	defer cancel()
	ev := peerEvent{kind: evDialFailed, dialAddr: addr.String()}
	upgrade := t.ih2
	if ih == t.ih2 {
		upgrade = metainfo.Hash{}
	}
	conn, rd, hs, err := t.s.dialHandshakeV2(ctx, t.reserved(), ih, upgrade, addr.String())
	if err == nil {
		ev = peerEvent{kind: evNewConn, conn: conn, rd: rd, hs: hs, outgoing: true, dialAddr: addr.String()}
	}
	ev.err = err
	select {
	case t.events <- ev:
	case <-t.ctx.Done():
		if ev.conn != nil {
			ev.conn.Close()
		}
	}
}

// acceptConn takes a connection that finished its handshake: it applies
// the self, duplicate and limit checks, then starts its goroutines.
func (t *Torrent) acceptConn(ev peerEvent) {
	if ev.outgoing {
		t.halfOpen--
	}
	reject := func(err error) {
		t.log.Debug("refuse peer", "peer", ev.conn.RemoteAddr(), "err", err)
		ev.conn.Close()
		if ev.outgoing {
			t.dialDone(ev.dialAddr, true)
		}
	}
	if t.paused {
		reject(errPaused)
		return
	}
	ip := remoteIP(ev)
	if t.isBanned(ev.hs.PeerID, ip) {
		reject(errBanned)
		return
	}
	if ev.hs.PeerID == t.s.peerID {
		if a, err := netip.ParseAddrPort(ev.dialAddr); err == nil && t.addrs[a] != nil {
			t.addrs[a].self = true
		}
		reject(errSelfConnection)
		return
	}
	if old := t.byID[ev.hs.PeerID]; old != nil {
		// Both ends must keep the same one of two crossing connections:
		// the one initiated by the lower peer ID.
		initiator := func(outgoing bool) [20]byte {
			if outgoing {
				return t.s.peerID
			}
			return ev.hs.PeerID
		}
		oi, ni := initiator(old.outgoing), initiator(ev.outgoing)
		if old.outgoing == ev.outgoing || string(oi[:]) <= string(ni[:]) {
			reject(errDuplicatePeer)
			return
		}
		t.dropConn(old, errDuplicatePeer)
	}
	cfg := &t.s.cfg
	if len(t.conns) >= cfg.MaxPeers || !t.s.reserveConn() {
		reject(errTooManyPeers)
		return
	}
	c := &peerConn{
		t:           t,
		conn:        ev.conn,
		addr:        ev.conn.RemoteAddr().String(),
		id:          ev.hs.PeerID,
		ih:          ev.hs.InfoHash,
		ip:          ip,
		outgoing:    ev.outgoing,
		fast:        ev.hs.Reserved.Has(peerwire.ReservedFast),
		ext:         ev.hs.Reserved.Has(peerwire.ReservedExtension),
		wake:        make(chan struct{}, 1),
		done:        make(chan struct{}),
		tokens:      make(chan struct{}, cfg.RequestQueueDepth),
		have:        bitset.New(t.picker.NumPieces()),
		amChoking:   true,
		peerChoking: true,
		uploads:     make(map[blockKey]struct{}),
	}
	if ev.outgoing {
		c.addr = ev.dialAddr
	}
	if mc, ok := ev.conn.(*mse.Conn); ok && mc.Method() != 0 {
		c.encrypted = true
		t.numEncrypted.Add(1)
	}
	if isUTP(ev.conn) {
		c.utp = true
		t.numUTP.Add(1)
	}
	c.log = t.log.With("peer", c.addr)
	rd := ev.rd
	if rd == nil {
		rd = ev.conn
	}
	c.fr = peerwire.NewFramer(ev.conn, rd)
	c.fr.SetPieceCount(t.picker.NumPieces())
	c.fr.SetPieceLength(t.info.PieceLength, t.wireLength())
	c.lastRecv.Store(time.Now().UnixNano())
	c.pipe.init(time.Now())
	c.pp = t.picker.AddPeer()
	t.conns[c] = struct{}{}
	t.byID[c.id] = c
	t.byPicker[c.pp] = c
	t.numPeers.Store(int64(len(t.conns)))
	c.log.Debug("connected", "client", peerwire.ClientName(c.id), "outgoing", c.outgoing, "fast", c.fast, "ext", c.ext, "infohash", metainfo.Hash(c.ih))

	var msg []byte
	if c.ext {
		msg = t.appendExtHandshake(msg, c)
	}
	n, have := t.picker.NumPieces(), t.picker.NumHave()
	switch {
	case c.fast && have == n:
		msg = peerwire.HaveAll{}.AppendTo(msg)
	case c.fast && have == 0:
		msg = peerwire.HaveNone{}.AppendTo(msg)
	case have > 0:
		msg = peerwire.Bitfield{Bits: t.picker.AppendHave(nil)}.AppendTo(msg)
	}
	msg = t.appendAllowedFast(msg, c)
	if len(msg) > 0 {
		c.send(msg)
	}
	t.wg.Add(2)
	go c.readLoop()
	go c.writeLoop(cfg.KeepAliveInterval)
}

// remoteIP is the IP address of a new connection's peer.
func remoteIP(ev peerEvent) netip.Addr {
	s := ev.dialAddr
	if !ev.outgoing {
		s = ev.conn.RemoteAddr().String()
	}
	ap, err := netip.ParseAddrPort(s)
	if err != nil {
		return netip.Addr{}
	}
	return ap.Addr().Unmap()
}

// extHandshake is the BEP 10 extended handshake we send and read.
type extHandshake struct {
	M    map[string]int `bencode:"m"`
	V    string         `bencode:"v,omitempty"`
	Reqq int            `bencode:"reqq,omitempty"`
	P    int            `bencode:"p,omitempty"` // our listening port
	// MetadataSize is the size of the info dictionary (BEP 9).
	MetadataSize int `bencode:"metadata_size,omitempty"`
	// UploadOnly is 1 when the sender wants nothing more (BEP 21).
	UploadOnly int `bencode:"upload_only"`
}

// Extended message IDs we ask peers to send extension messages with (our
// handshake's "m").
const (
	extIDMetadata = 2 // ut_metadata, BEP 9
	extIDPEX      = 1 // ut_pex, BEP 11
)

// dropConn forgets a connection and closes it.
func (t *Torrent) dropConn(c *peerConn, err error) {
	if c.removed {
		return
	}
	c.close(err)
	t.forget(c)
}

// dropConnGraceful forgets a connection and closes it once the messages
// already queued (the last haves) are sent.
func (t *Torrent) dropConnGraceful(c *peerConn) {
	if c.removed {
		return
	}
	c.closeAfterFlush()
	t.forget(c)
}

// forget removes a closed or closing connection from the torrent's state.
func (t *Torrent) forget(c *peerConn) {
	c.removed = true
	if c.outgoing && (c.have.All() || c.peerUploadOnly) {
		if a, err := netip.ParseAddrPort(c.addr); err == nil && t.addrs[a] != nil {
			t.addrs[a].seed = true
		}
	}
	t.picker.RemovePeer(c.pp)
	delete(t.conns, c)
	t.s.numConns.Add(-1)
	if c.encrypted {
		t.numEncrypted.Add(-1)
	}
	if c.utp {
		t.numUTP.Add(-1)
	}
	if t.byID[c.id] == c {
		delete(t.byID, c.id)
	}
	delete(t.byPicker, c.pp)
	clear(c.uploads)
	c.uploadQueue = nil
	t.numPeers.Store(int64(len(t.conns)))
	if c.outgoing {
		t.dialDone(c.addr, false)
	}
	if !c.amChoking {
		t.fillSlots()
	}
	// Its outstanding requests went back to the pool.
	t.requestAll()
}
