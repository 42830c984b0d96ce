// Command btspec checks how a running BitTorrent peer follows the protocol.
//
//	btspec -peer HOST:PORT -torrent FILE.torrent [-json] [-run REGEXP] [-timeout D] [-quiet D]
//
// The peer must seed the torrent. btspec runs numbered cases one at a
// time, each on its own connection (see package spec), and prints pass,
// fail or n/a for each with the BEP section it checks. With -json it prints
// {"peer": ..., "cases": [{"id", "bep", "title", "result", "detail"}]}.
// -run selects cases whose ID matches the regular expression.
//
// The exit status is 0 if no case failed, 1 if one did and 2 on a usage or
// setup error.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"regexp"

	"github.com/bittern/bittern/examples/btspec/spec"
	"github.com/bittern/bittern/metainfo"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("btspec", flag.ContinueOnError)
	fs.SetOutput(stderr)
	peer := fs.String("peer", "", "the peer's `HOST:PORT`")
	torrent := fs.String("torrent", "", "the `FILE`.torrent the peer seeds")
	asJSON := fs.Bool("json", false, "print a JSON report")
	runRE := fs.String("run", "", "run only cases whose ID matches `REGEXP`")
	timeout := fs.Duration("timeout", spec.DefaultTimeout, "bound on each case")
	quiet := fs.Duration("quiet", spec.DefaultQuiet, "how long to wait for something the peer must not send")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *peer == "" || *torrent == "" || fs.NArg() != 0 {
		fmt.Fprintln(stderr, "usage: btspec -peer HOST:PORT -torrent FILE.torrent [-json] [-run REGEXP]")
		return 2
	}
	var filter *regexp.Regexp
	if *runRE != "" {
		re, err := regexp.Compile(*runRE)
		if err != nil {
			fmt.Fprintf(stderr, "btspec: -run: %v\n", err)
			return 2
		}
		filter = re
	}
	mi, err := metainfo.LoadFile(*torrent)
	if err != nil {
		fmt.Fprintf(stderr, "btspec: %v\n", err)
		return 2
	}
	t := &spec.Target{Addr: *peer, MetaInfo: mi, Timeout: *timeout, Quiet: *quiet}
	rep, err := spec.Run(ctx, t, filter)
	if err != nil && rep == nil {
		fmt.Fprintf(stderr, "btspec: %v\n", err)
		return 2
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(rep); err != nil {
			fmt.Fprintf(stderr, "btspec: %v\n", err)
			return 2
		}
	} else {
		printText(stdout, rep, mi)
	}
	if err != nil {
		fmt.Fprintf(stderr, "btspec: interrupted: %v\n", err)
		return 2
	}
	if len(rep.Failed()) > 0 {
		return 1
	}
	return 0
}

func printText(w io.Writer, rep *spec.Report, mi *metainfo.MetaInfo) {
	fmt.Fprintf(w, "btspec %s, torrent %s (%d pieces)\n\n", rep.Peer, mi.Info().Name, mi.Info().NumPieces())
	counts := map[spec.Result]int{}
	for _, c := range rep.Cases {
		counts[c.Result]++
		fmt.Fprintf(w, "  %-4s %-4s [%s] %s\n", c.ID, c.Result, c.BEP, c.Title)
		if c.Detail != "" {
			fmt.Fprintf(w, "            %s\n", c.Detail)
		}
	}
	fmt.Fprintf(w, "\n%d cases: %d passed, %d failed, %d not applicable\n", len(rep.Cases), counts[spec.Pass], counts[spec.Fail], counts[spec.NotApplicable])
}
