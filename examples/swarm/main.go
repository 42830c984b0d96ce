// Command swarm runs a whole BitTorrent swarm inside one process, on
// loopback, with no internet: a tracker (package tracker's Server), one
// seeder of a generated file and N leechers, each a bittern Session. The
// leechers learn of the seeder and of each other from the tracker only,
// so they trade pieces among themselves as well as with the seeder.
//
//	swarm [-leechers N] [-size BYTES] [-piece BYTES] [-dir DIR] [-timeout D]
//
// On a terminal it draws a progress bar per leecher and the swarm's total
// download rate; otherwise it prints a plain line about once a second. At
// the end it checks every leecher's copy against the source (SHA-256) and
// prints a summary: the time taken, the throughput delivered to the
// leechers, and the bytes each peer uploaded.
//
// Exit status: 0 when every leecher holds an exact copy; 1 on failure, with
// the reason on standard error; 2 for bad usage.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/bittern/bittern"
	"github.com/bittern/bittern/metainfo"
	"github.com/bittern/bittern/tracker"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// config is what the flags say.
type config struct {
	leechers int
	size     int64
	piece    int64
	dir      string
	timeout  time.Duration
	utp      bool
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("swarm", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var c config
	fs.IntVar(&c.leechers, "leechers", 4, "number of leeching sessions")
	fs.Int64Var(&c.size, "size", 256<<20, "bytes in the generated file")
	fs.Int64Var(&c.piece, "piece", 256<<10, "piece length in bytes (a power of two, at least 16384)")
	fs.StringVar(&c.dir, "dir", "", "working directory (default: a temporary one, removed at exit)")
	fs.DurationVar(&c.timeout, "timeout", 10*time.Minute, "give up after this long")
	fs.BoolVar(&c.utp, "utp", false, "connect the peers over uTP (BEP 29) only")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "usage: swarm [-leechers N] [-size BYTES] [-piece BYTES] [-dir DIR] [-timeout D] [-utp]")
		fmt.Fprintln(fs.Output(), "Runs a tracker, one seeder and N leechers on loopback, then checks every copy.")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() > 0 || c.leechers < 1 || c.size < 1 {
		fmt.Fprintln(stderr, "swarm: -leechers and -size must be positive, and no arguments are taken")
		return 2
	}
	if err := swarm(ctx, c, stdout); err != nil {
		fmt.Fprintln(stderr, "swarm:", err)
		return 1
	}
	return 0
}

// peer is one Session of the swarm and its torrent.
type peer struct {
	name string
	dir  string // its DataDir
	s    *bittern.Session
	t    *bittern.Torrent
}

func swarm(ctx context.Context, c config, stdout io.Writer) error {
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	if c.dir == "" {
		d, err := os.MkdirTemp("", "bittern-swarm")
		if err != nil {
			return err
		}
		defer os.RemoveAll(d)
		c.dir = d
	}

	// A tracker on loopback: an http.Handler, served like any other.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	trk := tracker.NewServer(nil)
	hs := &http.Server{Handler: trk, ReadHeaderTimeout: 10 * time.Second}
	served := make(chan struct{})
	go func() { hs.Serve(ln); close(served) }()
	// Deferred first, so it runs after the sessions' last "stopped" announces.
	defer func() { hs.Close(); <-served }()
	announce := "http://" + ln.Addr().String() + "/announce"

	// The file to share and its torrent, which names the tracker.
	src := filepath.Join(c.dir, "seeder", "swarm.bin")
	sum, err := writeRandom(src, c.size)
	if err != nil {
		return err
	}
	b := &metainfo.Builder{Version: metainfo.V1, PieceLength: c.piece, Trackers: [][]string{{announce}}}
	mi, err := b.Build(ctx, src)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "torrent %s: %s in %d pieces; tracker %s\n", mi.InfoHash(), size(float64(c.size)), mi.Info().NumPieces(), announce)

	// The seeder finds its data complete in its DataDir and seeds it.
	seeder, err := newPeer(ctx, "seeder", filepath.Join(c.dir, "seeder"), mi, c.utp)
	if err != nil {
		return err
	}
	defer seeder.s.Close()

	// The leechers get no peer addresses: each finds the others, and the
	// seeder, by announcing to the tracker named in the torrent.
	start := time.Now()
	leechers := make([]*peer, c.leechers)
	for i := range leechers {
		dir := filepath.Join(c.dir, fmt.Sprintf("leecher%d", i+1))
		if err := os.RemoveAll(dir); err != nil { // a previous run's copy in -dir
			return err
		}
		p, err := newPeer(ctx, fmt.Sprintf("leecher %d", i+1), dir, mi, c.utp)
		if err != nil {
			return err
		}
		defer p.s.Close()
		leechers[i] = p
	}

	// Wait until each torrent is complete (every piece verified), drawing
	// the progress meanwhile.
	if err := watch(ctx, stdout, start, leechers); err != nil {
		return err
	}
	elapsed := time.Since(start)

	for _, p := range leechers {
		got, err := hashFile(filepath.Join(p.dir, mi.Info().Name))
		if err != nil {
			return fmt.Errorf("%s: %w", p.name, err)
		}
		if got != sum {
			return fmt.Errorf("%s: its copy differs from the source", p.name)
		}
	}
	summary(stdout, c, elapsed, sum, append([]*peer{seeder}, leechers...))
	return nil
}

// newPeer starts a Session listening on loopback and adds the torrent,
// keeping its data in dir. With utp it dials over uTP only (its TCP
// dialer refuses), so every connection of the swarm runs over uTP.
func newPeer(ctx context.Context, name, dir string, mi *metainfo.MetaInfo, utp bool) (*peer, error) {
	cfg := &bittern.Config{ListenAddr: "127.0.0.1:0", DataDir: dir}
	if utp {
		cfg.UTP, cfg.Dialer = true, noTCP{}
	}
	s, err := bittern.NewSession(cfg)
	if err != nil {
		return nil, err
	}
	t, err := s.AddTorrent(ctx, mi, nil)
	if err != nil {
		s.Close()
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return &peer{name: name, dir: dir, s: s, t: t}, nil
}

// summary prints the outcome: time, throughput and each peer's uploads.
func summary(w io.Writer, c config, elapsed time.Duration, sum [32]byte, peers []*peer) {
	delivered := float64(c.size) * float64(c.leechers)
	fmt.Fprintf(w, "done: %d leechers × %s in %v: %.1f MiB/s delivered\n",
		c.leechers, size(float64(c.size)), elapsed.Round(time.Millisecond), delivered/(1<<20)/elapsed.Seconds())
	fmt.Fprintf(w, "verified: %d copies match the source (sha256 %x…)\n", c.leechers, sum[:8])
	var byLeechers int64
	for i, p := range peers {
		st := p.t.Stats()
		if i > 0 {
			byLeechers += st.Uploaded
		}
		fmt.Fprintf(w, "%-11s uploaded %11d bytes (%9s), downloaded %11d bytes, %d tracker announces\n",
			p.name+":", st.Uploaded, size(float64(st.Uploaded)), st.Downloaded, st.TrackerAnnounces)
	}
	fmt.Fprintf(w, "leechers uploaded %s to each other: %.0f%% of what they received\n",
		size(float64(byLeechers)), 100*float64(byLeechers)/delivered)
}

// noTCP is the TCP dialer of a uTP-only swarm: it refuses every dial.
type noTCP struct{}

// DialContext implements bittern.Dialer.
func (noTCP) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	return nil, fmt.Errorf("dial %s %s: TCP is off in this uTP swarm", network, addr)
}
