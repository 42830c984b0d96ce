package dht_test

import (
	"context"
	"fmt"
	"log"
	"net"
	"net/netip"
	"time"

	"github.com/bittern/bittern/dht"
	"github.com/bittern/bittern/metainfo"
)

// Join the public DHT from its bootstrap routers, look up the peers of a
// torrent and announce that we have it too. Compiled, not run: it needs
// the internet. A node is best kept running for the life of the program,
// with its routing table (Nodes) saved for the next start (Config.Nodes).
func ExampleNewServer() {
	pc, err := net.ListenPacket("udp", ":6881") // usually the TCP port peers dial
	if err != nil {
		log.Fatal(err)
	}
	node, err := dht.NewServer(pc, nil) // nil: bootstrap from dht.DefaultBootstrapNodes
	if err != nil {
		log.Fatal(err)
	}
	defer node.Close() // also closes pc

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := node.Bootstrap(ctx); err != nil {
		log.Fatal(err)
	}
	st := node.Stats()
	fmt.Println("routing table:", st.Nodes, "IPv4 nodes,", st.Nodes6, "IPv6 nodes")

	ih, err := metainfo.ParseHash("dd8255ecdc7ca55fb0bbf81323d87062db1f6d1c")
	if err != nil {
		log.Fatal(err)
	}
	lookup, err := node.GetPeers(ctx, ih, func(p netip.AddrPort) {
		fmt.Println("peer", p) // called as peers arrive, on this goroutine
	})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(lookup.Replied, "of", lookup.Queried, "nodes answered in", lookup.RoundTrips, "round trips")

	// We accept peers on TCP port 6881: tell the nodes closest to ih.
	n, err := node.Announce(ctx, ih, 6881, false, false, nil)
	fmt.Println("announced to", n, "nodes", err)
}
