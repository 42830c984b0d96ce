package memnet_test

import (
	"fmt"
	"net/netip"

	"github.com/bittern/bittern/internal/memnet"
)

func ExampleNetwork() {
	network := memnet.New(nil)
	a, _ := network.Listen(netip.MustParseAddrPort("10.0.0.1:6881"))
	defer a.Close()
	b, _ := network.Listen(netip.MustParseAddrPort("10.0.0.2:6881"))
	defer b.Close()

	_, _ = a.WriteTo([]byte("hello"), b.LocalAddr())
	buf := make([]byte, 1500)
	n, from, _ := b.ReadFrom(buf)
	fmt.Printf("%s from %v\n", buf[:n], from)
	// Output:
	// hello from 10.0.0.1:6881
}
