// Command anacrolix is the anacrolix/torrent (v1.62.0) side of examples/bench:
// it runs a seeder or a leecher speaking the same line protocol as bench's
// own children, so the bench measures all implementations the same way.
//
//	anacrolix seed  -torrent T -data DIR   prints "listening PORT", serves until stdin closes
//	anacrolix leech -torrent T -data DIR -peer 127.0.0.1:PORT
//	                                       prints "done NANOSECONDS" once complete
//
// It lives in its own module so that bittern's go.mod never depends on it.
// uTP is off: the go-utp version anacrolix/torrent pins is not served by the
// module proxy, so go.mod replaces it with the stub in ./utpstub.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"strconv"
	"time"

	"github.com/anacrolix/torrent"
	"github.com/anacrolix/torrent/metainfo"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: anacrolix seed|leech -torrent T -data DIR [-peer ADDR]")
		os.Exit(2)
	}
	role := os.Args[1]
	fs := flag.NewFlagSet(role, flag.ExitOnError)
	torrentPath := fs.String("torrent", "", "the .torrent file")
	data := fs.String("data", "", "data directory")
	peer := fs.String("peer", "", "seeder address (leech)")
	timeout := fs.Duration("timeout", 30*time.Minute, "give up after this long")
	fs.Parse(os.Args[2:])
	if err := run(role, *torrentPath, *data, *peer, *timeout); err != nil {
		fmt.Fprintln(os.Stderr, "anacrolix:", err)
		os.Exit(1)
	}
}

func run(role, torrentPath, data, peer string, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	mi, err := metainfo.LoadFromFile(torrentPath)
	if err != nil {
		return err
	}
	cfg := torrent.NewDefaultClientConfig()
	cfg.DataDir = data
	cfg.ListenHost = func(string) string { return "127.0.0.1" }
	cfg.ListenPort = 0
	cfg.NoDHT = true
	cfg.DisableUTP = true
	cfg.DisableTrackers = true
	cfg.DisablePEX = true
	cfg.DisableIPv6 = true
	cfg.DisableWebseeds = true
	cfg.DisableWebtorrent = true
	cfg.HeaderObfuscationPolicy = torrent.HeaderObfuscationPolicy{Preferred: false, RequirePreferred: true}
	cfg.Seed = true
	cfg.Slogger = slog.New(slog.NewTextHandler(io.Discard, nil))
	cl, err := torrent.NewClient(cfg)
	if err != nil {
		return err
	}
	defer cl.Close()

	switch role {
	case "seed":
		t, err := cl.AddTorrent(mi)
		if err != nil {
			return err
		}
		if err := t.VerifyDataContext(ctx); err != nil {
			return err
		}
		if t.BytesCompleted() != t.Length() {
			return fmt.Errorf("seed data incomplete: %d of %d bytes", t.BytesCompleted(), t.Length())
		}
		fmt.Printf("listening %d\n", cl.LocalPort())
		done := make(chan struct{})
		go func() { io.Copy(io.Discard, os.Stdin); close(done) }()
		select {
		case <-done:
		case <-ctx.Done():
			return ctx.Err()
		}
		return nil
	case "leech":
		host, portStr, err := net.SplitHostPort(peer)
		if err != nil {
			return err
		}
		port, err := strconv.Atoi(portStr)
		if err != nil {
			return err
		}
		start := time.Now()
		t, err := cl.AddTorrent(mi)
		if err != nil {
			return err
		}
		t.AddPeers([]torrent.PeerInfo{{Addr: torrent.PeerRemoteAddr(&net.TCPAddr{IP: net.ParseIP(host), Port: port}), Trusted: true}})
		t.DownloadAll()
		select {
		case <-t.Complete().On():
		case <-ctx.Done():
			return fmt.Errorf("%w: %d of %d bytes", ctx.Err(), t.BytesCompleted(), t.Length())
		}
		fmt.Printf("done %d\n", time.Since(start).Nanoseconds())
		return nil
	}
	return fmt.Errorf("unknown role %q", role)
}
