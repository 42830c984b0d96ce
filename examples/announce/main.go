// Command announce sends one announce (or scrape) to a BitTorrent tracker
// and prints the answer.
//
//	announce [-json] [-event started|completed|stopped|paused] [-port N] [-numwant N]
//	         [-left N] [-timeout D] [-scrape] TRACKER_URL INFOHASH_HEX
//
// With -json it prints one object: interval, min_interval (seconds),
// seeders, leechers (-1 if the tracker did not say) and peers ("ip:port"
// strings); with -scrape: complete, incomplete, downloaded, and downloaders
// (BEP 21: incomplete minus partial seeds) only if the tracker sent it, so
// the three keys are always there and a fourth only when known.
// -event paused (BEP 21, a partial seed), -left (default 0, a seeder) and
// -timeout (default 30s) are extras beyond the interface. It exits 0 on success and 1 on any error (a failure reason, a
// timeout, bad arguments), printing the reason on stderr; -h prints the
// usage and exits 0.
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
	err := run(context.Background(), os.Args[1:], os.Stdout, os.Stderr)
	switch {
	case errors.Is(err, flag.ErrHelp):
	case err != nil:
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
	Complete    int  `json:"complete"`
	Incomplete  int  `json:"incomplete"`
	Downloaded  int  `json:"downloaded"`
	Downloaders *int `json:"downloaders,omitempty"` // BEP 21, if the tracker said
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("announce", flag.ContinueOnError)
	fs.SetOutput(stderr)
	asJSON := fs.Bool("json", false, "print one JSON object")
	event := fs.String("event", "", "event: started, completed, stopped or paused")
	port := fs.Uint("port", 6881, "TCP port to announce")
	numWant := fs.Int("numwant", 0, "peers wanted (0: tracker default)")
	left := fs.Int64("left", 0, "bytes left to download (0: a seeder)")
	scrape := fs.Bool("scrape", false, "scrape instead of announcing")
	timeout := fs.Duration("timeout", 30*time.Second, "give up after this long")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: announce [-json] [-event started|completed|stopped|paused] [-port N] [-numwant N] [-scrape]\n"+
			"                [-left N] [-timeout D] TRACKER_URL INFOHASH_HEX")
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
		err = runScrape(ctx, t, ih, *asJSON, stdout)
	} else {
		err = runAnnounce(ctx, t, ih, announceFlags{ev, uint16(*port), *numWant, *left}, *asJSON, stdout)
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("%s: no answer within %v (timed out)", fs.Arg(0), *timeout)
	}
	return err
}

// announceFlags are the announce's parameters taken from the command line.
type announceFlags struct {
	event   tracker.Event
	port    uint16
	numWant int
	left    int64
}

func runScrape(ctx context.Context, t tracker.Tracker, ih metainfo.Hash, asJSON bool, stdout io.Writer) error {
	m, err := t.Scrape(ctx, ih)
	if err != nil {
		return err
	}
	st := m[ih]
	if asJSON {
		out := scrapeJSON{Complete: st.Complete, Incomplete: st.Incomplete, Downloaded: st.Downloaded}
		if st.HasDownloaders {
			out.Downloaders = &st.Downloaders
		}
		return json.NewEncoder(stdout).Encode(out)
	}
	fmt.Fprintf(stdout, "complete %d, incomplete %d, downloaded %d", st.Complete, st.Incomplete, st.Downloaded)
	if st.HasDownloaders {
		fmt.Fprintf(stdout, ", downloaders %d", st.Downloaders)
	}
	_, err = fmt.Fprintln(stdout)
	return err
}

func runAnnounce(ctx context.Context, t tracker.Tracker, ih metainfo.Hash, f announceFlags, asJSON bool, stdout io.Writer) error {
	req := tracker.AnnounceRequest{InfoHash: ih, Port: f.port, Left: f.left, Event: f.event, NumWant: f.numWant}
	copy(req.PeerID[:], "-BN0001-")
	var rnd [16]byte
	_, _ = rand.Read(rnd[:])
	copy(req.PeerID[8:], fmt.Sprintf("%x", rnd[:6]))
	req.Key = binary.BigEndian.Uint32(rnd[12:])
	resp, err := t.Announce(ctx, req)
	if err != nil {
		return err
	}
	if asJSON {
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
