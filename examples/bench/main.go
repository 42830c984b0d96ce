// Command bench measures end-to-end BitTorrent throughput on loopback TCP:
// one seeder and one leecher, each in its own process, transfer a generated
// file (plaintext, no trackers, DHT or PEX). It prints the rate, and each
// process's CPU time and peak RSS, read from the child's rusage.
//
//	go run ./examples/bench                       # 1 GiB with bittern
//	go run ./examples/bench -size 268435456 -json
//	go run ./examples/bench -impl bittern,libtorrent,anacrolix
//
// -impl picks the implementation running in both processes: bittern (this
// program re-executing itself), libtorrent (libtorrent-rasterbar through
// /usr/bin/python3 and the python3-libtorrent package) or anacrolix
// (anacrolix/torrent v1.62.0, built from the nested module in ./anacrolix).
// Several, comma-separated, are measured one after the other on the same
// file and torrent. With -json each measurement is one JSON object per line:
//
//	{"impl":"bittern","bytes":…,"seconds":…,"mib_per_s":…,"seeder_cpu_s":…,
//	 "leecher_cpu_s":…,"seeder_rss_mib":…,"leecher_rss_mib":…}
//
// seconds is the leecher's own measure, from adding the torrent (with the
// seeder's address) to having every piece verified; process start-up and the
// seeder's initial check are not counted. seeder_cpu_s likewise counts from
// the seeder's "listening" line (read from /proc on Linux; elsewhere the whole
// run), leecher_cpu_s is the leecher's whole run, start-up included, and the
// peak RSS is each process's maximum (rusage maxrss), which counts the pages
// of memory-mapped files that libtorrent and anacrolix/torrent use. The
// leecher's file is compared with the original byte for byte after every run.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"
)

func main() {
	if len(os.Args) > 1 && (os.Args[1] == "seed" || os.Args[1] == "leech") {
		os.Exit(child(os.Args[1], os.Args[2:], os.Stdout, os.Stderr))
	}
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// options are the parent's flags.
type options struct {
	size      int64
	dir       string
	json      bool
	impls     []string
	pieceLen  int64
	timeout   time.Duration
	anacrolix string
	profDir   string // bittern children write CPU profiles here
	prealloc  bool   // the bittern leecher preallocates its files
	wb        bool   // the bittern leecher's storage.Dir has WriteBehind set
}

func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var o options
	fs.Int64Var(&o.size, "size", 1<<30, "bytes in the generated file")
	fs.StringVar(&o.dir, "dir", "", "working directory; the generated file and torrent are kept there and reused (default: a temporary directory, removed at exit)")
	fs.BoolVar(&o.json, "json", false, "print one JSON object per measurement")
	impl := fs.String("impl", "bittern", "implementations to measure, comma-separated: bittern, libtorrent, anacrolix")
	fs.Int64Var(&o.pieceLen, "piece", 0, "piece length in bytes (default: chosen from -size)")
	fs.DurationVar(&o.timeout, "timeout", 10*time.Minute, "give up on a measurement after this long")
	fs.StringVar(&o.profDir, "cpuprofile", "", "directory where the bittern seeder and leecher write CPU profiles (seed.pprof, leech.pprof)")
	fs.BoolVar(&o.prealloc, "preallocate", false, "the bittern leecher gives its files their full size (fallocate) before it starts")
	fs.BoolVar(&o.wb, "writebehind", false, "the bittern leecher's storage.Dir starts writeback early and drops written chunks from the page cache (WriteBehind)")
	fs.StringVar(&o.anacrolix, "anacrolix-bin", "", "a prebuilt anacrolix comparator (default: go build ./examples/bench/anacrolix)")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "usage: bench [-size BYTES] [-dir DIR] [-json] [-impl bittern,libtorrent,anacrolix]")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() != 0 {
		fmt.Fprintln(stderr, "bench: unexpected arguments:", fs.Args())
		return 2
	}
	if o.size <= 0 {
		fmt.Fprintln(stderr, "bench: -size must be positive")
		return 2
	}
	for _, name := range strings.Split(*impl, ",") {
		name = strings.TrimSpace(name)
		if _, ok := impls[name]; !ok {
			fmt.Fprintf(stderr, "bench: unknown -impl %q (want bittern, libtorrent or anacrolix)\n", name)
			return 2
		}
		o.impls = append(o.impls, name)
	}
	if err := bench(context.Background(), &o, stdout, stderr); err != nil {
		fmt.Fprintln(stderr, "bench:", err)
		return 1
	}
	return 0
}

func bench(ctx context.Context, o *options, stdout, stderr io.Writer) error {
	if o.dir == "" {
		d, err := os.MkdirTemp("", "bittern-bench")
		if err != nil {
			return err
		}
		defer os.RemoveAll(d)
		o.dir = d
	}
	w, err := prepare(ctx, o.dir, o.size, o.pieceLen, stderr)
	if err != nil {
		return err
	}
	enc := json.NewEncoder(stdout)
	for _, name := range o.impls {
		r, err := measure(ctx, o, w, name, stderr)
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		if o.json {
			if err := enc.Encode(r); err != nil {
				return err
			}
			continue
		}
		fmt.Fprintf(stdout, "%-10s %d bytes in %.3fs: %.1f MiB/s; seeder %.2f CPU-s, %.1f MiB peak RSS; leecher %.2f CPU-s, %.1f MiB peak RSS\n",
			r.Impl, r.Bytes, r.Seconds, r.MiBPerS, r.SeederCPU, r.SeederRSS, r.LeecherCPU, r.LeecherRSS)
	}
	return nil
}
