package peerwire

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"sync/atomic"
)

// Limits of the framer.
const (
	// DefaultMaxMessageLength is the largest length prefix a Framer accepts
	// unless SetMaxMessageLength changes it: 1 MiB, room for the bitfield
	// of a torrent with 8 million pieces. Longer messages fail with
	// ErrMessageTooLarge before any of their payload is read, so a peer
	// cannot make the framer buffer more than this.
	DefaultMaxMessageLength = 1 << 20
	// BlockSize is the block size every client requests (16 KiB).
	BlockSize = 16 << 10
	// MaxRequestLength is the largest request, cancel, reject or piece
	// block accepted from a peer: 128 KiB (every client requests 16 KiB). Larger
	// ones are ErrBadRequestLength.
	MaxRequestLength = 128 << 10
	// MaxHashesPerRequest is the largest Length accepted in a BEP 52 hash
	// request, hashes or hash reject message. The BEP says SHOULD NOT
	// exceed 512; we allow up to 8192 from peers and refuse more.
	MaxHashesPerRequest = 8192
	// MaxKeepAlives is how many keep-alives in a row, with no other
	// message between them, ReadMessage accepts before failing with
	// ErrTooManyKeepAlives. Peers send one every two minutes at most, so a
	// legitimate idle connection needs more than a day to reach it; a
	// stream of nothing but keep-alives is hostile.
	MaxKeepAlives = 1000
)

// readBufferSize is the Framer's read buffer. It batches reads: one read
// syscall brings in about two 16 KiB blocks, which are then copied into
// their block buffers. Measured over loopback TCP (BenchmarkPieceTCP vs
// BenchmarkRawTCP, cpu-ns/op), a 4 KiB buffer cost two syscalls per block
// and about 40% more CPU than a raw copy; 32 KiB brings the framer to par.
// Reads larger than the buffer when it is empty bypass it.
const readBufferSize = 32 << 10

// Framer reads and writes peer wire messages on a connection after the
// handshake. It starts no goroutines. ReadMessage may be called from one
// goroutine while the Write methods are called from another (the usual one
// reader, one writer per connection); each side on its own is not safe for
// concurrent use.
//
// Every Write method issues exactly one Write call on the underlying
// writer; WritePiece uses writev (net.Buffers) on TCP and Unix sockets, and
// one copy into an internal buffer otherwise.
type Framer struct {
	// AllocBlock, if not nil, returns the buffer (of length n) that the
	// block of a piece message for index and begin is read into, so that
	// blocks land in the caller's memory without an intermediate buffer
	// of their own. If nil, blocks of up to
	// BlockSize bytes come from a pool (return them with PutBlock) and
	// larger ones are allocated. It is called from ReadMessage only after
	// the message's header has been validated.
	AllocBlock func(index, begin uint32, n int) []byte

	// read side
	r         *bufio.Reader
	maxLen    uint32
	keepAlive int          // consecutive keep-alives read
	numPieces atomic.Int64 // 0: unknown
	pieceLen  atomic.Int64 // 0: unknown
	totalLen  atomic.Int64
	exts      atomic.Uint64 // negotiated Reserved bits, once extsSet
	extsSet   atomic.Bool
	hdr       [hashRequestPayload]byte
	rbuf      []byte
	msg       messageCache

	// write side
	w      io.Writer
	writev bool
	wbuf   []byte
	bufs   net.Buffers
	bufArr [2][]byte
}

// messageCache holds the messages ReadMessage returns, so that reading
// allocates nothing.
type messageCache struct {
	keepAlive     KeepAlive
	choke         Choke
	unchoke       Unchoke
	interested    Interested
	notInterested NotInterested
	have          Have
	bitfield      Bitfield
	request       Request
	piece         Piece
	cancel        Cancel
	port          Port
	suggest       Suggest
	haveAll       HaveAll
	haveNone      HaveNone
	reject        Reject
	allowedFast   AllowedFast
	extended      Extended
	hashRequest   HashRequest
	hashes        Hashes
	hashReject    HashReject
	unknown       Unknown
}

// NewFramer returns a Framer that writes to w and reads from r. The framer
// buffers up to 32 KiB read from r: once handed to a Framer, r must be read only
// through it.
func NewFramer(w io.Writer, r io.Reader) *Framer {
	f := &Framer{
		r:      bufio.NewReaderSize(r, readBufferSize),
		maxLen: DefaultMaxMessageLength,
		w:      w,
		wbuf:   make([]byte, 0, 64),
	}
	switch w.(type) {
	case *net.TCPConn, *net.UnixConn:
		f.writev = true
	}
	return f
}

// SetMaxMessageLength sets the largest length prefix ReadMessage accepts
// (at least MaxRequestLength+9, so that a maximal piece fits). Call it
// before reading.
func (f *Framer) SetMaxMessageLength(n uint32) {
	f.maxLen = max(n, MaxRequestLength+9)
}

