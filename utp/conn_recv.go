package utp

import (
	"math/rand/v2"
	"time"
)

// acceptSyn sets up a conn from a peer's SYN and answers it.
func (c *Conn) acceptSyn(h *header) {
	c.mu.Lock()
	defer c.mu.Unlock()
	now, ts := c.s.now()
	c.state = stateSynRecv
	close(c.established)
	c.ack = h.seq
	// An ST_STATE carries the next sequence number without using it
	// (libtorrent and libutp; BEP 29's diagram increments it).
	c.seq = uint16(rand.Uint32())
	c.ackedTo = c.seq - 1
	c.lossSeq = c.ackedTo
	c.peerWnd = int(h.wnd)
	c.replyMicro = ts - h.timestamp
	c.lastRecv = now
	c.sendState()
	c.arm(now)
}

// receive handles a packet for this conn. With batched (one of several
// packets of a coalesced read), the ack every second data packet and the
// sends it allows wait for endBatch.
func (c *Conn) receive(h *header, payload []byte, batched bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.inBatch = batched
	now, ts := c.s.now()
	if c.state == stateDead {
		if c.lingering && (h.typ == stFin || h.typ == stData) {
			c.sendState() // our ack of their FIN may have been lost
		} else if c.lingering && h.typ == stReset {
			c.fail(ErrReset, false)
		}
		return
	}
	switch h.typ {
	case stReset:
		c.fail(ErrReset, false)
		return
	case stSyn:
		if c.state == stateSynRecv && h.seq == c.ack {
			// Our answer was lost. The dialler is alive: its SYN retries
			// may run longer than the idle timeout.
			c.lastRecv = now
			c.sendState()
		} else {
			c.s.stats.ignored.Add(1)
		}
		return
	}
	if c.state == stateSynSent {
		if h.ack != 1 { // does not answer our SYN (sequence number 1)
			c.s.stats.ignored.Add(1)
			return
		}
		// The answer's sequence number is the first the peer will use.
		c.ack = h.seq - 1
		c.state = stateConnected
		close(c.established)
	}
	if seqLess(c.seq-1, h.ack) {
		// An ack of data never sent: forged or from another connection.
		c.s.stats.ignored.Add(1)
		return
	}
	c.lastRecv = now
	c.replyMicro = ts - h.timestamp
	c.peerWnd = int(h.wnd)
	c.cc.addSample(h.tsDiff, now)
	c.processAck(h, now)
	if h.typ == stData || h.typ == stFin {
		if c.state == stateSynRecv {
			c.state = stateConnected
		}
		c.processData(h, payload, now)
	}
	if batched {
		return
	}
	c.flush(now)
	c.checkDone(now)
	c.arm(now)
}

// endBatch ends the packets of a coalesced read for this conn: the ack
// they earned, the sends their acks allow, the timer.
func (c *Conn) endBatch() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.inBatch {
		return
	}
	c.inBatch = false
	if c.state == stateDead {
		return
	}
	now := time.Now()
	if c.unacked >= 2 {
		c.sendState()
	}
	c.flush(now)
	c.checkDone(now)
	c.arm(now)
}

// processAck applies the cumulative and selective acks of h.
func (c *Conn) processAck(h *header, now time.Time) {
	acked := 0
	before := c.inflight
	advanced := false
	for len(c.out) > 0 && !seqLess(h.ack, c.out[0].seq) {
		p := c.out[0]
		c.out[0] = nil
		c.out = c.out[1:]
		if !p.acked {
			acked += c.ackPkt(p, now)
		}
		c.outBytes -= len(p.payload)
		if p.chunk != nil {
			// Nothing sends p again: its payload's chunk may be reused.
			p.chunk.release()
			p.payload, p.chunk = nil, nil
		}
		if p.typ == stFin {
			c.finAcked = true
		}
		advanced = true
	}
	if len(c.out) == 0 {
		c.out = c.out[:0:0]
	}
	if advanced {
		c.ackedTo = h.ack
		c.dupAcks = 0
		c.timeouts = 0
		kick(c.writable)
	} else if h.ack == c.ackedTo && h.typ == stState && len(c.out) > 0 {
		if c.probeDups > 0 {
			c.probeDups-- // the answer to a probe that arrived as a duplicate
		} else if c.dupAcks++; c.dupAcks == 3 {
			c.lose(c.out[0])
		}
	}
	if len(h.sack) > 0 && len(c.out) > 0 {
		base := h.ack + 2
		for _, p := range c.out {
			if i := int(p.seq - base); i < len(h.sack)*8 && sackHas(h.sack, i) && !p.acked {
				acked += c.ackPkt(p, now)
			}
		}
		// A packet with three acked after it, all sent after it, is lost
		// (BEP 29: each selectively acked packet counts as a duplicate ack).
		n := 0
		var newest time.Time
		for j := len(c.out) - 1; j >= 0; j-- {
			p := c.out[j]
			if p.acked {
				n++
				if p.sentAt.After(newest) {
					newest = p.sentAt
				}
				continue
			}
			if n >= 3 && p.inFlight && p.sentAt.Before(newest) {
				c.lose(p)
			}
		}
	}
	if acked > 0 || advanced {
		c.probeAcked(now)
		c.detectLoss(now)
		c.armProbe(now)
	}
	if acked > 0 {
		c.cc.onAck(acked, before, c.cwndFull)
	}
	switch {
	case len(c.out) == 0:
		c.rtoAt = time.Time{}
		c.probeDups = 0
	case advanced:
		c.rtoAt = now.Add(c.rtt.rto)
	}
}

