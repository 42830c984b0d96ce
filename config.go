package bittern

import (
	"context"
	"log/slog"
	"net"
	"net/http"
	"runtime"
	"time"

	"github.com/bittern/bittern/dht"
	"github.com/bittern/bittern/storage"
	"github.com/bittern/bittern/tracker"
	"github.com/bittern/bittern/utp"
)

// Dialer opens outgoing peer connections. *net.Dialer satisfies it; tests
// pass an in-memory one.
type Dialer interface {
	DialContext(ctx context.Context, network, address string) (net.Conn, error)
}

// Listener accepts incoming peer connections. net.Listener satisfies it.
type Listener interface {
	Accept() (net.Conn, error)
	Close() error
	Addr() net.Addr
}

// Defaults used for zero Config fields.
const (
	DefaultListenAddr           = ":0"
	DefaultMaxPeers             = 50
	DefaultMaxConnections       = 500
	DefaultMaxHalfOpen          = 8
	DefaultUploadSlots          = 4
	DefaultRequestQueueDepth    = 128
	DefaultRequestQueueTime     = 3 * time.Second
	DefaultMaxUploadQueue       = 500
	DefaultMaxQueuedBlocks      = 4096
	DefaultHandshakeTimeout     = 10 * time.Second
	DefaultKeepAliveInterval    = 2 * time.Minute
	DefaultIdleTimeout          = 3 * time.Minute
	DefaultChokeInterval        = 10 * time.Second
	DefaultOptimisticEvery      = 3 // choke rounds: 30 s with the default interval
	DefaultRetryBackoff         = 30 * time.Second
	DefaultRequestTimeout       = time.Minute
	DefaultMaxPendingHandshakes = 64
)