// SetPieceCount tells the framer how many pieces the torrent has, once
// known (at once for a .torrent, after the metadata exchange for a
// magnet). From then on bitfields must have exactly the right length with
// zero spare bits, and every piece index must be below n. Zero means
// unknown. It is safe to call while another goroutine reads.
func (f *Framer) SetPieceCount(n int) { f.numPieces.Store(int64(n)) }

// SetPieceLength tells the framer the torrent's piece length and total
// length, so that requests and blocks reaching past the end of their piece
// are refused. Zero means unknown. It is safe to call while another
// goroutine reads.
func (f *Framer) SetPieceLength(pieceLength, totalLength int64) {
	f.totalLen.Store(totalLength)
	f.pieceLen.Store(pieceLength)
}

// SetExtensions tells the framer which extensions the handshake
// negotiated: pass ours.Reserved.Intersect(theirs.Reserved). From then on
// BEP 6 messages (suggest, have all, have none, reject, allowed fast)
// without ReservedFast, and extended messages without ReservedExtension,
// fail with ErrNotNegotiated, as libtorrent disconnects such peers. Until
// it is called, every message is accepted. It is safe to call while
// another goroutine reads.
func (f *Framer) SetExtensions(negotiated Reserved) {
	f.exts.Store(binary.BigEndian.Uint64(negotiated[:]))
	f.extsSet.Store(true)
}

// negotiated reports whether bit was negotiated (true if unknown).
func (f *Framer) negotiated(bit ReservedBit) bool {
	if !f.extsSet.Load() {
		return true
	}
	var r Reserved
	binary.BigEndian.PutUint64(r[:], f.exts.Load())
	return r.Has(bit)
}

// ReadMessage reads the next message. The returned message and any slice
// inside it (Bitfield.Bits, Extended.Payload, Hashes.Hashes,
// Unknown.Payload) are valid only until the next call, except Piece.Block,
// which belongs to the caller (see AllocBlock). Messages that break the
// protocol yield a *ProtocolError; a stream that ends inside a message
// yields io.ErrUnexpectedEOF, and one that ends between messages io.EOF.
func (f *Framer) ReadMessage() (Message, error) {
	if _, err := io.ReadFull(f.r, f.hdr[:4]); err != nil {
		return nil, err
	}
	length := binary.BigEndian.Uint32(f.hdr[:4])
	if length == 0 {
		if f.keepAlive++; f.keepAlive > MaxKeepAlives {
			return nil, &ProtocolError{Err: fmt.Errorf("%w: %d in a row", ErrTooManyKeepAlives, f.keepAlive)}
		}
		return &f.msg.keepAlive, nil
	}
	f.keepAlive = 0
	idb, err := f.r.ReadByte()
	if err != nil {
		return nil, unexpected(err)
	}
	id := ID(idb)
	if length > f.maxLen {
		return nil, &ProtocolError{ID: id, Length: length, Err: fmt.Errorf("%w: %d bytes, limit %d", ErrMessageTooLarge, length, f.maxLen)}
	}
	n := int(length - 1)
	switch id {
	case IDSuggest, IDHaveAll, IDHaveNone, IDReject, IDAllowedFast:
		if !f.negotiated(ReservedFast) {
			return nil, &ProtocolError{ID: id, Length: length, Err: fmt.Errorf("%w: fast extension", ErrNotNegotiated)}
		}
	case IDExtended:
		if !f.negotiated(ReservedExtension) {
			return nil, &ProtocolError{ID: id, Length: length, Err: fmt.Errorf("%w: extension protocol", ErrNotNegotiated)}
		}
	}
	if id == IDPiece {
		return f.readPiece(length, n)
	}
	if int(id) < len(specs) && specs[id].parse != nil {
		s := &specs[id]
		if n < s.min || (s.fixed && n != s.min) {
			return nil, &ProtocolError{ID: id, Length: length, Err: ErrBadLength}
		}
		if id == IDBitfield {
			if np := f.numPieces.Load(); np > 0 && int64(n) != int64(BitfieldLength(int(np))) {
				return nil, &ProtocolError{ID: id, Length: length,
					Err: fmt.Errorf("%w: %d bytes for %d pieces", ErrBadBitfield, n, np)}
			}
		}
		p, err := f.readPayload(n)
		if err != nil {
			return nil, err
		}
		m, err := s.parse(f, p)
		if err != nil {
			return nil, &ProtocolError{ID: id, Length: length, Err: err}
		}
		return m, nil
	}
	p, err := f.readPayload(n)
	if err != nil {
		return nil, err
	}
	f.msg.unknown = Unknown{MessageID: id, Payload: p}
	return &f.msg.unknown, nil
}

func unexpected(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}

