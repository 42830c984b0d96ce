package utp

import (
	"net"
	"time"
)

var errClosedConn = net.ErrClosed

// sendPacket writes one packet of this conn. Called with c.mu held.
func (c *Conn) sendPacket(typ uint8, seq uint16, payload, sack []byte) {
	now, ts := c.s.now()
	id := c.sendID
	if typ == stSyn {
		id = c.recvID
	}
	wnd := c.recvWindow()
	h := header{typ: typ, connID: id, timestamp: ts, tsDiff: c.replyMicro, wnd: uint32(wnd), seq: seq, ack: c.ack, sack: sack}
	c.scratch = appendPacket(c.scratch[:0], &h, payload)
	if c.wb == nil {
		c.s.write(c.scratch, c.raddr)
	} else if !c.wb.add(c.scratch) {
		c.s.writeBatch(c.wb, c.raddr)
		c.wb.add(c.scratch)
	}
	c.lastSend = now
	c.lastAdvWnd = wnd
	c.unacked, c.ackAt = 0, time.Time{} // every packet carries the ack
}

// sendState sends an ST_STATE: the cumulative ack, and a selective ack of
// the packets held past a gap.
func (c *Conn) sendState() {
	var sack []byte
	if len(c.ooo) > 0 {
		var mask [maxSackBytes]byte
		top := -1
		for seq := range c.ooo {
			if i := int(seq - c.ack - 2); i < maxSackBytes*8 {
				mask[i>>3] |= 1 << (i & 7)
				top = max(top, i)
			}
		}
		if top >= 0 {
			sack = mask[:(top/32+1)*4]
		}
	}
	c.sendPacket(stState, c.seq, nil, sack)
}

// sendSyn starts a dial.
func (c *Conn) sendSyn() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.state == stateDead {
		return // the socket closed under Dial
	}
	now := time.Now()
	c.state = stateSynSent
	c.seq = 1
	c.ackedTo = 0
	c.lossSeq = 0
	p := &outPkt{seq: c.seq, typ: stSyn}
	c.seq++
	c.out = append(c.out, p)
	c.transmit(p, now)
	c.arm(now)
}

// setResend marks p to be sent again, or not, keeping count.
func (c *Conn) setResend(p *outPkt, on bool) {
	switch {
	case on && !p.resend:
		c.resends++
	case !on && p.resend:
		c.resends--
	}
	p.resend = on
}

// transmit sends (or resends) p.
func (c *Conn) transmit(p *outPkt, now time.Time) {
	if !p.inFlight {
		p.inFlight = true
		c.inflight += len(p.payload)
	}
	c.setResend(p, false)
	if p.sends > 0 {
		c.s.stats.retransmits.Add(1)
	}
	p.sends++
	p.sentAt = now
	c.sendPacket(p.typ, p.seq, p.payload, nil)
	if c.rtoAt.IsZero() {
		c.rtoAt = now.Add(c.rtt.rto)
	}
	if c.probeAt.IsZero() {
		c.armProbe(now)
	}
}

// flush sends lost packets again and new data, as far as the congestion
// window and the peer's receive window allow, then a FIN once Close was
// called and all data is out. While the socket can do UDP GSO, the packets
// are gathered and leave in as few system calls as the GSO rules allow.
func (c *Conn) flush(now time.Time) {
	if !c.s.gso.Load() || c.wb != nil {
		c.flushPackets(now)
		return
	}
	c.wb = c.s.batches.Get().(*gsoBatch)
	c.flushPackets(now)
	c.s.writeBatch(c.wb, c.raddr)
	c.s.batches.Put(c.wb)
	c.wb = nil
}

func (c *Conn) flushPackets(now time.Time) {
	if c.state != stateConnected {
		// An acceptor sends nothing before the dialler's first data
		// packet: libtorrent, still waiting for our ST_STATE, would take
		// an early ST_DATA's sequence number as already received.
		return
	}
	window := min(int(c.cc.cwnd), c.peerWnd)
	for i := 0; c.resends > 0 && i < len(c.out); i++ {
		p := c.out[i]
		if !p.resend {
			continue
		}
		if c.inflight > 0 && c.inflight+len(p.payload) > window {
			c.cwndFull = int(c.cc.cwnd) <= c.peerWnd
			return
		}
		c.transmit(p, now)
	}
	for burst := 0; c.sendBuf.len() > 0 && len(c.out) < maxOutstanding; burst++ {
		if burst == maxBurst {
			break // the rest leaves as acks come back
		}
		n := min(c.sendBuf.len(), MaxPayload)
		if n < MaxPayload && c.inflight > 0 && !c.localClosed {
			break // Nagle: a short packet waits for the acks of earlier data
		}
		if c.inflight+n > window {
			// The window grows only while it, not the peer's, binds.
			c.cwndFull = int(c.cc.cwnd) <= c.peerWnd
			if c.inflight == 0 && c.rtoAt.IsZero() {
				c.rtoAt = now.Add(c.rtt.rto) // a closed peer window: probe later
			}
			return
		}
		p := &outPkt{seq: c.seq, typ: stData}
		p.payload, p.chunk = c.sendBuf.take(n)
		c.seq++
		c.out = append(c.out, p)
		c.outBytes += n
		c.transmit(p, now)
	}
	c.cwndFull = c.inflight+MaxPayload > int(c.cc.cwnd)
	if c.localClosed && c.sendBuf.len() == 0 && !c.finSent {
		p := &outPkt{seq: c.seq, typ: stFin}
		c.seq++
		c.finSent = true
		c.out = append(c.out, p)
		c.transmit(p, now)
	}
}

