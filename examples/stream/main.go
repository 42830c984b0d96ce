// Command stream serves the files of a torrent over HTTP while it
// downloads: a request reads the file through a bittern Reader, which
// waits for the bytes it needs and moves the download to them, so a video
// player can start at once and seek anywhere.
//
//	stream [-listen ADDR] [-bt-listen ADDR] [-o DIR] [-peer HOST:PORT]...
//	    [-no-dht] [-dht-bootstrap HOST:PORT]... [-no-trackers]
//	    [-timeout D] FILE.torrent|MAGNET
//
// Each file is served at http://ADDR/<index>/<name> with
// http.ServeContent (Range requests, If-Range, HEAD), and listed at
// http://ADDR/. The URLs are printed once the torrent is added (for a
// magnet link, once its metadata has arrived). The whole torrent keeps
// downloading in the background, pieces under a reader first; data
// already in DIR is checked first and served at once.
//
// It serves until the timeout (0: never) or a signal (SIGINT, SIGTERM).
// Exit status: 0 when stopped that way; 1 when it failed, with the reason
// on standard error; 2 for bad usage.
//
// Peers come from -peer, the torrent's trackers (unless -no-trackers), the
// DHT (unless -no-dht; its UDP port is -bt-listen's, bootstrapped from the
// public routers or -dht-bootstrap nodes) and, for a magnet link, its "tr"
// trackers and "x.pe" peers. A magnet link's BEP 53 "so=" selects the
// files to download and serve; the others answer 404.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/bittern/bittern"
	"github.com/bittern/bittern/examples/internal/exdht"
	"github.com/bittern/bittern/examples/internal/exflag"
	"github.com/bittern/bittern/metainfo"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// errUsage marks errors that exit with status 2.
var errUsage = errors.New("usage")

const usage = "usage: stream [-listen ADDR] [-bt-listen ADDR] [-o DIR] [-peer HOST:PORT]... [-no-dht] [-dht-bootstrap HOST:PORT]... [-no-trackers] [-timeout D] FILE.torrent|MAGNET"

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("stream", flag.ContinueOnError)
	fs.SetOutput(stderr)
	c := &config{}
	fs.StringVar(&c.listen, "listen", "127.0.0.1:8080", "HTTP address to serve the files on")
	fs.StringVar(&c.btListen, "bt-listen", bittern.DefaultListenAddr, "TCP address to accept peers on")
	fs.StringVar(&c.out, "o", ".", "directory to download into")
	fs.Var((*exflag.Peers)(&c.peers), "peer", "a peer to connect to, `HOST:PORT` (repeatable)")
	fs.BoolVar(&c.noDHT, "no-dht", false, "do not use the DHT")
	fs.Var((*exflag.Strings)(&c.bootstrap), "dht-bootstrap", "a DHT node to bootstrap from, `HOST:PORT` (repeatable; default: the public routers)")
	fs.BoolVar(&c.noTrackers, "no-trackers", false, "do not announce to trackers")
	fs.DurationVar(&c.timeout, "timeout", 0, "stop serving after this long; 0 means never")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), usage)
		fmt.Fprintln(fs.Output(), "Serves each file of the torrent at http://ADDR/<index>/<name> while it downloads.")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	c.args = fs.Args()
	err := stream(ctx, c, stdout)
	switch {
	case err == nil:
		return 0
	case errors.Is(err, errUsage):
		fmt.Fprintln(stderr, "stream:", strings.TrimSuffix(err.Error(), ": "+errUsage.Error()))
		return 2
	default:
		fmt.Fprintln(stderr, "stream:", err)
		return 1
	}
}

type config struct {
	listen     string
	btListen   string
	out        string
	peers      []netip.AddrPort
	noDHT      bool
	bootstrap  []string
	noTrackers bool
	timeout    time.Duration
	args       []string
}

// stream adds the torrent, serves its files until ctx ends, and shuts
// everything down.
func stream(ctx context.Context, c *config, stdout io.Writer) error {
	if len(c.args) != 1 {
		return fmt.Errorf("want one FILE.torrent or MAGNET argument, got %d: %w", len(c.args), errUsage)
	}
	src := c.args[0]
	var (
		mi     *metainfo.MetaInfo
		magnet *metainfo.Magnet
		err    error
	)
	if strings.HasPrefix(strings.ToLower(src), "magnet:") {
		magnet, err = metainfo.ParseMagnet(src)
	} else {
		mi, err = metainfo.LoadFile(src)
	}
	if err != nil {
		return err
	}
	if c.timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, c.timeout)
		defer cancel()
	}
	printf := func(format string, args ...any) { fmt.Fprintf(stdout, format, args...) }

	hl, err := net.Listen("tcp", c.listen)
	if err != nil {
		return err
	}
	defer hl.Close()
	cfg := &bittern.Config{DataDir: c.out, ListenAddr: c.btListen, NoTrackers: c.noTrackers}
	if !c.noDHT {
		node, err := exdht.Attach(ctx, cfg, c.btListen, c.bootstrap, printf)
		if err != nil {
			return err
		}
		if node != nil {
			defer node.Close() // after the Session's Close, deferred below
		}
	}
	s, err := bittern.NewSession(cfg)
	if err != nil {
		return err
	}
	defer s.Close()
	opts := &bittern.TorrentOptions{Peers: c.peers}
	var t *bittern.Torrent
	if magnet != nil {
		printf("fetching metadata for %s\n", magnet.SwarmHash())
		t, err = s.AddMagnet(ctx, src, opts)
	} else {
		t, err = s.AddTorrent(ctx, mi, opts)
	}
	if errors.Is(err, bittern.ErrUnsupported) {
		return fmt.Errorf("not supported yet: %v: %w", err, errUsage)
	}
	if err != nil {
		if ctx.Err() != nil {
			return nil // stopped before the torrent was added
		}
		return err
	}
	base := "http://" + hl.Addr().String()
	info := t.MetaInfo().Info()
	printf("%s: %d bytes in %d files, peers on %v\n", info.Name, info.TotalLength(), len(info.Files), s.Addr())
	for _, f := range t.Files() {
		if servable(f) {
			printf("%s%s\n", base, filePath(f))
		}
	}
	printf("serving on %s until stopped\n", base)
	return serve(ctx, hl, newHandler(t))
}
