package bittern

import (
	"time"

	"github.com/bittern/bittern/peerwire"
)

// onRequest queues a block a peer asked for, to be read on the I/O pool and
// then sent by the connection's writer.
func (t *Torrent) onRequest(c *peerConn, k blockKey) {
	reject := func() {
		if c.fast {
			c.send(peerwire.Reject{Index: k.index, Begin: k.begin, Length: k.length}.AppendTo(nil))
		}
	}
	if c.amChoking || !t.picker.HasPiece(int(k.index)) || len(c.uploads) >= t.s.cfg.MaxUploadQueue {
		reject()
		return
	}
	if _, dup := c.uploads[k]; dup {
		return
	}
	c.uploads[k] = struct{}{}
	off := int64(k.index)*t.info.PieceLength + int64(k.begin)
	t.jobs.Add(1)
	t.s.io.submit(func() {
		defer t.jobs.Done()
		var buf []byte
		if k.length <= peerwire.BlockSize {
			buf = peerwire.GetBlock()[:k.length]
		} else {
			buf = make([]byte, k.length)
		}
		n, err := t.st.ReadAt(buf, off)
		if n == len(buf) {
			err = nil
		}
		t.inbox.post(func() { t.onRead(c, k, buf, err) })
	})
}

// onRead runs on the owner when a requested block was read: it is sent
// unless the request was cancelled or the peer choked meanwhile.
func (t *Torrent) onRead(c *peerConn, k blockKey, buf []byte, err error) {
	if _, ok := c.uploads[k]; !ok || c.removed {
		peerwire.PutBlock(buf)
		return
	}
	delete(c.uploads, k)
	if err != nil {
		peerwire.PutBlock(buf)
		t.log.Warn("read", "piece", k.index, "err", err)
		if c.fast {
			c.send(peerwire.Reject{Index: k.index, Begin: k.begin, Length: k.length}.AppendTo(nil))
		}
		return
	}
	c.sendPiece(k.index, k.begin, buf)
}

func (t *Torrent) numUnchoked() int {
	n := 0
	for c := range t.conns {
		if !c.amChoking {
			n++
		}
	}
	return n
}

// fillSlots unchokes interested peers, those unchoked longest ago first,
// while upload slots are free: a slot freed between choker rounds does not
// stay idle until the next one.
func (t *Torrent) fillSlots() {
	free := t.s.cfg.UploadSlots - t.numUnchoked()
	for free > 0 {
		var best *peerConn
		for c := range t.conns {
			if c.amChoking && c.peerInterested && (best == nil || c.lastUnchoke.Before(best.lastUnchoke)) {
				best = c
			}
		}
		if best == nil {
			return
		}
		t.unchoke(best)
		free--
	}
}

func (t *Torrent) unchoke(c *peerConn) {
	c.amChoking = false
	c.lastUnchoke = time.Now()
	c.send(peerwire.Unchoke{}.AppendTo(nil))
}

// choke chokes the peer; with BEP 6 its queued requests are rejected, as
// the choke itself no longer discards them.
func (t *Torrent) choke(c *peerConn) {
	c.amChoking = true
	c.optimistic = false
	msg := peerwire.Choke{}.AppendTo(nil)
	if c.fast {
		for k := range c.uploads {
			msg = peerwire.Reject{Index: k.index, Begin: k.begin, Length: k.length}.AppendTo(msg)
		}
	}
	clear(c.uploads)
	c.send(msg)
}

// runChoker is one round of the choker (every Config.ChokeInterval): it
// measures each peer's rates over the round and applies choose.
func (t *Torrent) runChoker(now time.Time) {
	dt := now.Sub(t.lastChoke).Seconds()
	if dt <= 0 {
		dt = 1
	}
	conns := make([]*peerConn, 0, len(t.conns))
	cands := make([]chokeCand, 0, len(t.conns))
	for c := range t.conns {
		down, up := c.downloaded.Load(), c.uploaded.Load()
		c.downRate = float64(down-c.roundDown) / dt
		c.upRate = float64(up-c.roundUp) / dt
		c.roundDown, c.roundUp = down, up
		conns = append(conns, c)
		cands = append(cands, chokeCand{
			interested:  c.peerInterested,
			downRate:    c.downRate,
			upRate:      c.upRate,
			lastUnchoke: c.lastUnchoke,
			optimistic:  c.optimistic,
		})
	}
	rotate := t.chokeRound%DefaultOptimisticEvery == 0
	unchoke, opt := choose(cands, t.s.cfg.UploadSlots, t.picker.Done(), rotate)
	for i, c := range conns {
		c.optimistic = i == opt
		switch {
		case unchoke[i] && c.amChoking:
			t.unchoke(c)
		case !unchoke[i] && !c.amChoking:
			t.choke(c)
		}
	}
}
