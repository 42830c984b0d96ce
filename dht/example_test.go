package dht_test

import (
	"context"
	"fmt"
	"net/netip"
	"time"

	"github.com/bittern/bittern/dht"
	"github.com/bittern/bittern/internal/memnet"
	"github.com/bittern/bittern/metainfo"
)

// Two nodes on an in-memory network: one announces a torrent, the other
// finds it. With a real network, pass a UDP socket and bootstrap nodes.
func Example() {
	network := memnet.New(nil)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	connA, _ := network.Listen(netip.MustParseAddrPort("10.0.0.1:6881"))
	a, _ := dht.NewServer(connA, &dht.Config{BootstrapNodes: []string{}})
	defer a.Close()
	connB, _ := network.Listen(netip.MustParseAddrPort("10.0.0.2:6881"))
	b, _ := dht.NewServer(connB, &dht.Config{BootstrapNodes: []string{"10.0.0.1:6881"}})
	defer b.Close()
	if err := b.Bootstrap(ctx); err != nil {
		fmt.Println(err)
		return
	}

	ih, _ := metainfo.ParseHash("0123456789abcdef0123456789abcdef01234567")
	if _, err := b.Announce(ctx, ih, 51413, false, false, nil); err != nil {
		fmt.Println(err)
		return
	}
	_ = a.FindPeers(ctx, ih, func(p netip.AddrPort) { fmt.Println("peer", p) })
	// Output:
	// peer 10.0.0.2:51413
}

// Items: an immutable value is addressed by the SHA-1 of its bencoding.
func ExampleImmutableTarget() {
	fmt.Println(dht.ImmutableTarget([]byte("12:Hello World!")))
	// Output:
	// e5f96f6f38320f0f33959cb4d3d656452117aadb
}
