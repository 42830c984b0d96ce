// Command magnet2torrent turns a magnet link into a .torrent file: it
// fetches the info dictionary from peers (BEP 9) with a bittern Session and
// writes it, byte for byte, with the link's trackers.
//
//	magnet2torrent [-o FILE] [-peer HOST:PORT]... [-no-dht] [-timeout D] MAGNET
//
// Peers come from -peer, the link's "x.pe" hints, its "tr" trackers and,
// unless -no-dht, the DHT (bootstrapped from the public routers, on the UDP
// port of the session's TCP listening port). The info dictionary is checked
// against the link's info-hash before it is written. The file holds that
// dictionary verbatim, the link's trackers as "announce" and
// "announce-list" (one tier each, in order) and its "ws" web seeds as
// "url-list". -o defaults to NAME.torrent in the current directory, NAME
// being the torrent's name (or its info-hash if the name cannot be a file
// name).
//
// Exit status: 0 when the file is written; 1 when the metadata could not be
// fetched or written, with the reason on standard error; 2 for bad usage.
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
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/bittern/bittern"
	"github.com/bittern/bittern/examples/internal/exdht"
	"github.com/bittern/bittern/examples/internal/exflag"
	"github.com/bittern/bittern/metainfo"
	"github.com/bittern/bittern/storage"
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
	fs := flag.NewFlagSet("magnet2torrent", flag.ContinueOnError)
	fs.SetOutput(stderr)
	out := fs.String("o", "", "write the torrent to `FILE` (default: NAME.torrent)")
	var peers exflag.Peers
	fs.Var(&peers, "peer", "a peer to ask for the metadata, `HOST:PORT` (repeatable)")
	noDHT := fs.Bool("no-dht", false, "do not look for peers in the DHT")
	timeout := fs.Duration("timeout", 5*time.Minute, "give up after this long")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "usage: magnet2torrent [-o FILE] [-peer HOST:PORT]... [-no-dht] [-timeout D] MAGNET")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	err := convert(ctx, fs.Args(), *out, peers, *noDHT, *timeout, stdout)
	switch {
	case err == nil:
		return 0
	case errors.Is(err, errUsage):
		fmt.Fprintln(stderr, "magnet2torrent:", strings.TrimSuffix(err.Error(), ": "+errUsage.Error()))
		return 2
	default:
		fmt.Fprintln(stderr, "magnet2torrent:", err)
		return 1
	}
}

func convert(ctx context.Context, args []string, out string, peers []netip.AddrPort, noDHT bool, timeout time.Duration, stdout io.Writer) error {
	if len(args) != 1 {
		return fmt.Errorf("want one MAGNET argument, got %d: %w", len(args), errUsage)
	}
	link, err := metainfo.ParseMagnet(args[0])
	if err != nil {
		return fmt.Errorf("%v: %w", err, errUsage)
	}
	if len(peers) == 0 && noDHT && len(link.Peers) == 0 && len(link.Trackers) == 0 {
		return fmt.Errorf("no peers: give -peer HOST:PORT, use the DHT, or a magnet with tr= trackers or x.pe= peers: %w", errUsage)
	}
	if timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, timeout)
		defer cancel()
	}

	// Data the torrent might receive before we close the session is kept
	// in memory and dropped: only the metadata is wanted.
	cfg := &bittern.Config{Storage: &storage.Memory{}}
	if !noDHT {
		node, err := exdht.Attach(ctx, cfg, bittern.DefaultListenAddr, nil, func(format string, args ...any) { fmt.Fprintf(stdout, format, args...) })
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

	// AddMagnet returns once the info dictionary has arrived and matched
	// the info-hash; the torrent's MetaInfo then holds it verbatim, with
	// the link's trackers.
	t, err := s.AddMagnet(ctx, args[0], &bittern.TorrentOptions{Peers: peers})
	if err != nil {
		if ctx.Err() != nil {
			return fmt.Errorf("no metadata for %s (%v): %w", link.SwarmHash(), context.Cause(ctx), err)
		}
		return err
	}
	mi := *t.MetaInfo()
	s.Close() // stop the download the torrent began
	mi.URLList = link.WebSeeds
	mi.CreatedBy = "bittern magnet2torrent"

	info := mi.Info()
	if out == "" {
		out = fileName(info.Name, mi.InfoHash()) + ".torrent"
	}
	b, err := mi.Marshal()
	if err != nil {
		return err
	}
	if err := os.WriteFile(out, b, 0o644); err != nil {
		return err
	}
	var files int
	var length int64
	for _, f := range info.Files {
		if !f.Pad {
			files++
			length += f.Length
		}
	}
	fmt.Fprintf(stdout, "name:      %s\ninfo-hash: %s\nsize:      %d bytes in %d files, %d pieces\nwritten:   %s\n",
		info.Name, mi.InfoHash(), length, files, info.NumPieces(), out)
	return nil
}

// fileName returns name if it can be a file name in the current directory,
// else the info-hash in hex: a name from peers is not trusted with a path.
func fileName(name string, ih metainfo.Hash) string {
	if name == "" || name == "." || name == ".." || strings.ContainsAny(name, `/\`+"\x00") || filepath.Base(name) != name {
		return ih.String()
	}
	return name
}
