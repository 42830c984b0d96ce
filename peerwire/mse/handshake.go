package mse

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"time"
)

// plainPrefix is how every plain BitTorrent handshake starts.
const plainPrefix = "\x13BitTorrent protocol"

// Initiate runs the initiating side of the MSE handshake on conn for the
// torrent whose info-hash is skey, sending ia (at most 65535 bytes; usually
// our BitTorrent handshake) as the initial payload, and returns a Conn that
// encrypts as negotiated. With policy PlaintextOnly it returns conn wrapped
// unchanged and ia is not sent. Deadlines of ctx apply to the handshake
// only; on error the caller closes conn.
func Initiate(ctx context.Context, conn net.Conn, skey [20]byte, ia []byte, cfg *Config) (*Conn, error) {
	if cfg == nil {
		cfg = &Config{}
	}
	if cfg.Policy == PlaintextOnly {
		return newConn(conn, 0, [20]byte{}), nil
	}
	if len(ia) > 0xffff {
		return nil, fmt.Errorf("mse: initial payload of %d bytes exceeds 65535", len(ia))
	}
	var c *Conn
	err := withContext(ctx, conn, func() error {
		var err error
		c, err = initiate(conn, skey, ia, cfg)
		return err
	})
	return c, err
}

func initiate(conn net.Conn, skey [20]byte, ia []byte, cfg *Config) (*Conn, error) {
	// 1 A->B: Diffie-Hellman Ya, PadA
	kp, err := newKeyPair(cfg.rand())
	if err != nil {
		return nil, err
	}
	padA, err := cfg.padding()
	if err != nil {
		return nil, err
	}
	if _, err := conn.Write(append(kp.public[:], padA...)); err != nil {
		return nil, err
	}
	// 2 B->A: Diffie-Hellman Yb, PadB
	sr := &streamReader{r: conn}
	yb, err := sr.readFull(keyLength)
	if err != nil {
		return nil, err
	}
	s, ok := kp.secret(yb)
	if !ok {
		return nil, ErrBadPublicKey
	}
	// 3 A->B: HASH('req1', S), HASH('req2', SKEY) xor HASH('req3', S),
	// ENCRYPT(VC, crypto_provide, len(PadC), PadC, len(IA)), ENCRYPT(IA)
	enc := newRC4("keyA", s[:], skey)
	dec := newRC4("keyB", s[:], skey)
	padC, err := cfg.padding()
	if err != nil {
		return nil, err
	}
	req1 := hash([]byte("req1"), s[:])
	req23 := xor20(Req2(skey), hash([]byte("req3"), s[:]))
	msg := make([]byte, 0, 2*hashLength+vcLength+4+2+len(padC)+2+len(ia))
	msg = append(msg, req1[:]...)
	msg = append(msg, req23[:]...)
	plain := len(msg)
	msg = append(msg, make([]byte, vcLength)...)
	msg = binary.BigEndian.AppendUint32(msg, uint32(cfg.methods()))
	msg = binary.BigEndian.AppendUint16(msg, uint16(len(padC)))
	msg = append(msg, padC...)
	msg = binary.BigEndian.AppendUint16(msg, uint16(len(ia)))
	msg = append(msg, ia...)
	enc.XORKeyStream(msg[plain:], msg[plain:])
	if _, err := conn.Write(msg); err != nil {
		return nil, err
	}
	// 4 B->A: ENCRYPT(VC, crypto_select, len(padD), padD), ENCRYPT2(payload)
	var vc [vcLength]byte
	dec.XORKeyStream(vc[:], vc[:]) // the encrypted VC to look for
	if err := sr.sync(vc[:], syncWindowVC); err != nil {
		return nil, err
	}
	b, err := sr.readFull(4 + 2)
	if err != nil {
		return nil, err
	}
	dec.XORKeyStream(b, b)
	sel := CryptoMethod(binary.BigEndian.Uint32(b))
	if (sel != Plaintext && sel != RC4) || sel&cfg.methods() == 0 {
		return nil, fmt.Errorf("%w: offered %v, peer selected %v", ErrNoCommonMethod, cfg.methods(), sel)
	}
	padLen := int(binary.BigEndian.Uint16(b[4:]))
	if padLen > maxPadding {
		return nil, ErrBadPadding
	}
	padD, err := sr.readFull(padLen)
	if err != nil {
		return nil, err
	}
	dec.XORKeyStream(padD, padD)
	c := newConn(conn, sel, skey)
	if sel == RC4 {
		c.enc, c.dec = enc, dec
	}
	c.setPending(sr.rest(), false)
	return c, nil
}

