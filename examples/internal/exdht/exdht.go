// Package exdht starts the DHT node that the example clients (download,
// seed, stream, magnet2torrent) share.
package exdht

import (
	"context"
	"fmt"
	"net"
	"time"

	"github.com/bittern/bittern"
	"github.com/bittern/bittern/dht"
)

// BootstrapTimeout bounds the DHT bootstrap before the torrent starts.
const BootstrapTimeout = 10 * time.Second

// Start runs a DHT node on the UDP address addr (or, if that port is
// taken, another port on its host) and bootstraps it from
// bootstrap (nil: the public routers), waiting at most BootstrapTimeout.
// A failed bootstrap is reported with printf and is not fatal: the node keeps
// trying as other nodes contact it, and other peer sources still work.
// The caller closes the node after the Session that uses it.
func Start(ctx context.Context, addr string, bootstrap []string, printf func(format string, args ...any)) (*dht.Server, error) {
	pc, err := net.ListenPacket("udp", addr)
	if err != nil {
		// The port is taken for UDP: any other will do.
		host, _, _ := net.SplitHostPort(addr)
		if pc, err = net.ListenPacket("udp", net.JoinHostPort(host, "0")); err != nil {
			return nil, fmt.Errorf("dht: %w", err)
		}
	}
	srv, err := dht.NewServer(pc, &dht.Config{BootstrapNodes: bootstrap})
	if err != nil {
		pc.Close()
		return nil, err
	}
	bctx, cancel := context.WithTimeout(ctx, BootstrapTimeout)
	defer cancel()
	if err := srv.Bootstrap(bctx); err != nil && ctx.Err() == nil {
		printf("dht: bootstrap: %v (continuing)\n", err)
	}
	st := srv.Stats()
	printf("dht: %d nodes, listening on %v\n", st.Nodes+st.Nodes6, srv.Addr())
	return srv, nil
}

// Attach makes cfg's session listen for peers on the TCP address listen
// and gives it a DHT node on the same port over UDP, as clients usually
// do: it listens first, so that an ephemeral port is known, then starts
// the node with Start. The Session closes the listener; the caller closes
// the returned node after the Session.
//
// With cfg.UTP set the Session owns that UDP port (uTP shares it with the
// DHT), so Attach only asks it to run its own node there, bootstrapped in
// the background, and returns a nil node.
func Attach(ctx context.Context, cfg *bittern.Config, listen string, bootstrap []string, printf func(format string, args ...any)) (*dht.Server, error) {
	if cfg.UTP {
		cfg.ListenAddr, cfg.DHTListenAddr = listen, listen
		cfg.DHTConfig = &dht.Config{BootstrapNodes: bootstrap}
		printf("dht: on the session's uTP socket\n")
		return nil, nil
	}
	ln, err := net.Listen("tcp", listen)
	if err != nil {
		return nil, err
	}
	node, err := Start(ctx, ln.Addr().String(), bootstrap, printf)
	if err != nil {
		ln.Close()
		return nil, err
	}
	cfg.Listener, cfg.DHT = ln, node
	return node, nil
}
