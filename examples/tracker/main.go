// Command tracker runs a BitTorrent tracker (HTTP and UDP) and logs every
// announce.
//
//	tracker [-http ADDR] [-udp ADDR] [-interval D] [-whitelist FILE]
//
// -http serves http://ADDR/announce and /scrape; -udp serves udp://ADDR.
// With -whitelist only the info-hashes listed in FILE (40 hex digits a line)
// are tracked. It stops on SIGINT or SIGTERM.
package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/bittern/bittern/metainfo"
	"github.com/bittern/bittern/tracker"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "tracker:", err)
		os.Exit(1)
	}
}

// run serves until ctx ends, logging to logw.
func run(ctx context.Context, args []string, logw io.Writer) error {
	fs := flag.NewFlagSet("tracker", flag.ContinueOnError)
	httpAddr := fs.String("http", "", "serve HTTP announces on this address (e.g. 127.0.0.1:8000)")
	udpAddr := fs.String("udp", "", "serve UDP announces on this address (e.g. 127.0.0.1:6969)")
	interval := fs.Duration("interval", 30*time.Minute, "announce interval told to clients")
	whitelist := fs.String("whitelist", "", "file of allowed info-hashes, 40 hex digits a line")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *httpAddr == "" && *udpAddr == "" {
		return errors.New("give -http ADDR, -udp ADDR or both")
	}
	logger := slog.New(slog.NewTextHandler(logw, nil))
	cfg := &tracker.ServerConfig{Interval: *interval, Logger: logger}
	if *whitelist != "" {
		allowed, err := readWhitelist(*whitelist)
		if err != nil {
			return err
		}
		cfg.Allow = func(h metainfo.Hash) bool { _, ok := allowed[h]; return ok }
	}
	srv := tracker.NewServer(cfg)

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		errs []error
	)
	fail := func(err error) {
		mu.Lock()
		errs = append(errs, err)
		mu.Unlock()
		cancel()
	}
	if *httpAddr != "" {
		ln, err := net.Listen("tcp", *httpAddr)
		if err != nil {
			return err
		}
		hs := &http.Server{Handler: srv, ReadHeaderTimeout: 10 * time.Second}
		logger.Info("serving HTTP", "announce", "http://"+ln.Addr().String()+"/announce")
		wg.Go(func() {
			if err := hs.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
				fail(err)
			}
		})
		wg.Go(func() {
			<-ctx.Done()
			sctx, c := context.WithTimeout(context.Background(), 5*time.Second)
			defer c()
			_ = hs.Shutdown(sctx)
		})
	}
	if *udpAddr != "" {
		pc, err := net.ListenPacket("udp", *udpAddr)
		if err != nil {
			cancel()
			wg.Wait()
			return err
		}
		logger.Info("serving UDP", "announce", "udp://"+pc.LocalAddr().String())
		wg.Go(func() {
			defer pc.Close()
			if err := srv.ServeUDP(ctx, pc); err != nil && ctx.Err() == nil {
				fail(err)
			}
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}

func readWhitelist(name string) (map[metainfo.Hash]struct{}, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	out := make(map[metainfo.Hash]struct{})
	sc := bufio.NewScanner(f)
	for line := 1; sc.Scan(); line++ {
		s := strings.TrimSpace(sc.Text())
		if s == "" || strings.HasPrefix(s, "#") {
			continue
		}
		h, err := metainfo.ParseHash(strings.ToLower(s))
		if err != nil {
			return nil, fmt.Errorf("%s:%d: %w", name, line, err)
		}
		out[h] = struct{}{}
	}
	return out, sc.Err()
}
