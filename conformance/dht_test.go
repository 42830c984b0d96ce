//go:build interop

package conformance

import (
	"context"
	"crypto/ed25519"
	"crypto/sha512"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bittern/bittern/bencode"
	"github.com/bittern/bittern/dht"
	"github.com/bittern/bittern/metainfo"
)

// TestDHTLibtorrent runs our DHT node on loopback with two libtorrent
// sessions: each side pings and finds the other (we ping libtorrent and
// find_node its ID; libtorrent pings us and has our ID and address in its
// routing table), libtorrent announces and
// we find it with get_peers, we announce and libtorrent finds us (and
// samples it to us, BEP 51), and BEP 44 immutable and mutable items put by
// either side are got by the other.
func TestDHTLibtorrent(t *testing.T) {
	ourPort, portA, portB := freePort(t, "udp"), freePort(t, "udp"), freePort(t, "udp")
	conn, err := net.ListenPacket("udp4", fmt.Sprintf("127.0.0.1:%d", ourPort))
	if err != nil {
		t.Fatal(err)
	}
	sniff := newSniffConn(conn)
	s, err := dht.NewServer(sniff, &dht.Config{BootstrapNodes: []string{},
		Logger: slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	defer func() {
		if t.Failed() {
			t.Logf("our stats: %+v", s.Stats())
		}
	}()

	ihLT := metainfo.Hash(dht.RandomID())
	ihGo := metainfo.Hash(dht.RandomID())
	goValue := bencode.AppendString(nil, "bittern interop: put by us")
	goTarget := dht.ImmutableTarget(goValue)
	goPub, goPriv, _ := ed25519.GenerateKey(nil)
	ltPub, ltPriv, _ := ed25519.GenerateKey(nil)
	goSalt, ltSalt := []byte("go salt"), []byte("lt salt")
	p := startPython(t, dhtLibtorrentScript, fmt.Sprint(ourPort), fmt.Sprint(portA), fmt.Sprint(portB),
		ihLT.String(), ihGo.String(), goTarget.String(), "90",
		hex.EncodeToString(goPub), hex.EncodeToString(goSalt),
		hex.EncodeToString(expandedSecretKey(ltPriv)), hex.EncodeToString(ltPub), hex.EncodeToString(ltSalt))
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	local := func(port int) netip.AddrPort {
		return netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), uint16(port))
	}

	// libtorrent bootstraps from us: both sessions enter our table.
	waitFor(t, 30*time.Second, "both libtorrent nodes in our routing table", func() bool { return s.Stats().Nodes >= 2 })
	// We ping libtorrent and find it.
	idA, err := s.Ping(ctx, local(portA))
	if err != nil {
		t.Fatalf("ping libtorrent: %v", err)
	}
	closest, err := s.FindNode(ctx, idA)
	if err != nil || len(closest) == 0 || closest[0].ID != idA || closest[0].Addr != local(portA) {
		t.Fatalf("find_node for libtorrent's ID %v: %v %v", idA, closest, err)
	}
	// libtorrent pings us and finds us. libtorrent 2.0.8 never sends the
	// "ping" method: add_dht_node and its checks of questionable nodes send
	// a get_peers for a random target instead, and a node enters its
	// routing table only by answering one. Both sessions must list our ID
	// at our address among their live nodes (dht_live_nodes).
	ourID := s.ID()
	for _, name := range []string{"A", "B"} {
		liveRe := regexp.MustCompile(`(?m)^LIVE ` + name + ` .*` + ourID.String() + `@127\.0\.0\.1:` + fmt.Sprint(ourPort) + `\b`)
		waitFor(t, 30*time.Second, "our node in libtorrent "+name+"'s routing table", func() bool { return liveRe.MatchString(p.Log()) })
	}
	t.Logf("libtorrent's queries to us so far: A %v, B %v", sniff.queriesFrom(local(portA)), sniff.queriesFrom(local(portB)))
	waitFor(t, 30*time.Second, "libtorrent's routing table to hold nodes", func() bool {
		return regexp.MustCompile(`(?m)^STATS A [1-9]`).MatchString(p.Log())
	})

	// libtorrent announces ihLT (as a torrent on port A); we find it.
	var mu sync.Mutex
	found := map[netip.AddrPort]bool{}
	waitFor(t, 40*time.Second, "get_peers to find libtorrent's announce", func() bool {
		_, err := s.GetPeers(ctx, ihLT, func(a netip.AddrPort) { mu.Lock(); found[a] = true; mu.Unlock() })
		if err != nil {
			t.Logf("get_peers: %v", err)
		}
		mu.Lock()
		defer mu.Unlock()
		return found[local(portA)]
	})

	// We announce ihGo; libtorrent's get_peers finds us.
	n, err := s.Announce(ctx, ihGo, 6881, false, false, nil)
	if err != nil {
		t.Fatalf("announce: %v", err)
	}
	t.Logf("announce accepted by %d libtorrent nodes", n)
	wantPeers := regexp.MustCompile(`(?m)^PEERS A ` + ihGo.String() + ` .*127\.0\.0\.1:6881`)
	waitFor(t, 30*time.Second, "libtorrent to find our announce", func() bool { return wantPeers.MatchString(p.Log()) })

	// BEP 44: libtorrent's item is got by us.
	targetRe := regexp.MustCompile(`(?m)^PUT_TARGET ([0-9a-f]{40})`)
	waitFor(t, 30*time.Second, "libtorrent's put", func() bool {
		return targetRe.MatchString(p.Log()) && strings.Contains(p.Log(), "\nPUT A ")
	})
	ltTarget, err := dht.ParseID(targetRe.FindStringSubmatch(p.Log())[1])
	if err != nil {
		t.Fatal(err)
	}
	v, err := s.GetImmutable(ctx, ltTarget)
	if err != nil {
		t.Fatalf("get libtorrent's item: %v", err)
	}
	if want := "34:bittern interop: put by libtorrent"; string(v) != want {
		t.Fatalf("libtorrent's item = %q, want %q", v, want)
	}
	// Our item is got by libtorrent.
	if _, n, err := s.PutImmutable(ctx, goValue); err != nil {
		t.Fatalf("put: %v", err)
	} else {
		t.Logf("put stored on %d libtorrent nodes", n)
	}
	waitFor(t, 30*time.Second, "libtorrent to get our item", func() bool {
		return strings.Contains(p.Log(), "ITEM A "+goTarget.String()+" b'bittern interop: put by us'")
	})

	// BEP 51: libtorrent stores our announce and samples it to us.
	waitFor(t, 30*time.Second, "libtorrent's sample_infohashes to include our announce", func() bool {
		r, err := s.SampleInfohashes(ctx, local(portB), dht.RandomID())
		if err != nil {
			t.Logf("sample_infohashes: %v", err)
			return false
		}
		for _, ih := range r.Samples {
			if ih == dht.ID(ihGo) {
				return true
			}
		}
		return false
	})

	// BEP 44 mutable items, both ways.
	if _, n, err := s.PutMutable(ctx, goPriv, goSalt, 7, bencode.AppendString(nil, "mutable put by us"), nil); err != nil {
		t.Fatalf("put mutable: %v", err)
	} else {
		t.Logf("mutable put stored on %d libtorrent nodes", n)
	}
	waitFor(t, 30*time.Second, "libtorrent to get our mutable item", func() bool {
		return strings.Contains(p.Log(), "MITEM A "+hex.EncodeToString(goPub)+" 7 b'mutable put by us'")
	})
	waitFor(t, 30*time.Second, "us to get libtorrent's mutable item", func() bool {
		it, err := s.GetMutable(ctx, ltPub, ltSalt)
		return err == nil && string(it.V) == "25:mutable put by libtorrent"
	})
}

