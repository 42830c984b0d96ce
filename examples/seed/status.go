package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/bittern/bittern"
)

// status shows what a seeding torrent uploads: a line redrawn in place on a
// terminal, or a plain line every plainEvery otherwise.
type status struct {
	w        io.Writer
	terminal bool
	drawn    bool // a status line is on the current line
}

const (
	redrawEvery = 500 * time.Millisecond
	plainEvery  = 5 * time.Second
)

func newStatus(w io.Writer) *status {
	return &status{w: w, terminal: isTerminal(w)}
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

// printf prints a line, first ending a status line in progress.
func (s *status) printf(format string, args ...any) {
	if s.drawn {
		fmt.Fprint(s.w, "\n")
		s.drawn = false
	}
	fmt.Fprintf(s.w, format, args...)
}

// follow shows t's upload until ctx ends.
func (s *status) follow(ctx context.Context, t *bittern.Torrent) {
	every := plainEvery
	if s.terminal {
		every = redrawEvery
	}
	tick := time.NewTicker(every)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
			s.show(t.Stats())
		}
	}
}

func (s *status) show(st bittern.TorrentStats) {
	line := fmt.Sprintf("uploaded %s  up %s/s  %d peers", size(float64(st.Uploaded)), size(st.UploadRate), st.Peers)
	if !s.terminal {
		fmt.Fprintln(s.w, line)
		return
	}
	fmt.Fprintf(s.w, "\r%s\x1b[K", line)
	s.drawn = true
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
