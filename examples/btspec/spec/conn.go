package spec

import (
	"context"
	"crypto/sha1"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"syscall"
	"time"

	"github.com/bittern/bittern/peerwire"
)

// ourMetadataID is the ut_metadata ID we ask the peer to use (BEP 10).
const ourMetadataID = 3

// Handshake profiles: what our side advertises.
var (
	fastExt = peerwire.Reserved{}.Set(peerwire.ReservedFast).Set(peerwire.ReservedExtension)
	extOnly = peerwire.Reserved{}.Set(peerwire.ReservedExtension)
)

type blockKey struct{ index, begin, length uint32 }

// conn is one connection to the peer after the handshake, with what the
// peer has told us on it so far.
type conn struct {
	t      *Target
	c      net.Conn
	f      *peerwire.Framer
	theirs peerwire.Handshake
	neg    peerwire.Reserved // negotiated bits
	stop   func() bool

	first     peerwire.Message // the first message other than keep-alive
	msgs      int
	have      []bool
	haveAll   bool
	availMsgs int // bitfield, have all and have none messages
	choked    bool
	unchokes  int
	allowed   map[uint32]bool
	ext       *peerwire.ExtendedHandshake
	extErr    error
	strayExt  []uint8 // extended IDs we never assigned
	pieces    map[blockKey][]byte
	dupPieces int
	rejects   map[blockKey]int
	metadata  []peerwire.MetadataMessage
	metaErr   error
	readErr   error
}

// dial connects, handshakes with ours and sets up the framer. Our first
// message is not sent.
func (t *Target) dial(ctx context.Context, ours peerwire.Reserved) (*conn, error) {
	for {
		cn, err := t.dialOnce(ctx, ours)
		if err == nil || !closed(err) {
			return cn, err
		}
		// Some peers (Transmission) refuse a new connection from an
		// address while they still tear down the previous one: retry
		// until the case's deadline.
		select {
		case <-ctx.Done():
			return nil, err
		case <-time.After(redialDelay):
		}
	}
}

// redialDelay is the pause before dialling again after the peer closed
// the connection during the handshake.
const redialDelay = 500 * time.Millisecond

func (t *Target) dialOnce(ctx context.Context, ours peerwire.Reserved) (*conn, error) {
	c, err := t.rawDial(ctx)
	if err != nil {
		return nil, err
	}
	ih := t.MetaInfo.SwarmHash()
	info := t.MetaInfo.Info()
	if !info.IsV1() {
		ours = ours.Set(peerwire.ReservedV2)
	}
	theirs, err := peerwire.Initiate(c, peerwire.Handshake{Reserved: ours, InfoHash: ih, PeerID: peerwire.NewPeerID("-BS0100-")}, [20]byte{})
	if err != nil {
		c.Close()
		return nil, fmt.Errorf("handshake: %w", err)
	}
	cn := &conn{t: t, c: c, theirs: theirs, neg: ours.Intersect(theirs.Reserved), choked: true,
		have: make([]bool, info.NumPieces()), allowed: map[uint32]bool{},
		pieces: map[blockKey][]byte{}, rejects: map[blockKey]int{}}
	cn.f = peerwire.NewFramer(c, c)
	cn.f.SetExtensions(cn.neg)
	cn.f.SetPieceCount(info.NumPieces())
	cn.f.SetPieceLength(info.PieceLength, info.TotalLength())
	cn.stop = context.AfterFunc(ctx, func() { c.SetDeadline(time.Now()) })
	if dl, ok := ctx.Deadline(); ok {
		c.SetDeadline(dl)
	}
	return cn, nil
}

func (t *Target) rawDial(ctx context.Context) (net.Conn, error) {
	dial := t.Dial
	if dial == nil {
		dial = (&net.Dialer{}).DialContext
	}
	c, err := dial(ctx, "tcp", t.Addr)
	if err != nil {
		return nil, fmt.Errorf("dial: %w", err)
	}
	if dl, ok := ctx.Deadline(); ok {
		c.SetDeadline(dl)
	}
	return c, nil
}

func (cn *conn) close() {
	cn.stop()
	cn.c.Close()
}

// fast reports whether the fast extension was negotiated.
func (cn *conn) fast() bool { return cn.neg.Has(peerwire.ReservedFast) }

// extended reports whether BEP 10 was negotiated.
func (cn *conn) extended() bool { return cn.neg.Has(peerwire.ReservedExtension) }

// open sends our first messages: have none if fast was negotiated, our
// extended handshake if BEP 10 was, and interested if asked.
func (cn *conn) open(interested bool) error {
	if cn.fast() {
		if err := cn.f.WriteHaveNone(); err != nil {
			return err
		}
	}
	if cn.extended() {
		eh := &peerwire.ExtendedHandshake{M: map[string]int{peerwire.ExtMetadata: ourMetadataID}, Version: "btspec", Reqq: 250}
		payload, err := eh.AppendTo(nil)
		if err != nil {
			return err
		}
		if err := cn.f.WriteExtended(0, payload); err != nil {
			return err
		}
	}
	if interested {
		return cn.f.WriteInterested()
	}
	return nil
}