// readPayload reads n bytes into the framer's reusable buffer.
func (f *Framer) readPayload(n int) ([]byte, error) {
	if cap(f.rbuf) < n {
		f.rbuf = make([]byte, n, max(n, 2*cap(f.rbuf)))
	}
	p := f.rbuf[:n]
	if _, err := io.ReadFull(f.r, p); err != nil {
		return nil, unexpected(err)
	}
	return p, nil
}

func (f *Framer) readPiece(length uint32, n int) (Message, error) {
	if n < 8 {
		return nil, &ProtocolError{ID: IDPiece, Length: length, Err: ErrBadLength}
	}
	if _, err := io.ReadFull(f.r, f.hdr[:8]); err != nil {
		return nil, unexpected(err)
	}
	index := binary.BigEndian.Uint32(f.hdr[0:4])
	begin := binary.BigEndian.Uint32(f.hdr[4:8])
	blockLen := n - 8
	if err := f.checkBlock(index, begin, uint32(blockLen)); err != nil {
		return nil, &ProtocolError{ID: IDPiece, Length: length, Err: err}
	}
	var block []byte
	if f.AllocBlock != nil {
		block = f.AllocBlock(index, begin, blockLen)
		if len(block) != blockLen {
			return nil, fmt.Errorf("peerwire: AllocBlock returned %d bytes, want %d", len(block), blockLen)
		}
	} else {
		block = getBlock(blockLen)
	}
	if _, err := io.ReadFull(f.r, block); err != nil {
		return nil, unexpected(err)
	}
	f.msg.piece = Piece{Index: index, Begin: begin, Block: block}
	return &f.msg.piece, nil
}

func (f *Framer) checkIndex(index uint32) error {
	if np := f.numPieces.Load(); np > 0 && int64(index) >= np {
		return fmt.Errorf("%w: piece %d of %d", ErrIndexOutOfRange, index, np)
	}
	return nil
}

// checkBlock validates the block reference of a request, cancel, reject or
// piece.
func (f *Framer) checkBlock(index, begin, length uint32) error {
	if err := f.checkIndex(index); err != nil {
		return err
	}
	if length == 0 || length > MaxRequestLength {
		return fmt.Errorf("%w: %d bytes", ErrBadRequestLength, length)
	}
	pl, total := f.pieceLen.Load(), f.totalLen.Load()
	if pl <= 0 {
		return nil
	}
	size := pl
	if total > 0 {
		size = min(pl, total-int64(index)*pl)
	}
	if int64(begin)+int64(length) > size {
		return fmt.Errorf("%w: block %d+%d beyond piece %d of %d bytes", ErrIndexOutOfRange, begin, length, index, size)
	}
	return nil
}

// msgSpec describes how to parse one message ID: its payload length (exact
// if fixed, else a minimum) and the parser.
type msgSpec struct {
	min   int
	fixed bool
	parse func(f *Framer, p []byte) (Message, error)
}

// specs is the parse table, indexed by message ID. IDPiece is handled
// separately (its block bypasses the payload buffer).
var specs = [...]msgSpec{
	IDChoke:         {0, true, func(f *Framer, _ []byte) (Message, error) { return &f.msg.choke, nil }},
	IDUnchoke:       {0, true, func(f *Framer, _ []byte) (Message, error) { return &f.msg.unchoke, nil }},
	IDInterested:    {0, true, func(f *Framer, _ []byte) (Message, error) { return &f.msg.interested, nil }},
	IDNotInterested: {0, true, func(f *Framer, _ []byte) (Message, error) { return &f.msg.notInterested, nil }},
	IDHave:          {4, true, parseHave},
	IDBitfield:      {0, false, parseBitfield},
	IDRequest:       {12, true, parseRequest},
	IDCancel:        {12, true, parseCancel},
	IDPort:          {2, true, parsePort},
	IDSuggest:       {4, true, parseSuggest},
	IDHaveAll:       {0, true, func(f *Framer, _ []byte) (Message, error) { return &f.msg.haveAll, nil }},
	IDHaveNone:      {0, true, func(f *Framer, _ []byte) (Message, error) { return &f.msg.haveNone, nil }},
	IDReject:        {12, true, parseReject},
	IDAllowedFast:   {4, true, parseAllowedFast},
	IDExtended:      {1, false, parseExtended},
	IDHashRequest:   {hashRequestPayload, true, parseHashRequest},
	IDHashes:        {hashRequestPayload + 32, false, parseHashes},
	IDHashReject:    {hashRequestPayload, true, parseHashReject},
}

func parseHave(f *Framer, p []byte) (Message, error) {
	f.msg.have = Have{Index: binary.BigEndian.Uint32(p)}
	return &f.msg.have, f.checkIndex(f.msg.have.Index)
}

