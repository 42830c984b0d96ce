package bittern

import (
	"net"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/time/rate"

	"github.com/bittern/bittern/peerwire"
)

// rateBurstDivisor sets a limiter's bucket: a tenth of a second of its rate,
// but at least rateMinBurst, so that the overshoot when a transfer starts
// is small against what the limit lets through in a few seconds.
const (
	rateBurstDivisor = 10
	rateMinBurst     = 2 * peerwire.BlockSize
)

// rateLimit is one token bucket of payload bytes per second, changeable at
// run time. A nil limiter (the zero value) means unlimited: the hot paths
// pay one atomic load.
type rateLimit struct {
	mu sync.Mutex // serializes set
	l  atomic.Pointer[rate.Limiter]
}

// set changes the limit to bytesPerSec (zero or less: unlimited). An
// existing bucket keeps its tokens and its waiting reservations.
func (r *rateLimit) set(bytesPerSec int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if bytesPerSec <= 0 {
		r.l.Store(nil)
		return
	}
	burst := max(bytesPerSec/rateBurstDivisor, rateMinBurst)
	if l := r.l.Load(); l != nil {
		now := time.Now()
		l.SetLimitAt(now, rate.Limit(bytesPerSec))
		l.SetBurstAt(now, burst)
		return
	}
	r.l.Store(rate.NewLimiter(rate.Limit(bytesPerSec), burst))
}

// get returns the limit in bytes per second, or 0 if unlimited.
func (r *rateLimit) get() int {
	if l := r.l.Load(); l != nil {
		return int(l.Limit())
	}
	return 0
}

// wait takes n tokens, waiting for them if the bucket is short. It reports
// false, giving back what it had reserved, if done closes first.
func (r *rateLimit) wait(n int, done <-chan struct{}) bool {
	l := r.l.Load()
	if l == nil {
		return true
	}
	for n > 0 {
		chunk := min(n, l.Burst())
		res := l.ReserveN(time.Now(), chunk)
		if !res.OK() {
			return true // the bucket shrank meanwhile: let this chunk through
		}
		if d := res.Delay(); d > 0 {
			t := time.NewTimer(d)
			select {
			case <-t.C:
			case <-done:
				t.Stop()
				res.Cancel()
				return false
			}
		}
		n -= chunk
	}
	return true
}

// SetRateLimits changes the session-wide limits of payload bytes per second
// received and sent, shared by all its torrents (and on top of each
// torrent's own). Zero or less means unlimited. It takes effect at once.
func (s *Session) SetRateLimits(download, upload int) {
	s.downLimit.set(download)
	s.upLimit.set(upload)
}

// RateLimits returns the session-wide limits of payload bytes per second
// received and sent; zero means unlimited.
func (s *Session) RateLimits() (download, upload int) {
	return s.downLimit.get(), s.upLimit.get()
}

// SetRateLimits changes the torrent's limits of payload bytes per second
// received and sent. Zero or less means unlimited (within the session's
// limits). It takes effect at once.
func (t *Torrent) SetRateLimits(download, upload int) {
	t.downLimit.set(download)
	t.upLimit.set(upload)
}

// RateLimits returns the torrent's limits of payload bytes per second
// received and sent; zero means unlimited.
func (t *Torrent) RateLimits() (download, upload int) {
	return t.downLimit.get(), t.upLimit.get()
}

// throttleDown charges n payload bytes just received to the download
// limits of the torrent and the session, holding the reader (so the peer
// is read no faster than the limits allow) until they are paid for. It
// reports false if the connection closed meanwhile.
func (c *peerConn) throttleDown(n int) bool {
	t := c.t
	if t.downLimit.l.Load() == nil && t.s.downLimit.l.Load() == nil {
		return true
	}
	if !t.downLimit.wait(n, c.done) || !t.s.downLimit.wait(n, c.done) {
		return false
	}
	// The wait was ours, not the peer's silence.
	c.lastRecv.Store(time.Now().UnixNano())
	return true
}

// uploadLimited reports whether the torrent's or the session's upload is
// limited.
func (c *peerConn) uploadLimited() bool {
	return c.t.upLimit.l.Load() != nil || c.t.s.upLimit.l.Load() != nil
}

// writePaced sends a batch of the writer's queue under an upload limit:
// each block goes out, with the messages queued before it, once the
// limits have the tokens for it. It returns the blocks to the pool, and
// false if the connection is closed (by an error, a closeConn item, or
// while it waited).
func (c *peerConn) writePaced(items []outItem) bool {
	var (
		bufs net.Buffers
		hdr  []byte
		sent int // items whose blocks went back to the pool
	)
	defer func() {
		for _, it := range items[sent:] {
			if it.piece {
				peerwire.PutBlock(it.block)
				c.sendBytes.Add(-int64(len(it.block)))
			}
		}
	}()
	flush := func() error {
		if len(bufs) == 0 {
			return nil
		}
		var err error
		if c.encrypted {
			bp := coalesceBufs.Get().(*[]byte)
			*bp, err = writeCoalesced(c.conn, bufs, *bp)
			coalesceBufs.Put(bp)
		} else {
			w := bufs
			_, err = w.WriteTo(c.conn)
		}
		clear(bufs)
		bufs = bufs[:0]
		return err
	}
	t := c.t
	for i, it := range items {
		switch {
		case it.closeConn:
			if err := flush(); err != nil {
				c.close(err)
				return false
			}
			sent = i
			c.close(nil)
			return false
		case !it.piece:
			bufs = append(bufs, it.msg)
			continue
		}
		n := len(it.block)
		if !t.upLimit.wait(n, c.done) || !t.s.upLimit.wait(n, c.done) {
			sent = i
			return false
		}
		hdr = appendPieceHeader(hdr[:0], it.index, it.begin, n)
		bufs = append(bufs, hdr, it.block)
		err := flush()
		peerwire.PutBlock(it.block)
		c.sendBytes.Add(-int64(n))
		sent = i + 1
		if err != nil {
			c.close(err)
			return false
		}
		c.uploaded.Add(int64(n))
		t.uploaded.Add(int64(n))
		if c.pumpWanted.CompareAndSwap(true, false) {
			t.inbox.post(func() { t.pumpUploads(c) })
		}
	}
	if err := flush(); err != nil {
		c.close(err)
		return false
	}
	return true
}
