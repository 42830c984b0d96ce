package utp

import "time"

// ledbat is a connection's congestion window (BEP 29, RFC 6817) as
// libtorrent runs it: slow start until the delay nears the target or a
// loss, then the window moves by at most gainBytes per RTT in proportion to
// how far the queuing delay is from the target. Called with the conn's
// lock held.
type ledbat struct {
	cwnd      float64 // bytes allowed in flight
	ssthresh  float64
	slowStart bool
	target    uint32 // microseconds

	// Base delay: minimum of the samples per one-minute bucket.
	hist      [historyBuckets]uint32
	histValid [historyBuckets]bool
	histIdx   int
	histStart time.Time

	recent    [3]uint32 // last raw samples; the queuing delay uses their minimum
	recentN   int
	lastDelay uint32 // last queuing delay computed, microseconds
}

func newLedbat(target time.Duration, now time.Time) ledbat {
	return ledbat{
		cwnd:      2 * MaxPayload,
		ssthresh:  1 << 30,
		slowStart: true,
		target:    uint32(target.Microseconds()),
		histStart: now,
	}
}

const minCwnd = MaxPayload

// addSample records a timestamp_difference the peer reported (its clock
// minus ours, plus the one-way delay). Zero means "no sample".
func (l *ledbat) addSample(d uint32, now time.Time) {
	if d == 0 {
		return
	}
	for now.Sub(l.histStart) >= time.Minute {
		l.histStart = l.histStart.Add(time.Minute)
		l.histIdx = (l.histIdx + 1) % historyBuckets
		l.histValid[l.histIdx] = false
		if now.Sub(l.histStart) >= historyBuckets*time.Minute {
			l.histStart = now
			clear(l.histValid[:])
		}
	}
	// Samples wrap with the 32-bit clocks; compare by signed difference.
	if !l.histValid[l.histIdx] || int32(d-l.hist[l.histIdx]) < 0 {
		l.hist[l.histIdx] = d
		l.histValid[l.histIdx] = true
	}
	l.recent[l.recentN%len(l.recent)] = d
	l.recentN++
}

// queuingDelay is the minimum of the recent samples less the base delay.
func (l *ledbat) queuingDelay() uint32 {
	if l.recentN == 0 {
		return 0
	}
	var base uint32
	found := false
	for i, ok := range l.histValid {
		if ok && (!found || int32(l.hist[i]-base) < 0) {
			base, found = l.hist[i], true
		}
	}
	n := min(l.recentN, len(l.recent))
	cur := l.recent[0]
	for _, d := range l.recent[1:n] {
		if int32(d-cur) < 0 {
			cur = d
		}
	}
	q := int32(cur - base)
	if q < 0 {
		return 0
	}
	return uint32(q)
}

// onAck grows or shrinks the window for acked bytes, given the bytes in
// flight before the ack and whether the sender was limited by the window.
func (l *ledbat) onAck(acked, inflight int, cwndFull bool) {
	if acked <= 0 {
		return
	}
	delay := l.queuingDelay()
	l.lastDelay = delay
	offTarget := float64(int64(l.target) - int64(delay))
	delayFactor := offTarget / float64(l.target)
	// Bound the decrease to one gain per RTT too (RFC 6817 allows no
	// faster than halving; libtorrent bounds it alike).
	delayFactor = max(-1, min(1, delayFactor))
	windowFactor := float64(acked) / float64(max(inflight, acked))
	linear := gainBytes * windowFactor * delayFactor
	if linear > 0 && !cwndFull {
		linear = 0 // an application-limited sender does not grow its window
	}
	if l.slowStart {
		if delay >= l.target*9/10 || l.cwnd+float64(acked) > l.ssthresh {
			l.slowStart = false
			l.ssthresh = l.cwnd
		} else if cwndFull && float64(acked) > linear {
			l.cwnd += float64(acked)
			return
		}
	}
	l.cwnd = max(minCwnd, min(l.cwnd+linear, 1<<26))
}

// onLoss halves the window (once per window of packets; the caller checks).
func (l *ledbat) onLoss() {
	l.cwnd = max(minCwnd, l.cwnd/2)
	l.ssthresh = l.cwnd
	l.slowStart = false
}

// onTimeout shrinks the window to one packet and restarts slow start.
func (l *ledbat) onTimeout() {
	l.ssthresh = max(minCwnd, l.cwnd/2)
	l.cwnd = minCwnd
	l.slowStart = true
}

// rttEstimator is BEP 29's RTT, variance and timeout.
type rttEstimator struct {
	rtt, rttVar time.Duration
	rto         time.Duration
	sampled     bool
}

func newRTT() rttEstimator { return rttEstimator{rto: initialTimeout} }

// sample records the RTT of a packet that was sent once.
func (r *rttEstimator) sample(d time.Duration) {
	if !r.sampled {
		r.rtt, r.rttVar, r.sampled = d, d/2, true
	} else {
		delta := r.rtt - d
		if delta < 0 {
			delta = -delta
		}
		r.rttVar += (delta - r.rttVar) / 4
		r.rtt += (d - r.rtt) / 8
	}
	r.rto = max(r.rtt+4*r.rttVar, minTimeout)
}

// backoff doubles the timeout after a timeout.
func (r *rttEstimator) backoff() { r.rto = min(2*r.rto, maxTimeout) }