// onTimer runs the conn's timeouts: tail-loss probe, loss detection,
// retransmission, window probe, keepalive, idle timeout, end of linger.
func (c *Conn) onTimer() {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := time.Now()
	c.timerAt = time.Time{}
	if c.state == stateDead {
		if c.lingering && !now.Before(c.lingerUntil) {
			c.fail(errClosedConn, false)
		} else {
			c.arm(now)
		}
		return
	}
	if c.state != stateSynSent && now.Sub(c.lastRecv) >= c.s.cfg.IdleTimeout {
		c.fail(ErrTimeout, true)
		return
	}
	if !c.probeAt.IsZero() && !now.Before(c.probeAt) {
		c.sendProbe(now)
	}
	if !c.lossAt.IsZero() && !now.Before(c.lossAt) {
		c.detectLoss(now)
		c.flush(now)
	}
	if !c.rtoAt.IsZero() && !now.Before(c.rtoAt) {
		c.rtoAt = time.Time{}
		c.endProbe()
		if len(c.out) == 0 {
			// Window probe: one packet past a closed window.
			if c.sendBuf.len() > 0 {
				n := min(c.sendBuf.len(), MaxPayload)
				p := &outPkt{seq: c.seq, typ: stData}
				p.payload, p.chunk = c.sendBuf.take(n)
				c.seq++
				c.out = append(c.out, p)
				c.outBytes += n
				c.transmit(p, now)
			}
		} else {
			c.timeouts++
			c.s.stats.timeouts.Add(1)
			limit := c.s.cfg.MaxRetransmits
			if c.state == stateSynSent {
				limit = c.s.cfg.SynRetries
			}
			if c.timeouts > limit {
				c.fail(ErrTimeout, true)
				return
			}
			c.rtt.backoff()
			c.cc.onTimeout()
			c.lossSeq = c.seq - 1
			var first *outPkt
			for _, p := range c.out {
				if p.acked {
					continue
				}
				if first == nil {
					first = p
				}
				if p.inFlight {
					p.inFlight = false
					c.inflight -= len(p.payload)
				}
				c.setResend(p, true)
			}
			if first != nil {
				c.transmit(first, now)
			}
			c.flush(now)
		}
	}
	if !c.ackAt.IsZero() && !now.Before(c.ackAt) {
		c.sendState()
	}
	if c.state == stateConnected && now.Sub(c.lastSend) >= c.s.cfg.KeepAlive {
		// An ack of the packet before the last one received: the peer
		// takes it as old, not as a duplicate ack (as libutp does).
		c.ack--
		c.sendPacket(stState, c.seq, nil, nil)
		c.ack++
	}
	c.arm(now)
}

// arm sets the timer to the conn's next deadline.
func (c *Conn) arm(now time.Time) {
	var next time.Time
	at := func(t time.Time) {
		if !t.IsZero() && (next.IsZero() || t.Before(next)) {
			next = t
		}
	}
	switch {
	case c.state == stateDead:
		if c.lingering {
			at(c.lingerUntil)
		}
	default:
		at(c.rtoAt)
		at(c.probeAt)
		at(c.lossAt)
		at(c.ackAt)
		if c.state != stateSynSent {
			at(c.lastRecv.Add(c.s.cfg.IdleTimeout))
		}
		if c.state == stateConnected {
			at(c.lastSend.Add(c.s.cfg.KeepAlive))
		}
	}
	if next.IsZero() {
		if !c.timerAt.IsZero() {
			c.timer.Stop()
			c.timerAt = time.Time{}
		}
		return
	}
	if next.Equal(c.timerAt) {
		return
	}
	c.timerAt = next
	c.timer.Reset(max(0, next.Sub(now)))
}