// ackPkt marks p acked and returns its payload size.
func (c *Conn) ackPkt(p *outPkt, now time.Time) int {
	p.acked = true
	c.setResend(p, false)
	if p.inFlight {
		p.inFlight = false
		c.inflight -= len(p.payload)
	}
	if p.sends == 1 {
		c.rtt.sample(now.Sub(p.sentAt))
	}
	return len(p.payload)
}

// lose marks p lost: out of flight, to be sent again; the first loss of a
// window halves the congestion window.
func (c *Conn) lose(p *outPkt) {
	if !p.inFlight || p.acked {
		return
	}
	p.inFlight = false
	c.setResend(p, true)
	c.inflight -= len(p.payload)
	if seqLess(c.lossSeq, p.seq) {
		c.cc.onLoss()
		c.lossSeq = c.seq - 1
	}
}

// processData takes the payload of an ST_DATA or ST_FIN and acks it: at
// once for anything out of order, a FIN or the second packet in a row, else
// after delayedAck unless a packet of ours carries the ack first.
func (c *Conn) processData(h *header, payload []byte, now time.Time) {
	delay := false
	defer func() {
		if !delay {
			c.sendState()
			return
		}
		c.unacked++
		if c.unacked >= 2 && !c.inBatch {
			c.sendState()
		} else if c.ackAt.IsZero() {
			c.ackAt = now.Add(delayedAck)
		}
	}()
	if c.finRecv && seqLess(c.finSeq, h.seq) {
		return // past the end of the stream
	}
	d := h.seq - c.ack
	if d == 0 || d >= 0x8000 {
		return // a duplicate: the ack says so
	}
	if d == 1 {
		if len(payload) > c.recvWindow() && !c.localClosed {
			return // past our window: the peer resends when it opens
		}
		if h.typ == stFin {
			c.finRecv, c.finSeq = true, h.seq
		}
		c.deliver(payload)
		c.ack++
		for {
			p, ok := c.ooo[c.ack+1]
			if !ok {
				break
			}
			delete(c.ooo, c.ack+1)
			c.oooBytes -= len(p)
			c.deliver(p)
			c.ack++
		}
		if c.finRecv && c.ack == c.finSeq {
			c.eof = true
		}
		delay = !c.finRecv && len(c.ooo) == 0 && !c.localClosed
		kick(c.readable)
		return
	}
	if int(d) > c.s.cfg.MaxOutOfOrder+1 || len(c.ooo) >= c.s.cfg.MaxOutOfOrder {
		c.s.stats.ignored.Add(1)
		return
	}
	if _, dup := c.ooo[h.seq]; dup || len(payload) > c.recvWindow() {
		return
	}
	if h.typ == stFin {
		c.finRecv, c.finSeq = true, h.seq
	}
	c.ooo[h.seq] = append([]byte(nil), payload...)
	c.oooBytes += len(payload)
}

// deliver appends in-order data for Read; after Close it is dropped.
func (c *Conn) deliver(p []byte) {
	if c.localClosed || len(p) == 0 {
		return
	}
	if len(c.rbuf)+len(p) > cap(c.rbuf) && c.roff > 0 {
		// Move the unread data to the front rather than grow the buffer.
		n := copy(c.rbuf, c.rbuf[c.roff:])
		c.rbuf, c.roff = c.rbuf[:n], 0
	}
	c.rbuf = append(c.rbuf, p...)
}

// recvWindow is the free receive space advertised to the peer.
func (c *Conn) recvWindow() int {
	return max(0, c.s.cfg.RecvBuffer-(len(c.rbuf)-c.roff)-c.oooBytes)
}

// checkDone finishes a closed conn whose FIN was acked: it lingers a
// while to ack a retransmitted FIN, then forgets it.
func (c *Conn) checkDone(now time.Time) {
	if c.state == stateDead || !c.localClosed || !c.finAcked {
		return
	}
	c.state = stateDead
	c.err = errClosedConn
	c.lingering = true
	c.lingerUntil = now.Add(max(2*c.rtt.rto, time.Second))
	c.out, c.ooo, c.resends = nil, nil, 0
	c.sendBuf.reset()
	kick(c.readable)
	kick(c.writable)
}