// Accept runs the receiving side of the handshake on conn. With an MSE
// handshake it finds the torrent through keys, and the returned Conn's
// SKey reports it; its first reads return the initiator's initial payload
// (usually the peer's BitTorrent handshake), then the rest of the stream.
// A plain BitTorrent handshake is accepted unless the policy is Required:
// the Conn then reads it back unchanged and reports Method 0. Deadlines
// of ctx apply to the handshake only; on error the caller closes conn.
func Accept(ctx context.Context, conn net.Conn, keys SKeyFinder, cfg *Config) (*Conn, error) {
	if cfg == nil {
		cfg = &Config{}
	}
	var c *Conn
	err := withContext(ctx, conn, func() error {
		var err error
		c, err = accept(conn, keys, cfg)
		return err
	})
	return c, err
}

func accept(conn net.Conn, keys SKeyFinder, cfg *Config) (c *Conn, err error) {
	sr := &streamReader{r: conn}
	// A plain handshake starts with 20 known bytes; a public key does so
	// with probability 2^-160.
	head, err := sr.readFull(len(plainPrefix))
	if err != nil {
		return nil, err
	}
	if string(head) == plainPrefix {
		if cfg.Policy == Required {
			return nil, ErrPlaintextRefused
		}
		c := newConn(conn, 0, [20]byte{})
		c.setPending(head, true)
		return c, nil
	}
	if cfg.Policy == PlaintextOnly {
		return nil, ErrNotPlaintext
	}
	// 1 A->B: Diffie-Hellman Ya, PadA
	rest, err := sr.readFull(keyLength - len(plainPrefix))
	if err != nil {
		return nil, err
	}
	ya := append(head, rest...)
	kp, err := newKeyPair(cfg.rand())
	if err != nil {
		return nil, err
	}
	s, ok := kp.secret(ya)
	if !ok {
		return nil, ErrBadPublicKey
	}
	// 2 B->A: Diffie-Hellman Yb, PadB. Written concurrently with reading
	// PadA: on a synchronous transport (net.Pipe) the initiator's write of
	// PadA and ours of PadB would otherwise wait for each other.
	padB, err := cfg.padding()
	if err != nil {
		return nil, err
	}
	bg := startWrite(conn, append(kp.public[:], padB...))
	defer func() {
		if werr := bg.wait(err != nil); err == nil && werr != nil {
			c, err = nil, werr
		}
	}()
	// 3 A->B: HASH('req1', S), HASH('req2', SKEY) xor HASH('req3', S),
	// ENCRYPT(VC, crypto_provide, len(PadC), PadC, len(IA)), ENCRYPT(IA)
	req1 := hash([]byte("req1"), s[:])
	if err := sr.sync(req1[:], syncWindowReq); err != nil {
		return nil, err
	}
	b, err := sr.readFull(hashLength)
	if err != nil {
		return nil, err
	}
	var skey [20]byte
	if keys != nil {
		skey, ok = keys.FindSKey(xor20([20]byte(b), hash([]byte("req3"), s[:])))
	} else {
		ok = false
	}
	if !ok {
		return nil, ErrUnknownSKey
	}
	dec := newRC4("keyA", s[:], skey)
	enc := newRC4("keyB", s[:], skey)
	b, err = sr.readFull(vcLength + 4 + 2)
	if err != nil {
		return nil, err
	}
	dec.XORKeyStream(b, b)
	if !bytes.Equal(b[:vcLength], make([]byte, vcLength)) {
		return nil, ErrBadVC
	}
	provided := CryptoMethod(binary.BigEndian.Uint32(b[vcLength:]))
	padLen := int(binary.BigEndian.Uint16(b[vcLength+4:]))
	if padLen > maxPadding {
		return nil, ErrBadPadding
	}
	b, err = sr.readFull(padLen + 2)
	if err != nil {
		return nil, err
	}
	dec.XORKeyStream(b, b)
	ia, err := sr.readFull(int(binary.BigEndian.Uint16(b[padLen:])))
	if err != nil {
		return nil, err
	}
	dec.XORKeyStream(ia, ia)
	common := provided & cfg.methods()
	var sel CryptoMethod
	switch {
	case common == Plaintext|RC4 && cfg.PreferPlaintext, common == Plaintext:
		sel = Plaintext
	case common&RC4 != 0:
		sel = RC4
	default:
		return nil, fmt.Errorf("%w: peer offered %v, we accept %v", ErrNoCommonMethod, provided, cfg.methods())
	}
	// 4 B->A: ENCRYPT(VC, crypto_select, len(padD), padD)
	padD, err := cfg.padding()
	if err != nil {
		return nil, err
	}
	msg := make([]byte, 0, vcLength+4+2+len(padD))
	msg = append(msg, make([]byte, vcLength)...)
	msg = binary.BigEndian.AppendUint32(msg, uint32(sel))
	msg = binary.BigEndian.AppendUint16(msg, uint16(len(padD)))
	msg = append(msg, padD...)
	enc.XORKeyStream(msg, msg)
	if err := bg.wait(false); err != nil {
		return nil, err
	}
	if _, err := conn.Write(msg); err != nil {
		return nil, err
	}
	c = newConn(conn, sel, skey)
	if sel == RC4 {
		c.enc, c.dec = enc, dec
	}
	c.setPending(ia, true)
	c.setPending(sr.rest(), false)
	return c, nil
}

