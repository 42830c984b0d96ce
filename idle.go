package bittern

import "time"

// eventQueueLen is the capacity of a torrent's event channel. Readers
// block on a full channel, which only slows the peers down while the owner
// catches up; the channel's array (about 200 bytes an event) is allocated
// for every torrent, busy or idle, so it is kept short.
const eventQueueLen = 32

// tickInterval is the period of the owner's housekeeping tick (rates,
// timeouts, choker, PEX, dialling).
const tickInterval = time.Second

// tickNeeded reports whether the owner's tick has work to do: connections
// to watch, dials in progress or due later, or rates still to bring down
// to zero. A torrent without any (an idle seed) stops its ticker until the
// next event or inbox item, so that a session with thousands of idle
// torrents does not wake each of them every second. Housekeeping that must
// run without connections has to make this report true.
func (t *Torrent) tickNeeded() bool {
	if len(t.conns) > 0 || t.halfOpen > 0 || t.downRate.Load() != 0 || t.upRate.Load() != 0 {
		return true
	}
	if t.paused {
		return false
	}
	seeding := !t.wantsData()
	for _, pa := range t.addrs {
		if !pa.busy && !pa.self && !(seeding && pa.seed) && !t.bannedIPs[pa.addr.Addr()] {
			return true // to be dialled now or after its backoff
		}
	}
	return false
}
