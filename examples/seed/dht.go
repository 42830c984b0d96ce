package main

import (
	"context"
	"fmt"
	"net"
	"time"

	"github.com/bittern/bittern/dht"
)

// bootstrapTimeout bounds the DHT bootstrap before the torrent starts.
const bootstrapTimeout = 10 * time.Second

// startDHT runs a DHT node on the UDP address addr (or, if that port is
// taken, another port on its host) and bootstraps it from
// bootstrap (nil: the public routers), waiting at most bootstrapTimeout.
// A failed bootstrap is reported with st and is not fatal: the node keeps
// trying as other nodes contact it, and other peer sources still work.
// The caller closes the node after the Session that uses it.
func startDHT(ctx context.Context, addr string, bootstrap []string, st *status) (*dht.Server, error) {
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
	bctx, cancel := context.WithTimeout(ctx, bootstrapTimeout)
	defer cancel()
	if err := srv.Bootstrap(bctx); err != nil && ctx.Err() == nil {
		st.printf("dht: bootstrap: %v (continuing)\n", err)
	}
	ds := srv.Stats()
	st.printf("dht: %d nodes, listening on %v\n", ds.Nodes+ds.Nodes6, srv.Addr())
	return srv, nil
}
