package main

import (
	"context"
	"fmt"
	"io"
	"math"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/bittern/bittern"
	"github.com/vbauerster/mpb/v8"
	"github.com/vbauerster/mpb/v8/decor"
)

// A view shows the leechers' progress.
type view interface {
	// update shows the leechers' stats, in the order of the leechers.
	update(elapsed time.Duration, st []bittern.TorrentStats)
	// stop ends the display; complete says whether every leecher finished.
	stop(complete bool)
}

// watch shows the leechers' progress on w, timed from start, until every
// leecher's torrent is complete (nil) or ctx ends (an error saying how far
// each one got): bars on a terminal, a plain line about once a second
// otherwise.
func watch(ctx context.Context, w io.Writer, start time.Time, leechers []*peer) error {
	var v view = &lines{w: w}
	every := time.Second
	if isTerminal(w) {
		v, every = newBars(w, leechers), 100*time.Millisecond
	}
	done := make(chan error, 1)
	go func() {
		var first error
		for _, p := range leechers {
			if err := p.t.Wait(ctx); err != nil && first == nil {
				first = err
			}
		}
		done <- first
	}()
	tick := time.NewTicker(every)
	defer tick.Stop()
	for {
		select {
		case err := <-done:
			st := stats(leechers)
			v.update(time.Since(start), st)
			v.stop(err == nil)
			if err != nil {
				return fmt.Errorf("stopped after %v (%v): %s", time.Since(start).Round(time.Second), err, percents(leechers, st))
			}
			return nil
		case <-tick.C:
			v.update(time.Since(start), stats(leechers))
		}
	}
}

// stats returns the leechers' stats.
func stats(leechers []*peer) []bittern.TorrentStats {
	st := make([]bittern.TorrentStats, len(leechers))
	for i, p := range leechers {
		st[i] = p.t.Stats()
	}
	return st
}

// percent is how much of its torrent a leecher has verified, rounded
// down to a tenth so that only a complete torrent shows 100.0.
func percent(st bittern.TorrentStats) float64 {
	if st.Length == 0 {
		return 100
	}
	return math.Floor(1000*float64(st.BytesHave)/float64(st.Length)) / 10
}

// percents says how far each leecher got.
func percents(leechers []*peer, st []bittern.TorrentStats) string {
	s := make([]string, len(st))
	for i := range st {
		s[i] = fmt.Sprintf("%s at %.1f%%", leechers[i].name, percent(st[i]))
	}
	return strings.Join(s, ", ")
}

// totalRate is the swarm's download rate, bytes/s.
func totalRate(st []bittern.TorrentStats) float64 {
	var r float64
	for _, s := range st {
		r += s.DownloadRate
	}
	return r
}

// lines prints one plain line per update: each leecher's percentage and
// the total rate.
type lines struct{ w io.Writer }

func (l *lines) update(elapsed time.Duration, st []bittern.TorrentStats) {
	var b strings.Builder
	fmt.Fprintf(&b, "%6.1fs  leechers", elapsed.Seconds())
	for _, s := range st {
		fmt.Fprintf(&b, " %5.1f%%", percent(s))
	}
	fmt.Fprintf(&b, "  total %s/s\n", size(totalRate(st)))
	io.WriteString(l.w, b.String())
}

func (l *lines) stop(bool) {}

// bars draws a progress bar per leecher and one for the whole swarm with
// mpb, which redraws them from its own goroutine.
type bars struct {
	p     *mpb.Progress
	each  []*mpb.Bar
	total *mpb.Bar

	mu sync.Mutex // guards st, read by the decorators
	st []bittern.TorrentStats
}

func newBars(w io.Writer, leechers []*peer) *bars {
	b := &bars{
		p:  mpb.New(mpb.WithOutput(w), mpb.WithWidth(40), mpb.WithRefreshRate(100*time.Millisecond)),
		st: make([]bittern.TorrentStats, len(leechers)),
	}
	length := leechers[0].t.MetaInfo().Info().TotalLength()
	for i, p := range leechers {
		b.each = append(b.each, b.p.AddBar(length,
			mpb.PrependDecorators(decor.Name(p.name, decor.WCSyncSpaceR)),
			mpb.AppendDecorators(
				decor.Percentage(decor.WCSyncSpace),
				decor.Any(func(decor.Statistics) string {
					st := b.get()[i]
					return fmt.Sprintf("↓ %s/s  ↑ %s/s  peers %d", size(st.DownloadRate), size(st.UploadRate), st.Peers)
				}, decor.WCSyncSpace),
			)))
	}
	b.total = b.p.AddBar(length*int64(len(leechers)),
		mpb.PrependDecorators(decor.Name("swarm", decor.WCSyncSpaceR)),
		mpb.AppendDecorators(
			decor.Percentage(decor.WCSyncSpace),
			decor.Any(func(decor.Statistics) string { return "↓ " + size(totalRate(b.get())) + "/s total" }, decor.WCSyncSpace),
		))
	return b
}

// get returns the last stats shown.
func (b *bars) get() []bittern.TorrentStats {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.st
}

func (b *bars) update(_ time.Duration, st []bittern.TorrentStats) {
	b.mu.Lock()
	b.st = st
	b.mu.Unlock()
	var sum int64
	for i, s := range st {
		b.each[i].SetCurrent(s.BytesHave)
		sum += s.BytesHave
	}
	b.total.SetCurrent(sum)
}

func (b *bars) stop(complete bool) {
	if !complete {
		for _, bar := range append(b.each, b.total) {
			bar.Abort(false)
		}
	}
	b.p.Wait()
}

// isTerminal reports whether w is a character device, such as a terminal,
// and TERM does not say it cannot redraw.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok || os.Getenv("TERM") == "dumb" {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}