// expandedSecretKey returns the 64-byte ed25519 secret key form libtorrent
// (like ref10) takes: SHA-512 of the seed, clamped.
func expandedSecretKey(priv ed25519.PrivateKey) []byte {
	h := sha512.Sum512(priv.Seed())
	h[0] &= 248
	h[31] &= 127
	h[31] |= 64
	return h[:]
}

// TestDHTAria2 has aria2, a second independent DHT implementation, look up
// a magnet link's peers through our node: one of our nodes announces a
// TCP port, aria2 bootstraps from another and dials that port. With no
// tracker, local peer discovery or PEX, only the DHT can have told it.
func TestDHTAria2(t *testing.T) {
	ourPort := freePort(t, "udp")
	conn, err := net.ListenPacket("udp4", fmt.Sprintf("127.0.0.1:%d", ourPort))
	if err != nil {
		t.Fatal(err)
	}
	s, err := dht.NewServer(conn, &dht.Config{BootstrapNodes: []string{}})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	conn2, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	announcer, err := dht.NewServer(conn2, &dht.Config{BootstrapNodes: []string{fmt.Sprintf("127.0.0.1:%d", ourPort)}})
	if err != nil {
		t.Fatal(err)
	}
	defer announcer.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := announcer.Bootstrap(ctx); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	ih := metainfo.Hash(dht.RandomID())
	if _, err := announcer.Announce(ctx, ih, ln.Addr().(*net.TCPAddr).Port, false, false, nil); err != nil {
		t.Fatal(err)
	}

	dir := t.TempDir()
	startProc(t, "/usr/bin/aria2c", "--enable-dht=true", "--enable-dht6=false",
		fmt.Sprintf("--dht-listen-port=%d", freePort(t, "udp")),
		fmt.Sprintf("--dht-entry-point=127.0.0.1:%d", ourPort),
		"--dht-file-path="+dir+"/dht.dat", "--bt-enable-lpd=false", "--enable-peer-exchange=false",
		fmt.Sprintf("--listen-port=%d", freePort(t, "tcp")), "--summary-interval=0", "-d", dir,
		"magnet:?xt=urn:btih:"+ih.String())
	accepted := make(chan error, 1)
	go func() {
		c, err := ln.Accept()
		if err == nil {
			c.Close()
		}
		accepted <- err
	}()
	select {
	case err := <-accepted:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(45 * time.Second):
		t.Fatalf("aria2 never dialled the peer announced in our DHT; our stats %+v", s.Stats())
	}
	if st := s.Stats(); st.QueriesIn == 0 {
		t.Fatalf("aria2 never queried our node: %+v", st)
	}
}