// Config tunes a Session. The zero value works: every field documents what
// zero means. A Config must not be changed after it is passed to NewSession.
type Config struct {
	// DataDir is where torrents added without their own Storage keep their
	// files (a storage.Dir rooted here). If empty, the current directory.
	DataDir string
	// Storage, if not nil, is used for torrents added without their own
	// Storage instead of a storage.Dir under DataDir.
	Storage storage.Storage

	// ListenAddr is the TCP address to accept peers on, one port for all
	// torrents. If empty, DefaultListenAddr (an ephemeral port on every
	// interface). Ignored when Listener is set.
	ListenAddr string
	// Listener, if not nil, is used instead of listening on ListenAddr.
	// The Session closes it on Close.
	Listener Listener
	// NoListen disables incoming connections.
	NoListen bool
	// Dialer opens outgoing connections. If nil, a *net.Dialer.
	Dialer Dialer

	// UTP, if true, makes the session also accept and dial peers over uTP
	// (BEP 29), on a UDP socket bound to the port number of its TCP
	// listener (to an ephemeral UDP port when NoListen is set, and then
	// incoming uTP connections are refused). A DHT node the session starts
	// for DHTListenAddr shares that socket when DHTListenAddr's port is 0
	// or the session's port. Outgoing connections try uTP first, for at
	// most UTPConnectTimeout, then TCP (or the reverse with PreferTCP);
	// the transport that worked is tried first for that address from then
	// on. Incoming uTP connections go through the same handshake, limits
	// and bans as TCP ones. If false, TCP only.
	UTP bool
	// PreferTCP, with UTP, makes outgoing connections try TCP first (for
	// at most UTPConnectTimeout) and uTP after it fails.
	PreferTCP bool
	// UTPConnectTimeout bounds the first transport an outgoing
	// connection tries before falling back to the other. If zero,
	// DefaultUTPConnectTimeout.
	UTPConnectTimeout time.Duration
	// UTPPacketConn, if not nil and UTP is set, is the packet conn uTP
	// runs on instead of a UDP socket on the listening port. The Session
	// closes it on Close.
	UTPPacketConn net.PacketConn
	// UTPConfig tunes the uTP socket (limits, buffers, timeouts). If nil,
	// the utp package's defaults.
	UTPConfig *utp.Config

	// Encryption is the MSE/PE policy for outgoing and incoming
	// connections. If zero, EncryptionAccept: dial in plaintext, accept
	// both.
	Encryption Encryption

	// PeerID is this session's peer ID. If zero, a random one starting
	// with peerwire.PeerIDPrefix.
	PeerID [20]byte

	// MaxPeers bounds the connections of each torrent. If zero,
	// DefaultMaxPeers.
	MaxPeers int
	// MaxConnections bounds the peer connections of the whole session.
	// If zero, DefaultMaxConnections.
	MaxConnections int
	// MaxHalfOpen bounds the outgoing connection attempts in progress per
	// torrent. If zero, DefaultMaxHalfOpen.
	MaxHalfOpen int
	// MaxPendingHandshakes bounds the incoming connections whose handshake
	// is in progress; more are closed at once. If zero,
	// DefaultMaxPendingHandshakes.
	MaxPendingHandshakes int
	// UploadSlots is how many peers of a torrent are unchoked at once,
	// the optimistic unchoke included. If zero, DefaultUploadSlots.
	UploadSlots int
	// RequestQueueDepth is the most block requests kept outstanding per
	// peer (also capped by the peer's BEP 10 "reqq"); within it, each
	// peer's pipeline holds what the peer delivers in RequestQueueTime at
	// its measured rate. If zero, DefaultRequestQueueDepth.
	RequestQueueDepth int
	// RequestQueueTime sizes each peer's request pipeline to its
	// bandwidth-delay product: the requests it can answer in this time at
	// the rate it has been sending. If zero, DefaultRequestQueueTime.
	RequestQueueTime time.Duration
	// MaxQueuedBlocks bounds the received blocks waiting to be written to
	// storage, for the whole session (each connection also holds at most
	// RequestQueueDepth); at the bound, connections stop reading until the
	// disk catches up. If zero, DefaultMaxQueuedBlocks (64 MiB of 16 KiB
	// blocks).
	MaxQueuedBlocks int
	// MaxUploadQueue is how many requests a peer may have queued with us
	// (advertised as "reqq"); more are rejected. If zero,
	// DefaultMaxUploadQueue.
	MaxUploadQueue int

	// HandshakeTimeout bounds the BitTorrent handshake of a connection.
	// If zero, DefaultHandshakeTimeout.
	HandshakeTimeout time.Duration
	// KeepAliveInterval is how long a connection may stay silent before a
	// keep-alive is sent. If zero, DefaultKeepAliveInterval.
	KeepAliveInterval time.Duration
	// IdleTimeout closes a connection from which nothing was received for
	// this long. If zero, DefaultIdleTimeout.
	IdleTimeout time.Duration
	// ChokeInterval is the period of the choker. If zero,
	// DefaultChokeInterval. The optimistic unchoke rotates every
	// DefaultOptimisticEvery rounds.
	ChokeInterval time.Duration
	// RequestTimeout: a peer that has had requests outstanding for this
	// long without sending any block is snubbed: its requests are
	// cancelled and returned to the picker, and it gets one request at a
	// time until it sends a block. If zero, DefaultRequestTimeout.
	RequestTimeout time.Duration
	// RetryBackoff is the wait before a failed peer address is dialled
	// again; it doubles with each failure. If zero, DefaultRetryBackoff.
	RetryBackoff time.Duration

	// NoTrackers disables announcing to trackers.
	NoTrackers bool
	// Tracker configures the tracker clients (tracker.Multi, one per
	// torrent): HTTP client, UDP timeouts, backoff. The zero value works.
	// If Tracker.Config.Logger is nil, Logger is used.
	Tracker tracker.MultiConfig
	// TrackerStopTimeout bounds the "stopped" announce sent when a torrent
	// is removed or the session closes. If zero,
	// DefaultTrackerStopTimeout.
	TrackerStopTimeout time.Duration

	// DHT, if not nil, is a peer source (typically a *dht.Server the caller
	// runs) every public torrent asks for peers and, when it can announce,
	// announces itself to, every PeerSourceInterval. The Session does not
	// close it.
	DHT PeerSource
	// DHTListenAddr, if not empty and DHT is nil, makes the Session start
	// its own DHT node on this UDP address (configured by DHTConfig), use
	// it as DHT and close it on Close.
	DHTListenAddr string
	// DHTConfig configures the node started for DHTListenAddr. If nil,
	// the dht package's defaults (bootstrapping from the public routers).
	DHTConfig *dht.Config
	// PeerSources are further sources of peers for public torrents,
	// asked like DHT.
	PeerSources []PeerSource
	// PeerSourceInterval is the period of the lookups in DHT and
	// PeerSources. If zero, DefaultPeerSourceInterval.
	PeerSourceInterval time.Duration

	// MaxMetadataSize caps the size of an info dictionary fetched from
	// peers for a magnet link (BEP 9); peers announcing more are dropped.
	// If zero, DefaultMaxMetadataSize.
	MaxMetadataSize int

	// DownloadRateLimit bounds the payload bytes per second the whole
	// session receives, across all torrents (Session.SetRateLimits
	// changes it at run time; each torrent may have its own limit too).
	// If zero, unlimited.
	DownloadRateLimit int
	// UploadRateLimit bounds the payload bytes per second the whole
	// session sends, like DownloadRateLimit. If zero, unlimited.
	UploadRateLimit int

	// IOWorkers is the number of goroutines doing disk I/O and hashing for
	// all torrents. If zero, 2*GOMAXPROCS.
	IOWorkers int

	// DisableWebSeeds, if true, makes torrents ignore BEP 19 web seeds.
	// If false, each torrent also downloads from the http and https URLs
	// of its url-list, its magnet link's "ws=" and TorrentOptions.WebSeeds.
	DisableWebSeeds bool
	// WebSeedClient makes the web seeds' HTTP requests. If nil, a client
	// of the session's own with connect and header timeouts, keep-alive
	// connections (closed by Close) and at most 5 redirects.
	WebSeedClient *http.Client

	// Logger receives protocol chatter at Debug level. If nil, logs are
	// discarded.
	Logger *slog.Logger
}

