// Command announce sends one announce (or scrape) to a BitTorrent tracker
// and prints the answer.
//
//	announce [-json] [-event started|completed|stopped] [-port N] [-numwant N]
//	         [-left N] [-timeout D] [-scrape] TRACKER_URL INFOHASH_HEX
//
// With -json it prints one object: interval, min_interval (seconds),
// seeders, leechers and peers ("ip:port" strings); with -scrape: complete,
// incomplete, downloaded. Errors (a failure reason, a timeout) exit 1 with
// the reason on stderr.
package main

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/bittern/bittern/metainfo"
	"github.com/bittern/bittern/tracker"
)

func main() {
	if err := run(context.Background(), os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "announce:", err)
		os.Exit(1)
	}
}

type announceJSON struct {
	Interval    int64    `json:"interval"`
	MinInterval int64    `json:"min_interval"`
	Seeders     int      `json:"seeders"`
	Leechers    int      `json:"leechers"`
	Peers       []string `json:"peers"`
}

type scrapeJSON struct {
	Complete   int `json:"complete"`
	Incomplete int `json:"incomplete"`
	Downloaded int `json:"downloaded"`
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("announce", flag.ContinueOnError)
	fs.SetOutput(stderr)
	asJSON := fs.Bool("json", false, "print one JSON object")
	event := fs.String("event", "", "event: started, completed or stopped")
	port := fs.Uint("port", 6881, "TCP port to announce")
	numWant := fs.Int("numwant", 0, "peers wanted (0: tracker default)")
	left := fs.Int64("left", 0, "bytes left to download (0: a seeder)")
	scrape := fs.Bool("scrape", false, "scrape instead of announcing")
	timeout := fs.Duration("timeout", 30*time.Second, "give up after this long")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: announce [flags] TRACKER_URL INFOHASH_HEX")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() != 2 {
		fs.Usage()
		return errors.New("need TRACKER_URL and INFOHASH_HEX")
	}
	if *port > 65535 {
		return fmt.Errorf("port %d out of range", *port)
	}
	ev, ok := tracker.ParseEvent(*event)
	if !ok {
		return fmt.Errorf("unknown event %q", *event)
	}
	ih, err := metainfo.ParseHash(fs.Arg(1))
	if err != nil {
		return err
	}
	t, err := tracker.New(fs.Arg(0), nil)
	if err != nil {
		return err
	}
	defer t.Close()
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()

	if *scrape {
		m, err := t.Scrape(ctx, ih)
		if err != nil {
			return err
		}
		st := m[ih]
		if *asJSON {
			return json.NewEncoder(stdout).Encode(scrapeJSON{st.Complete, st.Incomplete, st.Downloaded})
		}
		_, err = fmt.Fprintf(stdout, "complete %d, incomplete %d, downloaded %d\n", st.Complete, st.Incomplete, st.Downloaded)
		return err
	}

	req := tracker.AnnounceRequest{InfoHash: ih, Port: uint16(*port), Left: *left, Event: ev, NumWant: *numWant}
	copy(req.PeerID[:], "-BN0001-")
	var rnd [16]byte
	_, _ = rand.Read(rnd[:])
	copy(req.PeerID[8:], fmt.Sprintf("%x", rnd[:6]))
	req.Key = binary.BigEndian.Uint32(rnd[12:])
	resp, err := t.Announce(ctx, req)
	if err != nil {
		return err
	}
	if *asJSON {
		out := announceJSON{
			Interval:    int64(resp.Interval / time.Second),
			MinInterval: int64(resp.MinInterval / time.Second),
			Seeders:     resp.Seeders,
			Leechers:    resp.Leechers,
			Peers:       make([]string, 0, len(resp.Peers)),
		}
		for _, p := range resp.Peers {
			out.Peers = append(out.Peers, p.String())
		}
		return json.NewEncoder(stdout).Encode(out)
	}
	fmt.Fprintf(stdout, "interval %v, min interval %v, seeders %d, leechers %d\n", resp.Interval, resp.MinInterval, resp.Seeders, resp.Leechers)
	if resp.Warning != "" {
		fmt.Fprintf(stdout, "warning: %s\n", resp.Warning)
	}
	if resp.ExternalIP.IsValid() {
		fmt.Fprintf(stdout, "external ip: %v\n", resp.ExternalIP)
	}
	for _, p := range resp.Peers {
		fmt.Fprintln(stdout, p)
	}
	return nil
}
