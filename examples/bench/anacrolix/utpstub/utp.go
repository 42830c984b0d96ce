// Package utp is a stand-in for github.com/anacrolix/go-utp, whose pinned
// version the module proxy refuses to serve. It has the API that
// anacrolix/torrent v1.62.0 uses, and its constructors always fail, so the
// comparator builds with uTP off (it also sets DisableUTP, so they are never
// called).
package utp

import (
	"context"
	"errors"
	"log/slog"
	"net"
)

// ErrUnavailable is returned by every constructor.
var ErrUnavailable = errors.New("utp: not available in this build (stub module)")

// Default names the implementation in anacrolix/torrent's error messages.
const Default = "stub utp"

// FirewallCallback reports whether a remote address is to be refused.
type FirewallCallback = func(net.Addr) bool

// Option configures a socket.
type Option func(*options)

type options struct{ logger *slog.Logger }

// WithLogger sets the socket's logger.
func WithLogger(l *slog.Logger) Option { return func(o *options) { o.logger = l } }

// Socket is a uTP socket.
type Socket interface {
	net.PacketConn
	Accept() (net.Conn, error)
	Addr() net.Addr
	DialContext(ctx context.Context, network, addr string) (net.Conn, error)
	SetFirewallCallback(FirewallCallback)
}

// NewSocket always fails with ErrUnavailable.
func NewSocket(network, addr string, opts ...Option) (Socket, error) {
	return nil, ErrUnavailable
}

// NewSocketFromPacketConn always fails with ErrUnavailable.
func NewSocketFromPacketConn(pc net.PacketConn, opts ...Option) (Socket, error) {
	return nil, ErrUnavailable
}
