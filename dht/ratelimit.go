package dht

import (
	"net/netip"
	"time"
)

// Rate limit defaults.
const (
	// DefaultQueryRate is how many queries per second one source IP (an
	// IPv4 address or an IPv6 /64) may send before further queries are
	// dropped.
	DefaultQueryRate = 20
	// DefaultQueryBurst is how many queries one source IP may send at once.
	DefaultQueryBurst = 50
	// maxLimiterEntries bounds the memory of the per-IP limiter.
	maxLimiterEntries = 10000
	// limiterGCInterval is how often a full limiter may look for entries to
	// drop: a scan per packet from a new source would let a flood from many
	// addresses cost a scan of the whole table each.
	limiterGCInterval = time.Second
)

type bucket struct {
	tokens float64
	last   time.Time
}

// ipLimiter is a token bucket per source IP with bounded memory. Not safe
// for concurrent use.
type ipLimiter struct {
	rate, burst float64
	m           map[netip.Addr]*bucket
	lastGC      time.Time
}

func newIPLimiter(rate, burst float64) *ipLimiter {
	return &ipLimiter{rate: rate, burst: burst, m: make(map[netip.Addr]*bucket)}
}

// limitKey is what one rate-limit bucket covers: an IPv4 address, or an
// IPv6 /64, which one host usually controls whole.
func limitKey(ip netip.Addr) netip.Addr {
	ip = ip.Unmap()
	if ip.Is6() {
		p, _ := ip.Prefix(64)
		return p.Addr()
	}
	return ip
}

// allow reports whether ip may send one more query now.
func (l *ipLimiter) allow(ip netip.Addr, now time.Time) bool {
	ip = limitKey(ip)
	b := l.m[ip]
	if b == nil {
		if len(l.m) >= maxLimiterEntries {
			if now.Sub(l.lastGC) >= limiterGCInterval {
				l.gc(now)
			}
			if len(l.m) >= maxLimiterEntries {
				return false // under a flood from many sources: shed load
			}
		}
		b = &bucket{tokens: l.burst, last: now}
		l.m[ip] = b
	}
	b.tokens = min(l.burst, b.tokens+now.Sub(b.last).Seconds()*l.rate)
	b.last = now
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}

// gc drops buckets that have refilled completely: they carry no state.
func (l *ipLimiter) gc(now time.Time) {
	l.lastGC = now
	for ip, b := range l.m {
		if b.tokens+now.Sub(b.last).Seconds()*l.rate >= l.burst {
			delete(l.m, ip)
		}
	}
}