// TestDHTLibtorrentIPv6 runs the same exchange over ::1 (BEP 32): nodes
// travel as nodes6, peers as 18-byte compact addresses.
func TestDHTLibtorrentIPv6(t *testing.T) {
	ln, err := net.ListenPacket("udp6", "[::1]:0")
	if err != nil {
		t.Fatal(err)
	}
	ourPort := ln.LocalAddr().(*net.UDPAddr).Port
	s, err := dht.NewServer(ln, &dht.Config{BootstrapNodes: []string{}})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	probe, err := net.ListenPacket("udp6", "[::1]:0")
	if err != nil {
		t.Fatal(err)
	}
	ltPort := probe.LocalAddr().(*net.UDPAddr).Port
	probe.Close()

	ihLT := metainfo.Hash(dht.RandomID())
	ihGo := metainfo.Hash(dht.RandomID())
	p := startPython(t, dhtLibtorrentV6Script, fmt.Sprint(ourPort), fmt.Sprint(ltPort), ihLT.String(), ihGo.String(), "60")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	ltAddr := netip.AddrPortFrom(netip.IPv6Loopback(), uint16(ltPort))

	waitFor(t, 30*time.Second, "libtorrent in our IPv6 routing table", func() bool { return s.Stats().Nodes6 >= 1 })
	if _, err := s.Ping(ctx, ltAddr); err != nil {
		t.Fatalf("ping libtorrent over IPv6: %v", err)
	}
	var mu sync.Mutex
	found := map[netip.AddrPort]bool{}
	waitFor(t, 30*time.Second, "get_peers to find libtorrent's IPv6 announce", func() bool {
		_, _ = s.GetPeers(ctx, ihLT, func(a netip.AddrPort) { mu.Lock(); found[a] = true; mu.Unlock() })
		mu.Lock()
		defer mu.Unlock()
		return found[ltAddr]
	})
	// A second node of ours joins, so that the announce is stored by
	// someone libtorrent asks (a node does not look in its own store).
	ln2, err := net.ListenPacket("udp6", "[::1]:0")
	if err != nil {
		t.Fatal(err)
	}
	s2, err := dht.NewServer(ln2, &dht.Config{BootstrapNodes: []string{fmt.Sprintf("[::1]:%d", ourPort)}})
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	if err := s2.Bootstrap(ctx); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "our second node verified in our table", func() bool { return len(s.Nodes()) >= 2 })
	if n, err := s.Announce(ctx, ihGo, 6881, false, false, nil); err != nil || n < 2 {
		t.Fatalf("announce over IPv6: %d nodes, %v", n, err)
	}
	want := "PEERS " + ihGo.String() + " "
	waitFor(t, 30*time.Second, "libtorrent to find our IPv6 announce", func() bool {
		for _, line := range strings.Split(p.Log(), "\n") {
			if strings.HasPrefix(line, want) && strings.Contains(line, "[::1]:6881") {
				return true
			}
		}
		return false
	})
}
