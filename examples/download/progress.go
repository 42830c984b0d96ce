package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/bittern/bittern"
)

// progress shows a torrent's progress: a bar redrawn in place on a
// terminal, or a plain line every plainEvery otherwise.
type progress struct {
	w        io.Writer
	terminal bool
	drawn    bool // a bar is on the current line
}

const (
	barEvery   = 250 * time.Millisecond
	plainEvery = 5 * time.Second
	barWidth   = 30
)

func newProgress(w io.Writer) *progress {
	return &progress{w: w, terminal: isTerminal(w)}
}

// isTerminal reports whether w is a character device, such as a terminal,
// and TERM does not say it cannot redraw a line.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok || os.Getenv("TERM") == "dumb" {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

// printf prints a line, first ending a bar in progress.
func (p *progress) printf(format string, args ...any) {
	if p.drawn {
		fmt.Fprint(p.w, "\n")
		p.drawn = false
	}
	fmt.Fprintf(p.w, format, args...)
}

// follow shows t's progress until done is closed (nil) or ctx ends (its
// error). A nil done waits for ctx only.
func (p *progress) follow(ctx context.Context, t *bittern.Torrent, done <-chan struct{}) error {
	every := plainEvery
	if p.terminal {
		every = barEvery
	}
	tick := time.NewTicker(every)
	defer tick.Stop()
	for {
		select {
		case <-done:
			p.show(t.Stats())
			return nil
		case <-ctx.Done():
			p.show(t.Stats())
			return ctx.Err()
		case <-tick.C:
			p.show(t.Stats())
		}
	}
}

func (p *progress) show(st bittern.TorrentStats) {
	pct := 100.0
	if st.Length > 0 {
		pct = 100 * float64(st.BytesHave) / float64(st.Length)
	}
	eta := "-"
	if st.ETA > 0 {
		eta = st.ETA.Round(time.Second).String()
	}
	status := fmt.Sprintf("%5.1f%% %s/%s  down %s/s  up %s/s  %d peers  eta %s",
		pct, size(float64(st.BytesHave)), size(float64(st.Length)),
		size(st.DownloadRate), size(st.UploadRate), st.Peers, eta)
	if !p.terminal {
		fmt.Fprintln(p.w, status)
		return
	}
	fill := barWidth * st.PiecesHave / max(st.Pieces, 1)
	fmt.Fprintf(p.w, "\r[%s%s] %s\x1b[K", strings.Repeat("=", fill), strings.Repeat(" ", barWidth-fill), status)
	p.drawn = true
}

// size formats a byte count with a binary unit.
func size(b float64) string {
	units := []string{"B", "KiB", "MiB", "GiB", "TiB"}
	i := 0
	for b >= 1024 && i < len(units)-1 {
		b /= 1024
		i++
	}
	if i == 0 {
		return fmt.Sprintf("%.0f %s", b, units[i])
	}
	return fmt.Sprintf("%.1f %s", b, units[i])
}
