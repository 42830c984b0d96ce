package utp

import "time"

// Default limits and timings. Each is documented on the Config field that
// overrides it.
const (
	DefaultMaxConns       = 1024
	DefaultRecvBuffer     = 1 << 20
	DefaultSendBuffer     = 1 << 20
	DefaultMaxOutOfOrder  = 512
	DefaultAcceptBacklog  = 64
	DefaultFallbackQueue  = 256
	DefaultTargetDelay    = 100 * time.Millisecond
	DefaultIdleTimeout    = 2 * time.Minute
	DefaultKeepAlive      = 29 * time.Second
	DefaultSynRetries     = 3
	DefaultMaxRetransmits = 6
)

// MaxPacketSize is the largest UDP payload the package sends: 1232 bytes,
// the IPv6 minimum MTU (1280) less the IPv6 and UDP headers, so a packet
// crosses any path without fragmentation. With the 20-byte header that
// leaves MaxPayload bytes of data per packet. There is no path MTU
// discovery.
const (
	MaxPacketSize = 1232
	MaxPayload    = MaxPacketSize - headerSize
)

const (
	initialTimeout = time.Second            // BEP 29: before any RTT sample
	minTimeout     = 500 * time.Millisecond // BEP 29: floor of the RTO
	maxTimeout     = 60 * time.Second       // cap of the doubled RTO
	maxOutstanding = 2048                   // packets in flight, far below half the 16-bit sequence space
	gainBytes      = 3000                   // LEDBAT: most the window grows per RTT (libtorrent's utp_gain_factor)
	historyBuckets = 3                      // base delay: minimum over this many one-minute buckets
	delayedAck     = 2 * time.Millisecond   // longest an in-order data packet waits for its ack
	maxBurst       = 32                     // new packets sent at once: a whole window after a pause overflows receive buffers
	socketBuffer   = 4 << 20                // UDP buffers asked of a *net.UDPConn
)

// Config configures a Socket. The zero value (or nil) works.
type Config struct {
	// MaxConns bounds the connections a socket holds, dialled and
	// accepted together; SYNs past it are answered with ST_RESET and Dial
	// fails with ErrTooManyConns. If zero, DefaultMaxConns.
	MaxConns int
	// RecvBuffer bounds each connection's unread data plus the
	// out-of-order packets it holds, in bytes; it is the window advertised
	// to the peer. If zero, DefaultRecvBuffer.
	RecvBuffer int
	// SendBuffer bounds each connection's written but unacknowledged
	// data, in bytes; Write blocks while it is full. If zero,
	// DefaultSendBuffer.
	SendBuffer int
	// MaxOutOfOrder bounds the packets held ahead of a gap; later ones
	// are dropped (and retransmitted by the peer). If zero,
	// DefaultMaxOutOfOrder.
	MaxOutOfOrder int
	// AcceptBacklog bounds connections accepted from the network but not
	// yet returned by Accept; SYNs past it are answered with ST_RESET. If
	// zero, DefaultAcceptBacklog.
	AcceptBacklog int
	// FallbackQueue bounds the packets that are not uTP waiting to be read
	// from PacketConn; packets past it are dropped and counted in
	// Stats.FallbackDropped. If zero, DefaultFallbackQueue.
	FallbackQueue int
	// TargetDelay is LEDBAT's target queuing delay. If zero,
	// DefaultTargetDelay (libtorrent's default).
	TargetDelay time.Duration
	// IdleTimeout ends a connection that has received nothing for this
	// long. If zero, DefaultIdleTimeout.
	IdleTimeout time.Duration
	// KeepAlive is how long a connection stays without sending before it
	// sends an ST_STATE to keep NAT mappings and the peer's idle timer
	// alive. If zero, DefaultKeepAlive.
	KeepAlive time.Duration
	// SynRetries is how many times Dial resends an unanswered SYN (after
	// 1, 2, 4… s) before failing with ErrTimeout. If zero,
	// DefaultSynRetries.
	SynRetries int
	// MaxRetransmits is how many consecutive timeouts a connection
	// survives before failing with ErrTimeout. If zero,
	// DefaultMaxRetransmits.
	MaxRetransmits int
}

func (c *Config) withDefaults() Config {
	var r Config
	if c != nil {
		r = *c
	}
	def := func(v *int, d int) {
		if *v <= 0 {
			*v = d
		}
	}
	def(&r.MaxConns, DefaultMaxConns)
	def(&r.RecvBuffer, DefaultRecvBuffer)
	def(&r.SendBuffer, DefaultSendBuffer)
	def(&r.MaxOutOfOrder, DefaultMaxOutOfOrder)
	def(&r.AcceptBacklog, DefaultAcceptBacklog)
	def(&r.FallbackQueue, DefaultFallbackQueue)
	def(&r.SynRetries, DefaultSynRetries)
	def(&r.MaxRetransmits, DefaultMaxRetransmits)
	if r.TargetDelay <= 0 {
		r.TargetDelay = DefaultTargetDelay
	}
	if r.IdleTimeout <= 0 {
		r.IdleTimeout = DefaultIdleTimeout
	}
	if r.KeepAlive <= 0 {
		r.KeepAlive = DefaultKeepAlive
	}
	return r
}