// read reads one message and records it.
func (cn *conn) read() error {
	if cn.readErr != nil {
		return cn.readErr
	}
	m, err := cn.f.ReadMessage()
	if err != nil {
		cn.readErr = err
		return err
	}
	if _, ka := m.(*peerwire.KeepAlive); ka {
		return nil
	}
	cn.msgs++
	if bf, ok := m.(*peerwire.Bitfield); ok {
		m = &peerwire.Bitfield{Bits: append([]byte(nil), bf.Bits...)}
	}
	// BEP 10 sends the extended handshake "after the standard bittorrent
	// handshake", and libtorrent, Transmission and aria2 all send it
	// before the bitfield, so it does not count as the first message of
	// BEP 3 and BEP 6.
	if e, ok := m.(*peerwire.Extended); cn.first == nil && !(ok && e.ExtendedID == 0) {
		cn.first = m
	}
	switch m := m.(type) {
	case *peerwire.Bitfield:
		cn.availMsgs++
		for i := range cn.have {
			if m.Has(i) {
				cn.have[i] = true
			}
		}
	case *peerwire.HaveAll:
		cn.availMsgs++
		cn.haveAll = true
		for i := range cn.have {
			cn.have[i] = true
		}
	case *peerwire.HaveNone:
		cn.availMsgs++
	case *peerwire.Have:
		if int(m.Index) < len(cn.have) {
			cn.have[m.Index] = true
		}
	case *peerwire.Choke:
		cn.choked = true
	case *peerwire.Unchoke:
		cn.choked = false
		cn.unchokes++
	case *peerwire.AllowedFast:
		cn.allowed[m.Index] = true
	case *peerwire.Reject:
		cn.rejects[blockKey{m.Index, m.Begin, m.Length}]++
	case *peerwire.Piece:
		k := blockKey{m.Index, m.Begin, uint32(len(m.Block))}
		if _, dup := cn.pieces[k]; dup {
			cn.dupPieces++
		}
		cn.pieces[k] = append([]byte(nil), m.Block...)
		peerwire.PutBlock(m.Block)
	case *peerwire.Extended:
		switch m.ExtendedID {
		case 0:
			cn.ext, cn.extErr = peerwire.ParseExtendedHandshake(m.Payload)
		case ourMetadataID:
			md, err := peerwire.ParseMetadataMessage(m.Payload)
			if err != nil {
				cn.metaErr = err
				break
			}
			md.Data = append([]byte(nil), md.Data...)
			cn.metadata = append(cn.metadata, md)
		default:
			cn.strayExt = append(cn.strayExt, m.ExtendedID)
		}
	}
	return nil
}

// until reads messages until cond holds, the context's deadline passes or
// the connection fails.
func (cn *conn) until(cond func() bool) error {
	for !cond() {
		if err := cn.read(); err != nil {
			return err
		}
	}
	return nil
}

// errQuietOver is the read error after a quiet wait ended.
var errQuietOver = errors.New("btspec: read side ended by a quiet wait")

// wait reads messages for d (bounded by the context's deadline) and
// returns nil when d passed without a read error.
func (cn *conn) wait(d time.Duration) error {
	if cn.readErr != nil {
		return cn.readErr
	}
	cn.c.SetReadDeadline(time.Now().Add(d))
	defer cn.c.SetReadDeadline(time.Time{})
	for {
		err := cn.read()
		if err == nil {
			continue
		}
		if errors.Is(err, os.ErrDeadlineExceeded) {
			// The read may have stopped inside a message, so the read
			// side is done: a quiet wait is the last read of a case.
			cn.readErr = errQuietOver
			return nil
		}
		return err
	}
}

// closed reports whether err means the peer closed the connection.
func closed(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE) || errors.Is(err, net.ErrClosed)
}

// timedOut reports whether err is a deadline.
func timedOut(err error) bool { return errors.Is(err, os.ErrDeadlineExceeded) }

// expectClose reads until the peer closes the connection. It returns a
// pass when it does, and a failure naming what happened otherwise.
func (cn *conn) expectClose(what string) (Result, string) {
	err := cn.until(func() bool { return false })
	switch {
	case closed(err):
		return passf("closed the connection after %s", what)
	case timedOut(err):
		return failf("connection still open %v after %s", cn.t.timeout(), what)
	default:
		return failf("after %s: %v", what, err)
	}
}

// requestPiece requests every block of piece i.
func (cn *conn) requestPiece(i int) ([]blockKey, error) {
	size := cn.t.MetaInfo.Info().PieceSize(i)
	var keys []blockKey
	for begin := int64(0); begin < size; begin += peerwire.BlockSize {
		k := blockKey{uint32(i), uint32(begin), uint32(min(peerwire.BlockSize, size-begin))}
		if err := cn.f.WriteRequest(k.index, k.begin, k.length); err != nil {
			return nil, err
		}
		keys = append(keys, k)
	}
	return keys, nil
}

// pieceData joins the blocks of piece i received for keys.
func (cn *conn) pieceData(keys []blockKey) []byte {
	var b []byte
	for _, k := range keys {
		b = append(b, cn.pieces[k]...)
	}
	return b
}

// checkPiece verifies the bytes of piece i against the torrent's v1 hash.
// A v2-only torrent has no per-piece v1 hash; its data is only length
// checked.
func (t *Target) checkPiece(i int, data []byte) (verified bool, err error) {
	info := t.MetaInfo.Info()
	if int64(len(data)) != info.PieceSize(i) {
		return false, fmt.Errorf("piece %d has %d bytes, want %d", i, len(data), info.PieceSize(i))
	}
	h, ok := info.PieceHash(i)
	if !ok {
		return false, nil
	}
	if sha1.Sum(data) != [20]byte(h) {
		return false, fmt.Errorf("piece %d does not match its hash", i)
	}
	return true, nil
}

// rawMessage frames id and payload with a length prefix that counts them.
func rawMessage(id peerwire.ID, payload ...byte) []byte {
	n := 1 + len(payload)
	return append([]byte{byte(n >> 24), byte(n >> 16), byte(n >> 8), byte(n), byte(id)}, payload...)
}

func u32(vs ...uint32) []byte {
	var b []byte
	for _, v := range vs {
		b = append(b, byte(v>>24), byte(v>>16), byte(v>>8), byte(v))
	}
	return b
}