// withContext runs fn with conn's deadline set from ctx, and unblocks it
// when ctx is cancelled. If ctx ends while fn runs, the result is ctx.Err()
// and conn's deadline is left in the past; otherwise the deadline is
// cleared afterwards.
func withContext(ctx context.Context, conn net.Conn, fn func() error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	_, hasDeadline := ctx.Deadline()
	if d, ok := ctx.Deadline(); ok {
		if err := conn.SetDeadline(d); err != nil {
			return err
		}
	}
	stop := context.AfterFunc(ctx, func() { conn.SetDeadline(time.Unix(1, 0)) })
	err := fn()
	if !stop() || (err != nil && ctx.Err() != nil) {
		return ctx.Err()
	}
	if d, ok := ctx.Deadline(); ok && err != nil && !time.Now().Before(d) {
		// The connection's deadline (ctx's) fired before ctx noticed.
		return context.DeadlineExceeded
	}
	if hasDeadline {
		conn.SetDeadline(time.Time{})
	}
	return err
}

// bgWrite is a write running in its own goroutine during the handshake.
type bgWrite struct {
	conn net.Conn
	done chan error
	err  error
	ok   bool // waited for
}

func startWrite(conn net.Conn, b []byte) *bgWrite {
	w := &bgWrite{conn: conn, done: make(chan error, 1)}
	go func() {
		_, err := conn.Write(b)
		w.done <- err
	}()
	return w
}

// wait waits for the write to finish, first unblocking it by expiring the
// connection's deadline if abort is set (the handshake failed and the
// connection will be closed). It may be called more than once.
func (w *bgWrite) wait(abort bool) error {
	if w.ok {
		return w.err
	}
	if abort {
		w.conn.SetDeadline(time.Unix(1, 0))
	}
	w.err, w.ok = <-w.done, true
	return w.err
}

// streamReader reads the handshake, keeping bytes read past what has been
// consumed so far.
type streamReader struct {
	r   io.Reader
	buf []byte
}

// readFull returns the next n bytes.
func (s *streamReader) readFull(n int) ([]byte, error) {
	if len(s.buf) < n {
		have := len(s.buf)
		s.buf = append(s.buf, make([]byte, n-have)...)
		if _, err := io.ReadFull(s.r, s.buf[have:]); err != nil {
			s.buf = s.buf[:have]
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return nil, err
		}
	}
	b := s.buf[:n:n]
	s.buf = s.buf[n:]
	return b, nil
}

// sync consumes the stream up to and including pattern, which must end
// within window bytes. It never reads past the window.
func (s *streamReader) sync(pattern []byte, window int) error {
	for {
		if i := bytes.Index(s.buf, pattern); i >= 0 {
			s.buf = s.buf[i+len(pattern):]
			return nil
		}
		if len(s.buf) >= window {
			return ErrNoSync
		}
		have := len(s.buf)
		s.buf = append(s.buf, make([]byte, window-have)...)
		n, err := s.r.Read(s.buf[have:])
		s.buf = s.buf[:have+n]
		if err != nil && (n == 0 || err != io.EOF) {
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return err
		}
	}
}

// rest returns the bytes read beyond the handshake.
func (s *streamReader) rest() []byte {
	b := s.buf
	s.buf = nil
	return b
}
