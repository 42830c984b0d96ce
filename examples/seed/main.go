// Command seed serves a torrent's data to peers with a bittern Session.
//
//	seed -listen ADDR [-no-dht] [-dht-bootstrap HOST:PORT]... [-no-trackers]
//	    [-encryption required|preferred|off|accept] [-utp] [-timeout D]
//	    -data DIR FILE.torrent
//
// It checks the data in DIR against the torrent's piece hashes, prints
// "seeding NAME on ADDR" once every piece is verified, and serves until the
// timeout or a signal (SIGINT, SIGTERM), printing what it uploaded: a status
// line redrawn in place on a terminal, a plain line every few seconds
// otherwise.
//
// Exit status: 0 when stopped by the timeout or a signal after seeding;
// 1 when the data is incomplete or something failed, with the reason on
// standard error; 2 for bad usage or a feature this version of bittern does
// not support yet.
//
// It announces itself to the torrent's trackers (unless -no-trackers) and
// to the DHT (unless -no-dht; its UDP port is -listen's, bootstrapped from the
// public routers or -dht-bootstrap nodes); leechers may also connect to ADDR
// directly. -encryption sets the MSE/PE policy: required (MSE only),
// preferred (dial with MSE, fall back to plaintext), off (plaintext only) or
// accept, the default (dial in plaintext, accept either).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
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
	fs := flag.NewFlagSet("seed", flag.ContinueOnError)
	fs.SetOutput(stderr)
	listen := fs.String("listen", "", "TCP address to accept peers on, `ADDR` (required; port 0 picks one)")
	data := fs.String("data", "", "directory holding the torrent's data, `DIR` (required)")
	noDHT := fs.Bool("no-dht", false, "do not use the DHT")
	var bootstrap exflag.Strings
	fs.Var(&bootstrap, "dht-bootstrap", "a DHT node to bootstrap from, `HOST:PORT` (repeatable; default: the public routers)")
	noTrackers := fs.Bool("no-trackers", false, "do not announce to the torrent's trackers")
	encryption := fs.String("encryption", "accept", "peer encryption (MSE/PE): required, preferred, off, or accept (dial in plaintext, accept both)")
	useUTP := fs.Bool("utp", false, "also accept and dial peers over uTP (BEP 29) on the UDP port of -listen")
	timeout := fs.Duration("timeout", 0, "stop seeding after this long; 0 means never")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "usage: seed -listen ADDR [-no-dht] [-dht-bootstrap HOST:PORT]... [-no-trackers] [-encryption required|preferred|off|accept] [-utp] [-timeout D] -data DIR FILE.torrent")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	err := seed(ctx, &config{
		listen: *listen, data: *data, noTrackers: *noTrackers, noDHT: *noDHT, bootstrap: bootstrap,
		encryption: *encryption, utp: *useUTP, timeout: *timeout, args: fs.Args(),
	}, newStatus(stdout))
	switch {
	case err == nil:
		return 0
	case errors.Is(err, errUsage):
		fmt.Fprintln(stderr, "seed:", strings.TrimSuffix(err.Error(), ": "+errUsage.Error()))
		return 2
	default:
		fmt.Fprintln(stderr, "seed:", err)
		return 1
	}
}

type config struct {
	listen     string
	data       string
	noTrackers bool
	noDHT      bool
	bootstrap  []string
	encryption string
	utp        bool
	timeout    time.Duration
	args       []string
}

func seed(ctx context.Context, c *config, st *status) error {
	if len(c.args) != 1 {
		return fmt.Errorf("want one FILE.torrent argument, got %d: %w", len(c.args), errUsage)
	}
	if c.listen == "" {
		return fmt.Errorf("-listen ADDR is required: %w", errUsage)
	}
	if c.data == "" {
		return fmt.Errorf("-data DIR is required: %w", errUsage)
	}
	enc, ok := exflag.Encryptions[c.encryption]
	if !ok {
		return fmt.Errorf("-encryption %q: want required, preferred, off or accept: %w", c.encryption, errUsage)
	}
	if fi, err := os.Stat(c.data); err != nil {
		return fmt.Errorf("-data: %w", err)
	} else if !fi.IsDir() {
		return fmt.Errorf("-data %s: not a directory: %w", c.data, errUsage)
	}
	mi, err := metainfo.LoadFile(c.args[0])
	if err != nil {
		return err
	}
	if c.timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, c.timeout)
		defer cancel()
	}
	cfg := &bittern.Config{DataDir: c.data, ListenAddr: c.listen, NoTrackers: c.noTrackers, Encryption: enc, UTP: c.utp}
	if !c.noDHT {
		node, err := exdht.Attach(ctx, cfg, c.listen, c.bootstrap, st.printf)
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
	t, err := s.AddTorrent(ctx, mi, nil)
	if errors.Is(err, bittern.ErrUnsupported) {
		return fmt.Errorf("not supported yet: %v: %w", err, errUsage)
	}
	if err != nil {
		return fmt.Errorf("checking the data: %w", err)
	}
	ts := t.Stats()
	if !ts.Complete {
		return fmt.Errorf("the data in %s is incomplete: %d of %d pieces verified", c.data, ts.PiecesHave, ts.Pieces)
	}
	info := mi.Info()
	st.printf("checked %d bytes in %v\n", info.TotalLength(), time.Since(start).Round(time.Millisecond))
	st.printf("seeding %s on %v\n", info.Name, s.Addr())
	st.follow(ctx, t)
	st.printf("stopped (%v): uploaded %d bytes\n", context.Cause(ctx), t.Stats().Uploaded)
	return nil
}
