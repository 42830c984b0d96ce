// Command download fetches a torrent with a bittern Session and exits once
// every piece is downloaded and verified.
//
//	download [-o DIR] [-peer HOST:PORT]... [-listen ADDR] [-no-dht]
//	    [-dht-bootstrap HOST:PORT]... [-no-trackers]
//	    [-encryption required|preferred|off|accept] [-utp] [-seed] [-timeout D]
//	    FILE.torrent|MAGNET
//
// Data already in DIR is checked first, so an interrupted download resumes.
// On a terminal a progress bar is redrawn in place; otherwise a plain
// progress line is printed every few seconds. With -seed it keeps seeding
// after completion until the timeout or a signal (SIGINT, SIGTERM).
//
// Exit status: 0 when complete and verified (or, with -seed, when stopped
// after completing); 1 when the download failed or stopped before completing,
// with the reason on standard error; 2 for bad usage or a feature this
// version of bittern does not support yet.
//
// Peers come from -peer, the torrent's trackers (unless -no-trackers), the
// DHT (unless -no-dht; its UDP port is -listen's, bootstrapped from the
// public routers or -dht-bootstrap nodes) and, for a magnet link, its "tr"
// trackers and "x.pe" peers; the metadata of a magnet link is fetched from
// those peers (BEP 9). -encryption sets the MSE/PE policy: required (MSE
// only), preferred (dial with MSE, fall back to plaintext), off (plaintext
// only) or accept, the default (dial in plaintext, accept either).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
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

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("download", flag.ContinueOnError)
	fs.SetOutput(stderr)
	out := fs.String("o", ".", "directory to download into")
	var peers exflag.Peers
	fs.Var(&peers, "peer", "a peer to connect to, `HOST:PORT` (repeatable)")
	listen := fs.String("listen", bittern.DefaultListenAddr, "TCP address to accept peers on")
	noDHT := fs.Bool("no-dht", false, "do not use the DHT")
	var bootstrap exflag.Strings
	fs.Var(&bootstrap, "dht-bootstrap", "a DHT node to bootstrap from, `HOST:PORT` (repeatable; default: the public routers)")
	noTrackers := fs.Bool("no-trackers", false, "do not announce to trackers")
	encryption := fs.String("encryption", "accept", "peer encryption (MSE/PE): required, preferred, off, or accept (dial in plaintext, accept both)")
	useUTP := fs.Bool("utp", false, "also accept and dial peers over uTP (BEP 29) on the UDP port of -listen")
	seed := fs.Bool("seed", false, "keep seeding after completion until the timeout or a signal")
	timeout := fs.Duration("timeout", 0, "give up (or, with -seed, stop seeding) after this long; 0 means never")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "usage: download [-o DIR] [-peer HOST:PORT]... [-listen ADDR] [-no-dht] [-dht-bootstrap HOST:PORT]... [-no-trackers] [-encryption required|preferred|off|accept] [-utp] [-seed] [-timeout D] FILE.torrent|MAGNET")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	err := download(ctx, &config{
		out: *out, peers: peers, listen: *listen, noTrackers: *noTrackers, noDHT: *noDHT, bootstrap: bootstrap,
		encryption: *encryption, utp: *useUTP, seed: *seed, timeout: *timeout, args: fs.Args(),
	}, newProgress(stdout))
	switch {
	case err == nil:
		return 0
	case errors.Is(err, errUsage):
		fmt.Fprintln(stderr, "download:", strings.TrimSuffix(err.Error(), ": "+errUsage.Error()))
		return 2
	default:
		fmt.Fprintln(stderr, "download:", err)
		return 1
	}
}

type config struct {
	out        string
	peers      []netip.AddrPort
	listen     string
	noTrackers bool
	noDHT      bool
	bootstrap  []string
	encryption string
	utp        bool
	seed       bool
	timeout    time.Duration
	args       []string
}

func download(ctx context.Context, c *config, p *progress) error {
	if len(c.args) != 1 {
		return fmt.Errorf("want one FILE.torrent or MAGNET argument, got %d: %w", len(c.args), errUsage)
	}
	enc, ok := exflag.Encryptions[c.encryption]
	if !ok {
		return fmt.Errorf("-encryption %q: want required, preferred, off or accept: %w", c.encryption, errUsage)
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
	if len(c.peers) == 0 && c.noDHT && !hasPeerSource(mi, magnet, c.noTrackers) {
		return fmt.Errorf("no peers: give -peer HOST:PORT, or use the DHT, or a torrent or magnet with trackers or x.pe peers: %w", errUsage)
	}

	if c.timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, c.timeout)
		defer cancel()
	}
	cfg := &bittern.Config{DataDir: c.out, ListenAddr: c.listen, NoTrackers: c.noTrackers, Encryption: enc, UTP: c.utp}
	if !c.noDHT {
		node, err := exdht.Attach(ctx, cfg, c.listen, c.bootstrap, p.printf)
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
	start := time.Now()
	opts := &bittern.TorrentOptions{Peers: c.peers}
	var t *bittern.Torrent
	if magnet != nil {
		p.printf("fetching metadata for %s, listening on %v\n", magnet.SwarmHash(), s.Addr())
		t, err = s.AddMagnet(ctx, src, opts)
	} else {
		t, err = s.AddTorrent(ctx, mi, opts)
	}
	if errors.Is(err, bittern.ErrUnsupported) {
		return fmt.Errorf("not supported yet: %v: %w", err, errUsage)
	}
	if err != nil {
		if ctx.Err() != nil {
			return fmt.Errorf("stopped (%v) after %v: %w", context.Cause(ctx), time.Since(start).Round(time.Second), err)
		}
		return err
	}
	info := t.MetaInfo().Info()
	p.printf("%s: %d bytes in %d pieces, listening on %v\n", info.Name, info.TotalLength(), info.NumPieces(), s.Addr())
	if err := p.follow(ctx, t, t.Complete()); err != nil {
		st := t.Stats()
		return fmt.Errorf("stopped (%v) after %v with %d of %d pieces verified", context.Cause(ctx), time.Since(start).Round(time.Second), st.PiecesHave, st.Pieces)
	}
	// Complete is closed only once every piece is verified.
	st := t.Stats()
	elapsed := time.Since(start)
	p.printf("complete: %s, %d bytes verified in %v (%s/s), %d bytes wasted\n",
		info.Name, st.Length, elapsed.Round(time.Millisecond), size(float64(st.Downloaded)/elapsed.Seconds()), st.Wasted)
	if !c.seed {
		return nil
	}
	p.printf("seeding\n")
	p.follow(ctx, t, nil)
	p.printf("stopped seeding (%v): uploaded %d bytes\n", context.Cause(ctx), t.Stats().Uploaded)
	return nil
}

// hasPeerSource reports whether the torrent or magnet link names a way to
// find peers other than -peer: trackers (unless noTrackers) or x.pe hints.
func hasPeerSource(mi *metainfo.MetaInfo, m *metainfo.Magnet, noTrackers bool) bool {
	if m != nil {
		return len(m.Peers) > 0 || (!noTrackers && len(m.Trackers) > 0)
	}
	return !noTrackers && trackerURLs(mi) > 0
}

// trackerURLs counts the announce URLs of mi's tiers.
func trackerURLs(mi *metainfo.MetaInfo) int {
	n := 0
	for _, tier := range mi.Trackers() {
		n += len(tier)
	}
	return n
}
