package bittern

import (
	"io"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/bittern/bittern/internal/bitset"
	"github.com/bittern/bittern/peerwire"
	"github.com/bittern/bittern/piecepicker"
)

// peerConn is one connection to a peer after the handshake. Its reader and
// writer goroutines do the blocking I/O; every other field below "owner
// state" belongs to the torrent's owner goroutine.
type peerConn struct {
	t         *Torrent
	conn      net.Conn
	fr        *peerwire.Framer
	addr      string
	id        [20]byte
	ih        [20]byte   // the info-hash of the handshake: a hybrid torrent has two
	ip        netip.Addr // invalid if the address is not IP
	outgoing  bool
	fast      bool // both sides support BEP 6
	ext       bool // both sides support BEP 10
	encrypted bool // MSE with an RC4 or plaintext payload
	utp       bool // over uTP (BEP 29), not TCP
	log       *slog.Logger

	// Writer queue, filled by the owner (never blocking), drained by the
	// writer goroutine.
	mu    sync.Mutex
	queue []outItem
	wake  chan struct{}

	done      chan struct{} // closed by close
	closeOnce sync.Once

	// tokens bounds the blocks read from the peer and not yet written to
	// storage: the reader takes one per piece message, the write job gives
	// it back. Holding the reader is how a slow disk slows the peer.
	tokens chan struct{}

	downloaded atomic.Int64 // payload bytes received
	uploaded   atomic.Int64 // payload bytes sent
	lastRecv   atomic.Int64 // unix nanoseconds of the last message
	sendBytes  atomic.Int64 // bytes of blocks queued for the writer
	pumpWanted atomic.Bool  // the owner waits for the writer to send a block
	leafJobs   atomic.Int32 // BEP 52 leaf hash requests being answered

	// Requested blocks to read, in request order, drained by one I/O job
	// at a time (see Torrent.readBlocks).
	rmu     sync.Mutex
	readQ   []blockKey
	reading bool

	// Owner state.
	pp             *piecepicker.Peer
	have           *bitset.Bitset
	amChoking      bool
	amInterested   bool
	peerChoking    bool
	peerInterested bool
	reqq           int    // the peer's BEP 10 reqq; 0 if unknown
	metaID         uint8  // the peer's ut_metadata ID; 0 if none
	metaServed     int    // ut_metadata pieces sent to it
	pexID          uint8  // the peer's ut_pex ID; 0 if none
	listenPort     uint16 // its extended handshake's "p"
	lastPEXSent    time.Time
	lastPEXRecv    time.Time
	pexSent        map[netip.AddrPort]bool // peers it was told of and not dropped
	uploads        map[blockKey]struct{}   // requests we were asked and will serve
	uploadQueue    []blockKey              // accepted requests not yet being read
	allowedFast    []uint32                // pieces we let it request while choked
	readsInFlight  int                     // blocks being read for this peer
	removed        bool
	optimistic     bool
	snubbed        bool      // it let requests time out; one at a time
	lastBlock      time.Time // last block received, or first request sent
	lastUnchoke    time.Time
	roundDown      int64 // downloaded at the start of the choke round
	roundUp        int64 // uploaded at the start of the choke round
	downRate       float64
	upRate         float64
	blocks         []piecepicker.Block   // scratch for Pick
	pipe           pipeline              // request pipeline sizing
	cancelled      map[blockKey]struct{} // cancels sent, not yet answered (unrequested.go)
	cancelOverflow bool                  // too many unanswered: the BEP 6 rule is off
	sentUploadOnly bool                  // our last extended handshake said upload_only
	peerUploadOnly bool                  // its last extended handshake said upload_only (BEP 21)
}

type blockKey struct{ index, begin, length uint32 }

// outItem is one queued outgoing item: encoded messages, or a piece block
// to write with the framer (the block goes back to the pool afterwards).
type outItem struct {
	msg          []byte
	closeConn    bool // close the connection once what precedes is sent
	piece        bool
	index, begin uint32
	block        []byte
}

// Kinds of peerEvent.
type evKind uint8

const (
	evMessage    evKind = iota // a message from the peer
	evClosed                   // the connection ended
	evNewConn                  // a connection finished its handshake
	evDialFailed               // an outgoing attempt failed
)

// peerEvent is what reader and connecting goroutines send the owner. The
// message fields are copied out of the framer's buffers.
type peerEvent struct {
	kind evKind
	c    *peerConn
	id   peerwire.ID
	// index, begin, length of have, request, cancel, reject, piece,
	// suggest, allowed-fast messages.
	index, begin, length uint32
	// data is a piece's block (holding one of c.tokens), a copied bitfield
	// or extended payload.
	data  []byte
	extID uint8
	err   error

	// evNewConn and evDialFailed.
	conn     net.Conn  // written to and closed
	rd       io.Reader // read from; nil means conn
	hs       peerwire.Handshake
	outgoing bool
	dialAddr string
}

func (c *peerConn) close(err error) {
	c.closeOnce.Do(func() {
		c.log.Debug("close", "err", err)
		close(c.done)
		c.conn.Close()
	})
}

