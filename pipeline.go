package bittern

import (
	"time"

	"github.com/bittern/bittern/peerwire"
)

// Request pipelines are sized to each peer's bandwidth-delay product, as
// libtorrent does: a peer is asked for what it delivers in
// Config.RequestQueueTime at its measured rate, between minPipeline and
// Config.RequestQueueDepth, and never more than its BEP 10 "reqq". A new
// connection starts at initialPipeline requests and grows by one per
// block received (doubling per round trip, like TCP slow start) until a
// tick finds its rate no longer growing; from then on the rate decides.
const (
	minPipeline     = 2
	initialPipeline = 4
	// rateSmoothing weighs the newest one-second sample of a peer's
	// download rate against the running average.
	rateSmoothing = 0.5
)

// pipeline is a connection's request pipeline state; owner only.
type pipeline struct {
	depth     int     // requests to keep outstanding
	slowStart bool    // growing by one per block received
	rate      float64 // smoothed payload bytes/s received from the peer
	lastDown  int64   // peerConn.downloaded at the last sample
	lastAt    time.Time
}

func (p *pipeline) init(now time.Time) {
	p.depth = initialPipeline
	p.slowStart = true
	p.lastAt = now
}

// pipelineDepth is how many requests to keep outstanding with c.
func (t *Torrent) pipelineDepth(c *peerConn) int {
	depth := min(c.pipe.depth, t.s.cfg.RequestQueueDepth)
	if c.reqq > 0 {
		depth = min(depth, c.reqq)
	}
	if c.snubbed {
		depth = 1
	}
	return max(depth, 1)
}

// pipelineBlock grows the pipeline while in slow start; it runs for every
// block that arrives from c.
func (t *Torrent) pipelineBlock(c *peerConn) {
	if c.pipe.slowStart && c.pipe.depth < t.s.cfg.RequestQueueDepth {
		c.pipe.depth++
	}
}

// samplePipeline updates c's rate and sizes its pipeline from it; it runs
// on the owner's tick.
func (t *Torrent) samplePipeline(c *peerConn, now time.Time) {
	p := &c.pipe
	dt := now.Sub(p.lastAt).Seconds()
	if dt < 0.5 {
		return
	}
	down := c.downloaded.Load()
	sample := float64(down-p.lastDown) / dt
	p.lastDown, p.lastAt = down, now
	if sample == 0 && t.picker.NumRequests(c.pp) == 0 {
		return // nothing asked, nothing learned (choked, or not interested)
	}
	prev := p.rate
	if prev == 0 {
		p.rate = sample
	} else {
		p.rate = rateSmoothing*sample + (1-rateSmoothing)*prev
	}
	cfg := &t.s.cfg
	if p.slowStart {
		// Leave slow start once the rate stops growing by a tenth a
		// tick, or the pipeline is as deep as it may get.
		if (prev > 0 && p.rate < prev*1.1) || p.depth >= cfg.RequestQueueDepth {
			p.slowStart = false
		} else {
			return
		}
	}
	want := int(p.rate * cfg.RequestQueueTime.Seconds() / float64(peerwire.BlockSize))
	p.depth = min(max(want, minPipeline), cfg.RequestQueueDepth)
}
