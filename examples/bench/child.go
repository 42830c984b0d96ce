package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"runtime/pprof"
	"strconv"
	"time"

	"github.com/bittern/bittern"
	"github.com/bittern/bittern/metainfo"
	"github.com/bittern/bittern/storage"
)

// child runs bench's bittern seeder or leecher. It speaks the line protocol
// that the libtorrent and anacrolix children speak too:
//
//	seed  -torrent T -data DIR            prints "listening PORT" once the
//	                                      data is checked, serves until stdin closes
//	leech -torrent T -data DIR -peer ADDR prints "done NANOSECONDS" once complete
//
// -cpuprofile FILE writes a CPU profile of the child's run and -preallocate
// gives the leecher's files their full size first, -writebehind turns
// on the leecher's storage.Dir write-behind (bittern only).
func child(role string, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("bench "+role, flag.ContinueOnError)
	fs.SetOutput(stderr)
	torrentPath := fs.String("torrent", "", "the .torrent file")
	data := fs.String("data", "", "data directory")
	peer := fs.String("peer", "", "the seeder's address (leech only)")
	timeout := fs.Duration("timeout", 10*time.Minute, "give up after this long")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile of the whole run to this file")
	prealloc := fs.Bool("preallocate", false, "give the leecher's files their full size (fallocate) before adding the torrent")
	wb := fs.Bool("writebehind", false, "set storage.Dir.WriteBehind")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			fmt.Fprintf(stderr, "bench %s: %v\n", role, err)
			return 1
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			fmt.Fprintf(stderr, "bench %s: %v\n", role, err)
			return 1
		}
		defer pprof.StopCPUProfile()
	}
	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()
	if err := runChild(ctx, role, *torrentPath, *data, *peer, *prealloc, *wb, stdout); err != nil {
		fmt.Fprintf(stderr, "bench %s: %v\n", role, err)
		return 1
	}
	return 0
}

func runChild(ctx context.Context, role, torrentPath, data, peer string, prealloc, wb bool, stdout io.Writer) error {
	mi, err := metainfo.LoadFile(torrentPath)
	if err != nil {
		return err
	}
	cfg := &bittern.Config{ListenAddr: "127.0.0.1:0", DataDir: data}
	if wb {
		cfg.Storage = &storage.Dir{Root: data, WriteBehind: true}
	}
	s, err := bittern.NewSession(cfg)
	if err != nil {
		return err
	}
	defer s.Close()
	switch role {
	case "seed":
		t, err := s.AddTorrent(ctx, mi, nil)
		if err != nil {
			return err
		}
		if st := t.Stats(); !st.Complete {
			return fmt.Errorf("seed data incomplete: %d of %d pieces verified", st.PiecesHave, st.Pieces)
		}
		_, port, _ := net.SplitHostPort(s.Addr().String())
		fmt.Fprintln(stdout, "listening", port)
		closed := make(chan struct{})
		go func() { io.Copy(io.Discard, os.Stdin); close(closed) }()
		select {
		case <-closed:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	case "leech":
		addr, err := netip.ParseAddrPort(peer)
		if err != nil {
			return fmt.Errorf("-peer: %w", err)
		}
		start := time.Now()
		if prealloc {
			if err := preallocate(ctx, mi, data); err != nil {
				return err
			}
		}
		t, err := s.AddTorrent(ctx, mi, &bittern.TorrentOptions{Peers: []netip.AddrPort{addr}})
		if err != nil {
			return err
		}
		if err := t.Wait(ctx); err != nil {
			st := t.Stats()
			return fmt.Errorf("%w after %d of %d pieces", err, st.PiecesHave, st.Pieces)
		}
		fmt.Fprintln(stdout, "done", strconv.FormatInt(time.Since(start).Nanoseconds(), 10))
		return nil
	}
	return fmt.Errorf("unknown role %q", role)
}

// preallocate gives the torrent's files under dir their full size, with
// their blocks reserved where the file system can (storage.Preallocator).
func preallocate(ctx context.Context, mi *metainfo.MetaInfo, dir string) error {
	st, err := (&storage.Dir{Root: dir}).Open(ctx, mi.Info(), mi.InfoHash())
	if err != nil {
		return err
	}
	p, ok := st.(storage.Preallocator)
	if !ok {
		st.Close()
		return fmt.Errorf("storage %T cannot preallocate", st)
	}
	if err := p.Preallocate(ctx); err != nil {
		st.Close()
		return err
	}
	return st.Close()
}