// send queues encoded messages. It never blocks.
func (c *peerConn) send(msg []byte) {
	c.mu.Lock()
	c.queue = append(c.queue, outItem{msg: msg})
	c.mu.Unlock()
	c.signal()
}

// sendPiece queues a block to send. It never blocks.
func (c *peerConn) sendPiece(index, begin uint32, block []byte) {
	c.sendBytes.Add(int64(len(block)))
	c.mu.Lock()
	c.queue = append(c.queue, outItem{piece: true, index: index, begin: begin, block: block})
	c.mu.Unlock()
	c.signal()
}

// closeAfterFlush closes the connection once the messages queued so far
// are sent (within flushTimeout). It never blocks.
func (c *peerConn) closeAfterFlush() {
	c.conn.SetWriteDeadline(time.Now().Add(flushTimeout))
	c.mu.Lock()
	c.queue = append(c.queue, outItem{closeConn: true})
	c.mu.Unlock()
	c.signal()
}

// flushTimeout bounds the sending of the last messages of a connection
// closed gracefully.
const flushTimeout = 10 * time.Second

func (c *peerConn) signal() {
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

// readLoop is the connection's reader goroutine: it turns messages into
// events for the owner.
func (c *peerConn) readLoop() {
	defer c.t.wg.Done()
	err := c.readMessages()
	c.close(err)
	select {
	case c.t.events <- peerEvent{kind: evClosed, c: c, err: err}:
	case <-c.t.ctx.Done():
	}
}

func (c *peerConn) readMessages() error {
	for {
		m, err := c.fr.ReadMessage()
		if err != nil {
			return err
		}
		c.lastRecv.Store(time.Now().UnixNano())
		ev := peerEvent{kind: evMessage, c: c}
		switch m := m.(type) {
		case *peerwire.KeepAlive:
			continue
		case *peerwire.Choke:
			ev.id = peerwire.IDChoke
		case *peerwire.Unchoke:
			ev.id = peerwire.IDUnchoke
		case *peerwire.Interested:
			ev.id = peerwire.IDInterested
		case *peerwire.NotInterested:
			ev.id = peerwire.IDNotInterested
		case *peerwire.Have:
			ev.id, ev.index = peerwire.IDHave, m.Index
		case *peerwire.Bitfield:
			ev.id, ev.data = peerwire.IDBitfield, append([]byte(nil), m.Bits...)
		case *peerwire.Request:
			ev.id, ev.index, ev.begin, ev.length = peerwire.IDRequest, m.Index, m.Begin, m.Length
		case *peerwire.Cancel:
			ev.id, ev.index, ev.begin, ev.length = peerwire.IDCancel, m.Index, m.Begin, m.Length
		case *peerwire.Reject:
			ev.id, ev.index, ev.begin, ev.length = peerwire.IDReject, m.Index, m.Begin, m.Length
		case *peerwire.Suggest:
			ev.id, ev.index = peerwire.IDSuggest, m.Index
		case *peerwire.AllowedFast:
			ev.id, ev.index = peerwire.IDAllowedFast, m.Index
		case *peerwire.HaveAll:
			ev.id = peerwire.IDHaveAll
		case *peerwire.HaveNone:
			ev.id = peerwire.IDHaveNone
		case *peerwire.Extended:
			ev.id, ev.extID, ev.data = peerwire.IDExtended, m.ExtendedID, append([]byte(nil), m.Payload...)
		case *peerwire.Piece:
			ev.id, ev.index, ev.begin, ev.length, ev.data = peerwire.IDPiece, m.Index, m.Begin, uint32(len(m.Block)), m.Block
			n := int64(len(m.Block))
			c.downloaded.Add(n)
			c.t.downloaded.Add(n)
			if !c.acquireToken() {
				peerwire.PutBlock(m.Block)
				return nil
			}
		case *peerwire.HashRequest:
			c.answerHashRequest(*m) // from immutable metainfo: no owner state
			continue
		default:
			continue // port, other BEP 52 hash messages, unknown IDs: not used yet
		}
		select {
		case c.t.events <- ev:
		case <-c.done:
			if ev.id == peerwire.IDPiece {
				peerwire.PutBlock(ev.data)
				c.releaseToken()
			}
			return nil
		}
		if ev.id == peerwire.IDPiece && !c.throttleDown(int(ev.length)) {
			return nil
		}
	}
}

// acquireToken takes a slot of the connection's and of the session's
// queue of blocks waiting to be written, waiting while either is full.
// It reports false if the connection closed meanwhile.
func (c *peerConn) acquireToken() bool {
	select {
	case c.tokens <- struct{}{}:
	case <-c.done:
		return false
	}
	select {
	case c.t.s.writeSlots <- struct{}{}:
		return true
	case <-c.done:
		<-c.tokens
		return false
	}
}

// releaseToken gives back the slots a piece event held.
func (c *peerConn) releaseToken() {
	select {
	case <-c.tokens:
	default:
	}
	c.t.s.releaseWriteSlot()
}
