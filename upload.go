package bittern

import (
	"slices"
	"time"

	"github.com/bittern/bittern/peerwire"
)

// uploadWatermark bounds the bytes of one connection's uploads that are
// being read from storage or wait in its writer's queue. Further accepted
// requests wait as (index, begin, length) only, so a peer's up to
// Config.MaxUploadQueue requests never hold that many blocks in memory.
const uploadWatermark = 1 << 20

// onRequest accepts a block a peer asked for. It is read on the I/O pool,
// within uploadWatermark, and then sent by the connection's writer.
// Requests longer than 16 KiB are refused.
func (t *Torrent) onRequest(c *peerConn, k blockKey) {
	if k.length > peerwire.BlockSize && !c.fast {
		// BEP 3: peers close connections that request more than 16 KiB;
		// with BEP 6 the request is rejected instead.
		t.dropConn(c, errProtocol)
		return
	}
	choked := c.amChoking && !slices.Contains(c.allowedFast, k.index)
	if choked || k.length > peerwire.BlockSize || !t.picker.HasPiece(int(k.index)) || len(c.uploads) >= t.s.cfg.MaxUploadQueue {
		if c.fast {
			c.send(peerwire.Reject{Index: k.index, Begin: k.begin, Length: k.length}.AppendTo(nil))
		}
		return
	}
	if _, dup := c.uploads[k]; dup {
		return
	}
	c.uploads[k] = struct{}{}
	c.uploadQueue = append(c.uploadQueue, k)
	t.pumpUploads(c)
}

// pumpUploads starts reads of queued requests while the connection's
// buffered upload bytes are under uploadWatermark. When it stops at the
// mark, the writer calls it again once it has sent a block.
func (t *Torrent) pumpUploads(c *peerConn) {
	for len(c.uploadQueue) > 0 && !c.removed {
		if t.uploadsBuffered(c) >= uploadWatermark {
			c.pumpWanted.Store(true)
			// The writer may have drained its queue between the check
			// and the store; then it will not call back: go on if the
			// flag is still ours to clear.
			if t.uploadsBuffered(c) >= uploadWatermark || !c.pumpWanted.CompareAndSwap(true, false) {
				return
			}
		}
		k := c.uploadQueue[0]
		c.uploadQueue = c.uploadQueue[1:]
		if _, ok := c.uploads[k]; !ok {
			continue // cancelled, or rejected by a choke
		}
		c.readsInFlight++
		if c.queueRead(k) {
			t.jobs.Add(1)
			t.s.io.submit(func() {
				defer t.jobs.Done()
				t.readBlocks(c)
			})
		}
	}
	if len(c.uploadQueue) == 0 {
		c.uploadQueue = nil // drop the consumed backing array
	}
}

// uploadsBuffered is the bytes of the peer's uploads being read or queued
// for its writer.
func (t *Torrent) uploadsBuffered(c *peerConn) int64 {
	return int64(c.readsInFlight)*peerwire.BlockSize + c.sendBytes.Load()
}

// onRead runs on the owner when a requested block was read: it is sent
// unless the request was cancelled or the peer choked meanwhile.
func (t *Torrent) onRead(c *peerConn, k blockKey, buf []byte, err error) {
	c.readsInFlight--
	if _, ok := c.uploads[k]; !ok || c.removed {
		peerwire.PutBlock(buf)
		t.pumpUploads(c)
		return
	}
	delete(c.uploads, k)
	if err != nil {
		peerwire.PutBlock(buf)
		t.log.Warn("read", "piece", k.index, "err", err)
		t.emitStorageError("read", int(k.index), err)
		if c.fast {
			c.send(peerwire.Reject{Index: k.index, Begin: k.begin, Length: k.length}.AppendTo(nil))
		}
	} else {
		c.sendPiece(k.index, k.begin, buf)
	}
	t.pumpUploads(c)
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
// the choke itself no longer discards them, except those for allowed-fast
// pieces.
func (t *Torrent) choke(c *peerConn) {
	c.amChoking = true
	c.optimistic = false
	msg := peerwire.Choke{}.AppendTo(nil)
	for k := range c.uploads {
		if c.fast && slices.Contains(c.allowedFast, k.index) {
			continue
		}
		if c.fast {
			msg = peerwire.Reject{Index: k.index, Begin: k.begin, Length: k.length}.AppendTo(msg)
		}
		delete(c.uploads, k)
	}
	c.send(msg)
}

// allowedFastCount is the size of the BEP 6 allowed fast set we grant.
const allowedFastCount = 10

// appendAllowedFast grants a new fast-extension peer the pieces of its
// BEP 6 allowed fast set that we have (IPv4 peers only, as BEP 6 defines
// the set), so that it can start while choked. Seeds need none.
func (t *Torrent) appendAllowedFast(msg []byte, c *peerConn) []byte {
	if !c.fast || t.picker.NumHave() == 0 || !c.ip.Is4() {
		return msg
	}
	for _, i := range peerwire.AllowedFastSet(allowedFastCount, t.picker.NumPieces(), c.ih, c.ip) {
		if t.picker.HasPiece(int(i)) {
			c.allowedFast = append(c.allowedFast, i)
			msg = peerwire.AllowedFast{Index: i}.AppendTo(msg)
		}
	}
	return msg
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

// onCancel drops a request the peer cancelled. With BEP 6 every request
// gets exactly one answer: one not yet handed to the writer is rejected
// (its read, if in flight, is discarded); one already handed over is sent.
func (t *Torrent) onCancel(c *peerConn, k blockKey) {
	if _, ok := c.uploads[k]; !ok {
		return
	}
	delete(c.uploads, k)
	if c.fast {
		c.send(peerwire.Reject{Index: k.index, Begin: k.begin, Length: k.length}.AppendTo(nil))
	}
}