// withDefaults returns a copy of c (nil allowed) with zero fields filled in.
func (c *Config) withDefaults() Config {
	var d Config
	if c != nil {
		d = *c
	}
	if d.DataDir == "" {
		d.DataDir = "."
	}
	if d.ListenAddr == "" {
		d.ListenAddr = DefaultListenAddr
	}
	if d.Dialer == nil {
		d.Dialer = &net.Dialer{}
	}
	setDefault(&d.MaxPeers, DefaultMaxPeers)
	setDefault(&d.MaxConnections, DefaultMaxConnections)
	setDefault(&d.MaxHalfOpen, DefaultMaxHalfOpen)
	setDefault(&d.MaxPendingHandshakes, DefaultMaxPendingHandshakes)
	setDefault(&d.UploadSlots, DefaultUploadSlots)
	setDefault(&d.RequestQueueDepth, DefaultRequestQueueDepth)
	setDefault(&d.RequestQueueTime, DefaultRequestQueueTime)
	setDefault(&d.MaxUploadQueue, DefaultMaxUploadQueue)
	setDefault(&d.MaxQueuedBlocks, DefaultMaxQueuedBlocks)
	setDefault(&d.HandshakeTimeout, DefaultHandshakeTimeout)
	setDefault(&d.KeepAliveInterval, DefaultKeepAliveInterval)
	setDefault(&d.IdleTimeout, DefaultIdleTimeout)
	setDefault(&d.ChokeInterval, DefaultChokeInterval)
	setDefault(&d.RetryBackoff, DefaultRetryBackoff)
	setDefault(&d.RequestTimeout, DefaultRequestTimeout)
	setDefault(&d.TrackerStopTimeout, DefaultTrackerStopTimeout)
	setDefault(&d.PeerSourceInterval, DefaultPeerSourceInterval)
	setDefault(&d.MaxMetadataSize, DefaultMaxMetadataSize)
	setDefault(&d.IOWorkers, 2*runtime.GOMAXPROCS(0))
	setDefault(&d.UTPConnectTimeout, DefaultUTPConnectTimeout)
	if d.Logger == nil {
		d.Logger = slog.New(slog.DiscardHandler)
	}
	return d
}

func setDefault[T int | time.Duration](p *T, v T) {
	if *p <= 0 {
		*p = v
	}
}
