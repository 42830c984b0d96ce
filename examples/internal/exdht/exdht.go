// Package exdht starts the DHT node that examples/download and
// examples/seed share.
package exdht

import (
	"context"
	"fmt"
	"net"
	"time"

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
