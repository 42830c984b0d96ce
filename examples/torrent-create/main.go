// Command torrent-create makes a .torrent file from a file or a directory.
//
//	torrent-create [-v1|-v2|-hybrid] [-piece-length N] [-tracker URL]...
//	    [-webseed URL]... [-private] [-comment S] [-no-date] -o OUT.torrent PATH
//
// The default is a hybrid v1+v2 torrent with an automatic piece length.
// -piece-length takes bytes, optionally with a K or M suffix (256K, 4M).
// Each -tracker is its own tier (BEP 12). -no-date leaves out the creation
// date, so the same input always gives the same file. Progress is shown on
// standard error while hashing; the info-hashes are printed at the end.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"time"

	"github.com/bittern/bittern/metainfo"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

type listFlag []string

func (l *listFlag) String() string     { return strings.Join(*l, ",") }
func (l *listFlag) Set(s string) error { *l = append(*l, s); return nil }

func parseSize(s string) (int64, error) {
	mult := int64(1)
	switch {
	case strings.HasSuffix(s, "K"), strings.HasSuffix(s, "k"):
		mult, s = 1<<10, s[:len(s)-1]
	case strings.HasSuffix(s, "M"), strings.HasSuffix(s, "m"):
		mult, s = 1<<20, s[:len(s)-1]
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n <= 0 || n > (1<<40)/mult {
		return 0, fmt.Errorf("invalid piece length %q", s)
	}
	return n * mult, nil
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("torrent-create", flag.ContinueOnError)
	fs.SetOutput(stderr)
	v1 := fs.Bool("v1", false, "make a v1-only torrent (BEP 3)")
	v2 := fs.Bool("v2", false, "make a v2-only torrent (BEP 52)")
	hybrid := fs.Bool("hybrid", false, "make a hybrid v1+v2 torrent (the default)")
	pieceLength := fs.String("piece-length", "", "piece length in bytes (K/M suffix allowed); default automatic")
	var trackers, webseeds listFlag
	fs.Var(&trackers, "tracker", "announce URL, one tier each (repeatable)")
	fs.Var(&webseeds, "webseed", "web seed URL (BEP 19, repeatable)")
	private := fs.Bool("private", false, "set the private flag (BEP 27)")
	comment := fs.String("comment", "", "comment")
	noDate := fs.Bool("no-date", false, "omit the creation date (reproducible output)")
	out := fs.String("o", "", "output .torrent file (required)")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: torrent-create [-v1|-v2|-hybrid] [-piece-length N] [-tracker URL]... [-webseed URL]... [-private] [-comment S] [-no-date] -o OUT.torrent PATH")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return 2
	}
	fail := func(err error) int {
		fmt.Fprintln(stderr, "torrent-create: "+strings.ReplaceAll(err.Error(), "\n", " "))
		return 1
	}
	if fs.NArg() != 1 || *out == "" {
		fs.Usage()
		return 2
	}
	b := &metainfo.Builder{Private: *private, Comment: *comment, NoCreationDate: *noDate, WebSeeds: webseeds}
	switch {
	case btoi(*v1)+btoi(*v2)+btoi(*hybrid) > 1:
		return fail(errors.New("-v1, -v2 and -hybrid are exclusive"))
	case *v1:
		b.Version = metainfo.V1
	case *v2:
		b.Version = metainfo.V2
	}
	if *pieceLength != "" {
		n, err := parseSize(*pieceLength)
		if err != nil {
			return fail(err)
		}
		b.PieceLength = n
	}
	for _, t := range trackers {
		b.Trackers = append(b.Trackers, []string{t})
	}
	p := &progress{w: stderr}
	b.Progress = p.update
	mi, err := b.Build(ctx, fs.Arg(0))
	p.finish()
	if err != nil {
		return fail(err)
	}
	data, err := mi.Marshal()
	if err != nil {
		return fail(err)
	}
	if err := os.WriteFile(*out, data, 0o644); err != nil {
		return fail(err)
	}
	info := mi.Info()
	fmt.Fprintf(stdout, "wrote %s: %s, %d files, %d pieces of %d bytes\n", *out, info.Name, countFiles(info), info.NumPieces(), info.PieceLength)
	if !mi.InfoHash().IsZero() {
		fmt.Fprintf(stdout, "info hash:    %s\n", mi.InfoHash())
	}
	if !mi.InfoHashV2().IsZero() {
		fmt.Fprintf(stdout, "info hash v2: %s\n", mi.InfoHashV2())
	}
	return 0
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

func countFiles(info *metainfo.Info) int {
	n := 0
	for _, f := range info.Files {
		if !f.Pad {
			n++
		}
	}
	return n
}

// progress prints a hashing progress line, at most ten times a second.
type progress struct {
	w       io.Writer
	last    time.Time
	printed bool
	start   time.Time
}

func (p *progress) update(done, total int64) {
	now := time.Now()
	if p.start.IsZero() {
		p.start = now
	}
	if done < total && now.Sub(p.last) < 100*time.Millisecond {
		return
	}
	p.last = now
	p.printed = true
	rate := ""
	if el := now.Sub(p.start).Seconds(); el > 0.2 {
		rate = fmt.Sprintf(", %.0f MiB/s", float64(done)/el/(1<<20))
	}
	fmt.Fprintf(p.w, "\rhashing: %5.1f%% (%d of %d MiB%s)", 100*float64(done)/float64(total), done>>20, total>>20, rate)
}

func (p *progress) finish() {
	if p.printed {
		fmt.Fprintln(p.w)
	}
}
