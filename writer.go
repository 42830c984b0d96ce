package bittern

import (
	"encoding/binary"
	"io"
	"net"
	"sync"
	"time"

	"github.com/bittern/bittern/peerwire"
)

// writeLoop is the connection's writer goroutine. Each wake-up drains the
// queue and sends all of it with one vectored write (writev on TCP):
// small messages, piece headers and the blocks themselves, which are not
// copied. A keep-alive goes out after keepAlive of silence.
func (c *peerConn) writeLoop(keepAlive time.Duration) {
	defer c.t.wg.Done()
	var (
		items []outItem
		hdrs  []byte
		bufs  net.Buffers
	)
	timer := time.NewTimer(keepAlive)
	defer timer.Stop()
	defer func() {
		// Return blocks still queued to the pool.
		c.mu.Lock()
		rest := c.queue
		c.queue = nil
		c.mu.Unlock()
		for _, it := range rest {
			if it.piece {
				peerwire.PutBlock(it.block)
			}
		}
	}()
	for {
		select {
		case <-c.done:
			return
		case <-timer.C:
			if err := c.fr.WriteKeepAlive(); err != nil {
				c.close(err)
				return
			}
			timer.Reset(keepAlive)
			continue
		case <-c.wake:
		}
		c.mu.Lock()
		items, c.queue = c.queue, items[:0]
		c.mu.Unlock()
		if c.uploadLimited() {
			ok := c.writePaced(items)
			clear(items)
			items = items[:0]
			if !ok {
				return
			}
			timer.Reset(keepAlive)
			continue
		}

		pieces := 0
		for _, it := range items {
			if it.piece {
				pieces++
			}
		}
		if cap(hdrs) < pieces*peerwire.PieceHeaderLength {
			hdrs = make([]byte, 0, pieces*peerwire.PieceHeaderLength)
		}
		hdrs, bufs = hdrs[:0], bufs[:0]
		var payload int64
		closeAfter := false
		for _, it := range items {
			if it.closeConn {
				closeAfter = true
				break
			}
			if !it.piece {
				bufs = append(bufs, it.msg)
				continue
			}
			// hdrs has room for every header: its array never moves, so
			// the slices taken here stay valid.
			h := len(hdrs)
			hdrs = appendPieceHeader(hdrs, it.index, it.begin, len(it.block))
			bufs = append(bufs, hdrs[h:], it.block)
			payload += int64(len(it.block))
		}
		var err error
		if len(bufs) > 0 {
			if c.encrypted {
				// An MSE connection cannot use writev: its writes are
				// gathered in a buffer shared through a pool, so that
				// idle connections hold none.
				bp := coalesceBufs.Get().(*[]byte)
				*bp, err = writeCoalesced(c.conn, bufs, *bp)
				coalesceBufs.Put(bp)
			} else {
				w := bufs // WriteTo consumes its receiver
				_, err = w.WriteTo(c.conn)
			}
		}
		for _, it := range items {
			if it.piece {
				peerwire.PutBlock(it.block)
			}
		}
		clear(items)
		items = items[:0]
		clear(bufs)
		c.sendBytes.Add(-payload)
		if err != nil {
			c.close(err)
			return
		}
		if payload > 0 {
			c.uploaded.Add(payload)
			c.t.uploaded.Add(payload)
			if c.pumpWanted.CompareAndSwap(true, false) {
				c.t.inbox.post(func() { c.t.pumpUploads(c) })
			}
		}
		if closeAfter {
			c.close(nil)
			return
		}
		timer.Reset(keepAlive)
	}
}

// coalesceSize is the size of the writes on an MSE connection.
const coalesceSize = 64 << 10

// coalesceBufs holds the coalesceSize buffers of writeCoalesced.
var coalesceBufs = sync.Pool{New: func() any { b := make([]byte, 0, coalesceSize); return &b }}

// writeCoalesced writes bufs to w in writes of about coalesceSize bytes,
// gathering them in buf (returned for reuse).
func writeCoalesced(w io.Writer, bufs net.Buffers, buf []byte) ([]byte, error) {
	if cap(buf) < coalesceSize {
		buf = make([]byte, 0, coalesceSize)
	}
	buf = buf[:0]
	for _, b := range bufs {
		for len(b) > 0 {
			n := min(len(b), coalesceSize-len(buf))
			buf = append(buf, b[:n]...)
			b = b[n:]
			if len(buf) == coalesceSize {
				if _, err := w.Write(buf); err != nil {
					return buf, err
				}
				buf = buf[:0]
			}
		}
	}
	if len(buf) > 0 {
		if _, err := w.Write(buf); err != nil {
			return buf, err
		}
	}
	return buf[:0], nil
}

// appendPieceHeader appends the header of a piece message carrying n bytes
// (BEP 3): length prefix, ID 7, index, begin.
func appendPieceHeader(dst []byte, index, begin uint32, n int) []byte {
	dst = binary.BigEndian.AppendUint32(dst, uint32(9+n))
	dst = append(dst, byte(peerwire.IDPiece))
	dst = binary.BigEndian.AppendUint32(dst, index)
	return binary.BigEndian.AppendUint32(dst, begin)
}