func parseSuggest(f *Framer, p []byte) (Message, error) {
	f.msg.suggest = Suggest{Index: binary.BigEndian.Uint32(p)}
	return &f.msg.suggest, f.checkIndex(f.msg.suggest.Index)
}

func parseAllowedFast(f *Framer, p []byte) (Message, error) {
	f.msg.allowedFast = AllowedFast{Index: binary.BigEndian.Uint32(p)}
	return &f.msg.allowedFast, f.checkIndex(f.msg.allowedFast.Index)
}

func parseBitfield(f *Framer, p []byte) (Message, error) {
	if np := f.numPieces.Load(); np > 0 {
		if spare := int(np % 8); spare != 0 && p[len(p)-1]&(0xff>>spare) != 0 {
			return nil, fmt.Errorf("%w: spare bits set", ErrBadBitfield)
		}
	}
	f.msg.bitfield = Bitfield{Bits: p}
	return &f.msg.bitfield, nil
}

func blockRef(p []byte) (index, begin, length uint32) {
	return binary.BigEndian.Uint32(p), binary.BigEndian.Uint32(p[4:]), binary.BigEndian.Uint32(p[8:])
}

func parseRequest(f *Framer, p []byte) (Message, error) {
	i, b, l := blockRef(p)
	f.msg.request = Request{i, b, l}
	return &f.msg.request, f.checkBlock(i, b, l)
}

func parseCancel(f *Framer, p []byte) (Message, error) {
	i, b, l := blockRef(p)
	f.msg.cancel = Cancel{i, b, l}
	return &f.msg.cancel, f.checkBlock(i, b, l)
}

func parseReject(f *Framer, p []byte) (Message, error) {
	i, b, l := blockRef(p)
	f.msg.reject = Reject{i, b, l}
	return &f.msg.reject, f.checkBlock(i, b, l)
}

func parsePort(f *Framer, p []byte) (Message, error) {
	f.msg.port = Port{Port: binary.BigEndian.Uint16(p)}
	return &f.msg.port, nil
}

func parseExtended(f *Framer, p []byte) (Message, error) {
	f.msg.extended = Extended{ExtendedID: p[0], Payload: p[1:]}
	return &f.msg.extended, nil
}

func decodeHashRequest(p []byte) (HashRequest, error) {
	var m HashRequest
	copy(m.PiecesRoot[:], p)
	m.BaseLayer = binary.BigEndian.Uint32(p[32:])
	m.Index = binary.BigEndian.Uint32(p[36:])
	m.Length = binary.BigEndian.Uint32(p[40:])
	m.ProofLayers = binary.BigEndian.Uint32(p[44:])
	return m, m.Validate()
}

// Validate checks the rules BEP 52 sets for a hash request: Length at
// least 1 (2 unless truncated by the end of the layer) and at most
// MaxHashesPerRequest, a power of two unless truncated, Index a multiple of
// Length, and layer counts that fit a merkle tree of at most 2^64 leaves.
// Whether a length was truncated depends on the file, so Validate accepts
// any Length from 1 up with Index a multiple of the next power of two.
func (m HashRequest) Validate() error {
	if m.Length == 0 || m.Length > MaxHashesPerRequest {
		return fmt.Errorf("%w: length %d", ErrBadHashRequest, m.Length)
	}
	pow := uint32(1)
	for pow < m.Length {
		pow <<= 1
	}
	if m.Index%pow != 0 {
		return fmt.Errorf("%w: index %d is not a multiple of length %d", ErrBadHashRequest, m.Index, pow)
	}
	if m.BaseLayer > 63 || m.ProofLayers > 64 {
		return fmt.Errorf("%w: base layer %d, proof layers %d", ErrBadHashRequest, m.BaseLayer, m.ProofLayers)
	}
	return nil
}

func parseHashRequest(f *Framer, p []byte) (Message, error) {
	m, err := decodeHashRequest(p)
	f.msg.hashRequest = m
	return &f.msg.hashRequest, err
}

func parseHashReject(f *Framer, p []byte) (Message, error) {
	m, err := decodeHashRequest(p)
	f.msg.hashReject = HashReject(m)
	return &f.msg.hashReject, err
}

func parseHashes(f *Framer, p []byte) (Message, error) {
	m, err := decodeHashRequest(p)
	if err != nil {
		return nil, err
	}
	hashes := p[hashRequestPayload:]
	if len(hashes)%32 != 0 {
		return nil, fmt.Errorf("%w: %d hash bytes is not a multiple of 32", ErrBadLength, len(hashes))
	}
	if len(hashes)/32 < int(m.Length) {
		return nil, fmt.Errorf("%w: %d hashes for length %d", ErrBadHashRequest, len(hashes)/32, m.Length)
	}
	f.msg.hashes = Hashes{HashRequest: m, Hashes: hashes}
	return &f.msg.hashes, nil
}
