package utp

import "time"

// Tail-loss probe (after TCP's TLP and RACK, RFC 8985). When a whole
// window, or its tail, is lost (a receiver whose UDP buffer overflows while
// it is not reading drops everything past a point), no ack comes back: the
// cumulative ack cannot move and no selective ack reaches past the gap, so
// only the retransmission timeout, at least 500 ms, would recover. Instead,
// once nothing was acked for a probe timeout (twice the smoothed RTT, at
// least minProbe, and before the RTO) while packets are in flight, the
// first unacked packet is sent again (and again after twice as long while
// no ack comes, until the RTO). Its ack tells what happened:
// if the packets sent before it stay unacked past it (see probeAcked), they
// are lost (as a loss, not a timeout: the window halves once, slow start
// does not restart) and go again as the window allows. If they were only
// late, their acks follow the probe's and nothing more is sent.

// minProbe is the shortest probe timeout: a receiver that acks at the end
// of each batch it reads (libtorrent) or after delayedAck (we) must have
// had time to.
const minProbe = 10 * time.Millisecond

// probeTimeout is how long the conn waits for an ack before a probe.
func (c *Conn) probeTimeout() time.Duration {
	return max(2*c.rtt.rtt, minProbe)
}

// armProbe schedules the probe after an ack or a send of new data, while
// packets are in flight and no probe is outstanding.
func (c *Conn) armProbe(now time.Time) {
	if len(c.out) == 0 || c.state != stateConnected || !c.rtt.sampled {
		c.probeAt = time.Time{}
		return
	}
	if !c.probing {
		c.probeAt = now.Add(c.probeTimeout())
		c.probeN = 0
	}
}

// sendProbe sends the first unacked packet again, unless the RTO is due as
// soon. Called from the timer once probeAt has passed. While no ack comes,
// the probe is repeated after twice as long each time, until the RTO: a
// receiver that is still not reading drops the first probe too.
func (c *Conn) sendProbe(now time.Time) {
	c.probeAt = time.Time{}
	if c.state != stateConnected || !c.rtoAt.After(now) {
		return
	}
	for _, p := range c.out {
		if p.acked {
			continue
		}
		if !c.probing || p.seq != c.probeSeq {
			c.probeOrigSentAt = p.sentAt
			c.probeN = 0
		}
		c.probing = true
		c.probeSeq = p.seq
		c.probeSentAt = now
		c.probeN++
		c.s.stats.probes.Add(1)
		c.probeDups = min(c.probeDups+1, maxProbeDups)
		c.transmit(p, now)
		c.probeAt = now.Add(c.probeTimeout() << min(c.probeN, 6))
		return
	}
}

// probeAcked runs after an ack that acknowledged something (cumulatively
// or selectively) while a probe is outstanding. Either way the probe is
// over: the ack showed the peer is alive. If the probe's packet is among
// what is acked, the ack may still be the late one of the original (the
// delay rose, nothing was lost), so the packets sent before the probe are
// not lost at once: each is lost once its own ack is later than the
// probe's packet's was, relative to their sends, by more than a reordering
// margin (RACK's rule, with the probe's packet as the reference). Late
// originals are acked within that margin; lost ones are found about one
// burst after the probe's ack.
func (c *Conn) probeAcked(now time.Time) {
	if !c.probing {
		return
	}
	c.probing = false
	covered := !seqLess(c.ackedTo, c.probeSeq)
	if !covered {
		for _, p := range c.out {
			if p.seq == c.probeSeq {
				covered = p.acked
				break
			}
		}
	}
	if !covered {
		return
	}
	c.lossBefore = c.probeSentAt
	c.lossShift = now.Sub(c.probeOrigSentAt) + max(c.rtt.rtt/4, minReorder)
	c.detectLoss(now)
}

// maxProbeDups bounds Conn.probeDups: the duplicate acks not counted
// because probes may have caused them. A probe whose original arrived
// reaches the peer as a duplicate, which it acks at once with the ack it
// already sent: without this, three probes during a rise of the delay
// would look like three duplicate acks and cut the window for nothing.
const maxProbeDups = 8

// minReorder is the least reordering margin of detectLoss: two delayed
// acks.
const minReorder = 2 * delayedAck

// detectLoss marks lost the packets sent before lossBefore whose deadline
// (sent + lossShift) has passed, and sets lossAt to the next deadline; once
// none is left it ends.
func (c *Conn) detectLoss(now time.Time) {
	c.lossAt = time.Time{}
	if c.lossBefore.IsZero() {
		return
	}
	for _, p := range c.out {
		if p.acked || !p.inFlight || !p.sentAt.Before(c.lossBefore) {
			continue
		}
		if at := p.sentAt.Add(c.lossShift); now.Before(at) {
			if c.lossAt.IsZero() || at.Before(c.lossAt) {
				c.lossAt = at
			}
			continue
		}
		c.lose(p)
	}
	if c.lossAt.IsZero() {
		c.lossBefore = time.Time{}
	}
}

// endProbe forgets the probe and loss detection, as a timeout does.
func (c *Conn) endProbe() {
	c.probing = false
	c.probeAt, c.lossAt, c.lossBefore = time.Time{}, time.Time{}, time.Time{}
}
