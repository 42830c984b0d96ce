package tracker

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"time"
)

// Config configures the tracker clients. The zero value works.
type Config struct {
	// HTTPClient performs HTTP(S) announces and scrapes. If nil, a client
	// with a 60-second timeout that follows up to 10 redirects.
	HTTPClient *http.Client
	// UserAgent is sent with HTTP requests. If empty, "bittern".
	UserAgent string
	// MaxResponseSize bounds an HTTP reply body, after decompression. If
	// zero, 2 MiB.
	MaxResponseSize int64
	// UDPTimeout is the first UDP retransmission timeout; the n-th
	// retransmission waits UDPTimeout·2^n (BEP 15). If zero, 15 seconds.
	UDPTimeout time.Duration
	// UDPRetries is the largest n: after the wait of UDPTimeout·2^n the
	// request fails with ErrTimeout. If zero, 8 (as BEP 15); negative means
	// no retransmission.
	UDPRetries int
	// Dial opens the UDP socket to a tracker. If nil, a net.Dialer is used.
	Dial func(ctx context.Context, network, address string) (net.Conn, error)
	// Logger receives protocol chatter at Debug level (each announce and
	// scrape with its outcome). If nil, nothing is logged.
	Logger *slog.Logger
}

const (
	defaultMaxResponseSize = 2 << 20
	defaultUDPTimeout      = 15 * time.Second
	defaultUDPRetries      = 8
	// udpConnIDLifetime is how long a client reuses a connection ID (BEP 15).
	udpConnIDLifetime = time.Minute
)

var defaultHTTPClient = &http.Client{Timeout: 60 * time.Second}

func (c *Config) orDefault() Config {
	var out Config
	if c != nil {
		out = *c
	}
	if out.HTTPClient == nil {
		out.HTTPClient = defaultHTTPClient
	}
	if out.UserAgent == "" {
		out.UserAgent = "bittern"
	}
	if out.MaxResponseSize <= 0 {
		out.MaxResponseSize = defaultMaxResponseSize
	}
	if out.UDPTimeout <= 0 {
		out.UDPTimeout = defaultUDPTimeout
	}
	if out.UDPRetries == 0 {
		out.UDPRetries = defaultUDPRetries
	} else if out.UDPRetries < 0 {
		out.UDPRetries = 0
	}
	if out.Logger == nil {
		out.Logger = slog.New(slog.DiscardHandler)
	}
	if out.Dial == nil {
		d := &net.Dialer{}
		out.Dial = d.DialContext
	}
	return out
}

// New returns the client for an announce URL: an *HTTPTracker for http://
// and https://, a *UDPTracker for udp://. cfg may be nil.
func New(announceURL string, cfg *Config) (Tracker, error) {
	u, err := url.Parse(announceURL)
	if err != nil {
		return nil, fmt.Errorf("tracker: %w", err)
	}
	switch u.Scheme {
	case "http", "https":
		return NewHTTP(announceURL, cfg)
	case "udp":
		return NewUDP(announceURL, cfg)
	}
	return nil, fmt.Errorf("%w: %q", ErrUnsupportedScheme, u.Scheme)
}

// logAnnounce records one announce at Debug level.
func logAnnounce(ctx context.Context, l *slog.Logger, url string, req *AnnounceRequest, resp *AnnounceResponse, err error) {
	if !l.Enabled(ctx, slog.LevelDebug) {
		return
	}
	if err != nil {
		l.DebugContext(ctx, "announce failed", "tracker", url, "info_hash", req.InfoHash, "event", req.Event.String(), "err", err)
		return
	}
	l.DebugContext(ctx, "announce", "tracker", url, "info_hash", req.InfoHash, "event", req.Event.String(),
		"peers", len(resp.Peers), "seeders", resp.Seeders, "leechers", resp.Leechers, "interval", resp.Interval)
}
