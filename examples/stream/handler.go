package main

import (
	"context"
	"errors"
	"fmt"
	"html"
	"net"
	"net/http"
	"net/url"
	"path"
	"strconv"
	"time"

	"github.com/bittern/bittern"
)

// shutdownTimeout bounds how long responses under way may take to finish
// once serving stops; then their connections are closed.
const shutdownTimeout = 2 * time.Second

// servable reports whether f is served: not a pad file, and selected.
func servable(f *bittern.File) bool {
	return !f.Pad() && f.Priority() > bittern.PrioritySkip
}

// filePath is the URL path of f: /<index>/<base name>, escaped.
func filePath(f *bittern.File) string {
	return "/" + strconv.Itoa(f.Index()) + "/" + url.PathEscape(path.Base(f.Path()))
}

// newHandler serves the torrent's files: "/" lists them, and
// "/<index>/<name>" serves one with http.ServeContent over a Reader (the
// name is only for players and browsers; the index selects the file).
func newHandler(t *bittern.Torrent) http.Handler {
	files := t.Files()
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprintf(w, "<!doctype html>\n<title>%s</title>\n<ul>\n", html.EscapeString(t.MetaInfo().Info().Name))
		for _, f := range files {
			if servable(f) {
				fmt.Fprintf(w, "<li><a href=\"%s\">%s</a> (%d bytes, %d%% here)\n",
					html.EscapeString(filePath(f)), html.EscapeString(f.Path()), f.Length(), percent(f.BytesCompleted(), f.Length()))
			}
		}
		fmt.Fprintln(w, "</ul>")
	})
	mux.HandleFunc("GET /{index}/{name}", func(w http.ResponseWriter, r *http.Request) {
		i, err := strconv.Atoi(r.PathValue("index"))
		if err != nil || i < 0 || i >= len(files) || !servable(files[i]) {
			http.NotFound(w, r)
			return
		}
		f := files[i]
		rd := f.NewReader()
		defer rd.Close()
		rd.SetContext(r.Context())
		http.ServeContent(w, r, path.Base(f.Path()), time.Time{}, rd)
	})
	return mux
}

// percent is 100*n/total, rounded down; 100 for an empty file.
func percent(n, total int64) int64 {
	if total == 0 {
		return 100
	}
	return n * 100 / total
}

// serve runs an HTTP server on ln until ctx ends, then shuts it down:
// requests under way get shutdownTimeout to finish, then their
// connections (and the reads they wait on) are closed.
func serve(ctx context.Context, ln net.Listener, h http.Handler) error {
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		srv.Close()
	}
	if err := <-errc; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
