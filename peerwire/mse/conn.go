package mse

import (
	"crypto/rc4"
	"net"
	"sync"
)

// writeChunk bounds the scratch buffer a Conn encrypts writes into.
const writeChunk = 32 << 10

// Conn is a connection after the MSE handshake: reads and writes pass
// through the negotiated method. It is safe for concurrent use like any
// net.Conn (one Read and one Write may run at once).
type Conn struct {
	net.Conn
	method CryptoMethod
	skey   [20]byte
	mse    bool

	rmu     sync.Mutex
	dec     *rc4.Cipher // nil: plaintext
	pending []byte      // decrypted bytes to return before reading conn

	wmu  sync.Mutex
	enc  *rc4.Cipher // nil: plaintext
	wbuf []byte
}

func newConn(c net.Conn, method CryptoMethod, skey [20]byte) *Conn {
	return &Conn{Conn: c, method: method, skey: skey, mse: method != 0}
}

// setPending queues bytes already read from the stream: plain ones (the
// decrypted IA) as they are, raw ones through the read cipher.
func (c *Conn) setPending(b []byte, plain bool) {
	if len(b) == 0 {
		return
	}
	if !plain && c.dec != nil {
		c.dec.XORKeyStream(b, b)
	}
	c.pending = append(c.pending, b...)
}

// Method returns the negotiated payload method: RC4 or Plaintext after an
// MSE handshake, 0 for a plain BitTorrent connection.
func (c *Conn) Method() CryptoMethod { return c.method }

// SKey returns the stream key (info-hash) the MSE handshake was for; ok is
// false for a plain BitTorrent connection, whose info-hash is in its
// BitTorrent handshake.
func (c *Conn) SKey() (skey [20]byte, ok bool) { return c.skey, c.mse }

// Read reads and decrypts.
func (c *Conn) Read(p []byte) (int, error) {
	c.rmu.Lock()
	defer c.rmu.Unlock()
	if len(c.pending) > 0 {
		n := copy(p, c.pending)
		c.pending = c.pending[n:]
		if len(c.pending) == 0 {
			c.pending = nil
		}
		return n, nil
	}
	n, err := c.Conn.Read(p)
	if c.dec != nil && n > 0 {
		c.dec.XORKeyStream(p[:n], p[:n])
	}
	return n, err
}

// Write encrypts and writes; p itself is not modified.
func (c *Conn) Write(p []byte) (int, error) {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if c.enc == nil {
		return c.Conn.Write(p)
	}
	written := 0
	for len(p) > 0 {
		chunk := p[:min(len(p), writeChunk)]
		if cap(c.wbuf) < len(chunk) {
			c.wbuf = make([]byte, max(len(chunk), 16<<10+64))
		}
		buf := c.wbuf[:len(chunk)]
		c.enc.XORKeyStream(buf, chunk)
		n, err := c.Conn.Write(buf)
		written += n
		if err != nil {
			// The keystream advanced past what was sent: the stream is
			// broken and the connection must be closed.
			return written, err
		}
		p = p[len(chunk):]
	}
	return written, nil
}
