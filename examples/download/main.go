// Command download fetches a torrent with a bittern Session and exits once
// every piece is downloaded and verified.
//
//	download [-o DIR] [-peer HOST:PORT]... [-listen ADDR] [-no-dht]
//	    [-no-trackers] [-encryption required|preferred|off] [-seed]
//	    [-timeout D] FILE.torrent|MAGNET
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
// Not supported yet (bittern has no trackers, DHT, magnet links or
// encryption): peers come only from -peer; a MAGNET argument and
// -encryption required|preferred exit with status 2; -no-dht and
// -no-trackers are accepted and change nothing.
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
	"github.com/bittern/bittern/metainfo"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// peerList collects repeated -peer flags.
type peerList []netip.AddrPort

func (l *peerList) String() string {
	s := make([]string, len(*l))
	for i, a := range *l {
		s[i] = a.String()
	}
	return strings.Join(s, ",")
}

func (l *peerList) Set(s string) error {
	a, err := netip.ParseAddrPort(s)
	if err != nil {
		return fmt.Errorf("want HOST:PORT with a literal IP address: %w", err)
	}
	*l = append(*l, a)
	return nil
}

// errUsage marks errors that exit with status 2.
var errUsage = errors.New("usage")

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("download", flag.ContinueOnError)
	fs.SetOutput(stderr)
	out := fs.String("o", ".", "directory to download into")
	var peers peerList
	fs.Var(&peers, "peer", "a peer to connect to, `HOST:PORT` (repeatable)")
	listen := fs.String("listen", bittern.DefaultListenAddr, "TCP address to accept peers on")
	fs.Bool("no-dht", false, "do not use the DHT (bittern has no DHT yet: changes nothing)")
	noTrackers := fs.Bool("no-trackers", false, "do not announce to the torrent's trackers (bittern has no tracker support yet)")
	encryption := fs.String("encryption", "off", "peer encryption: required, preferred or off (only off is supported yet)")
	seed := fs.Bool("seed", false, "keep seeding after completion until the timeout or a signal")
	timeout := fs.Duration("timeout", 0, "give up (or, with -seed, stop seeding) after this long; 0 means never")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "usage: download [-o DIR] [-peer HOST:PORT]... [-listen ADDR] [-no-dht] [-no-trackers] [-encryption required|preferred|off] [-seed] [-timeout D] FILE.torrent|MAGNET")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	err := download(ctx, &config{
		out: *out, peers: peers, listen: *listen, noTrackers: *noTrackers,
		encryption: *encryption, seed: *seed, timeout: *timeout, args: fs.Args(),
	}, newProgress(stdout), stderr)
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
	encryption string
	seed       bool
	timeout    time.Duration
	args       []string
}

func download(ctx context.Context, c *config, p *progress, stderr io.Writer) error {
	if len(c.args) != 1 {
		return fmt.Errorf("want one FILE.torrent or MAGNET argument, got %d: %w", len(c.args), errUsage)
	}
	switch c.encryption {
	case "off":
	case "required", "preferred":
		return fmt.Errorf("not supported yet: -encryption %s (bittern has no peer encryption yet; use -encryption off): %w", c.encryption, errUsage)
	default:
		return fmt.Errorf("-encryption %q: want required, preferred or off: %w", c.encryption, errUsage)
	}
	src := c.args[0]
	if strings.HasPrefix(strings.ToLower(src), "magnet:") {
		return fmt.Errorf("not supported yet: magnet links (bittern cannot fetch metadata yet; pass a .torrent file): %w", errUsage)
	}
	mi, err := metainfo.LoadFile(src)
	if err != nil {
		return err
	}
	if n := trackerURLs(mi); n > 0 && !c.noTrackers {
		fmt.Fprintf(stderr, "download: note: trackers are not supported yet; ignoring the torrent's %d tracker URLs\n", n)
	}
	if len(c.peers) == 0 {
		return fmt.Errorf("no peers: give -peer HOST:PORT (trackers, DHT and magnet peers are not supported yet): %w", errUsage)
	}

	if c.timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, c.timeout)
		defer cancel()
	}
	s, err := bittern.NewSession(&bittern.Config{DataDir: c.out, ListenAddr: c.listen})
	if err != nil {
		return err
	}
	defer s.Close()
	start := time.Now()
	t, err := s.AddTorrent(ctx, mi, &bittern.TorrentOptions{Peers: c.peers})
	if errors.Is(err, bittern.ErrUnsupported) {
		return fmt.Errorf("not supported yet: %v: %w", err, errUsage)
	}
	if err != nil {
		return err
	}
	info := mi.Info()
	p.printf("%s: %d bytes in %d pieces, listening on %v\n", info.Name, info.TotalLength(), info.NumPieces(), s.Addr())
	if err := p.follow(ctx, t, t.Complete()); err != nil {
		st := t.Stats()
		if ctx.Err() != nil {
			return fmt.Errorf("stopped (%v) after %v with %d of %d pieces verified", context.Cause(ctx), time.Since(start).Round(time.Second), st.PiecesHave, st.Pieces)
		}
		return err
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

// trackerURLs counts the announce URLs of mi's tiers.
func trackerURLs(mi *metainfo.MetaInfo) int {
	n := 0
	for _, tier := range mi.Trackers() {
		n += len(tier)
	}
	return n
}
