package bittern

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/bittern/bittern/metainfo"
	"github.com/bittern/bittern/peerwire"
)

// WebSeedStatusError is a web seed's answer with an unexpected HTTP status.
// 404 and 410 leave the web seed alone for a while; 429 and 5xx with a
// Retry-After header for that long, others with exponential backoff.
type WebSeedStatusError struct {
	// StatusCode is the HTTP status code.
	StatusCode int
	// RetryAfter is the server's Retry-After (429, 5xx); zero if none.
	RetryAfter time.Duration
	// URL is the URL requested (after the web seed's path was built).
	URL string
}

func (e *WebSeedStatusError) Error() string {
	return fmt.Sprintf("bittern: web seed %s: HTTP %d %s", e.URL, e.StatusCode, http.StatusText(e.StatusCode))
}

// gone reports a status that says the file is not there.
func (e *WebSeedStatusError) gone() bool {
	return e.StatusCode == http.StatusNotFound || e.StatusCode == http.StatusGone
}

// runWebSeedJob is a request job's goroutine: it fetches the job's blocks
// in order, each run of contiguous blocks with one ranged GET per file it
// spans, and posts each block to the owner as it is read, then the end.
func (t *Torrent) runWebSeedJob(parent context.Context, job *webSeedJob) {
	defer t.wg.Done()
	ctx, cancel := context.WithCancel(parent)
	defer cancel()
	// The stall watchdog: reset whenever a block arrives or we waited.
	stall := time.AfterFunc(webSeedStall, cancel)
	defer stall.Stop()
	err := t.fetchWebSeedJob(ctx, job, stall)
	if err != nil && ctx.Err() != nil && parent.Err() == nil {
		err = fmt.Errorf("%w: no data for %v", errWebSeedStalled, webSeedStall)
	}
	t.inbox.post(func() { t.onWebSeedJobDone(job, err) })
}

// fetchWebSeedJob reads the job's blocks. stall, the watchdog that
// cancels ctx, is held while we wait and restarted after each block.
func (t *Torrent) fetchWebSeedJob(ctx context.Context, job *webSeedJob, stall *time.Timer) error {
	offsetOf := func(k int) (off int64, n int) { return job.spans[k].off, job.spans[k].n }
	for k := 0; k < len(job.blocks); {
		// A run of contiguous blocks [k, end).
		start, n := offsetOf(k)
		stop := start + int64(n)
		end := k + 1
		for ; end < len(job.blocks); end++ {
			off, n := offsetOf(end)
			if off != stop {
				break
			}
			stop += int64(n)
		}
		rr := &webSeedRun{t: t, ctx: ctx, ws: job.ws, off: start, end: stop}
		for ; k < end; k++ {
			_, n := offsetOf(k)
			if err := t.readWebSeedBlock(ctx, job, k, n, rr, stall); err != nil {
				rr.close()
				return err
			}
		}
		if err := rr.close(); err != nil {
			return err
		}
	}
	return nil
}

// readWebSeedBlock reads block k of the job (n bytes) from the run and
// posts it to the owner, within the queue and rate limits. The stall
// watchdog does not run while we wait for those.
func (t *Torrent) readWebSeedBlock(ctx context.Context, job *webSeedJob, k, n int, rr *webSeedRun, stall *time.Timer) error {
	ws := job.ws
	stall.Stop()
	if !t.acquireWebSeedToken(ctx, ws) {
		return ctx.Err()
	}
	stall.Reset(webSeedStall)
	data := peerwire.GetBlock()[:n]
	if _, err := io.ReadFull(rr, data); err != nil {
		peerwire.PutBlock(data)
		t.releaseWebSeedToken(ws)
		return err
	}
	t.downloaded.Add(int64(n))
	t.webSeeds.bytes.Add(int64(n))
	t.inbox.post(func() { t.onWebSeedBlock(job, k, data) })
	stall.Stop()
	if !t.downLimit.wait(n, ctx.Done()) || !t.s.downLimit.wait(n, ctx.Done()) {
		return ctx.Err()
	}
	stall.Reset(webSeedStall)
	return nil
}

// webSeedRun reads the torrent's bytes [off, end) from a web seed: one
// GET per file the range touches, opened as reading reaches it. Pad files
// read as zeros without a request.
type webSeedRun struct {
	t        *Torrent
	ctx      context.Context
	ws       *webSeed
	off, end int64 // the next byte to read, the end of the run

	body     io.ReadCloser // the current file's response, or nil
	segLeft  int64         // bytes left in the current segment
	zeroLeft int64         // bytes left in the current pad segment
}

func (r *webSeedRun) Read(p []byte) (int, error) {
	for r.segLeft == 0 && r.zeroLeft == 0 {
		if err := r.close(); err != nil {
			return 0, err
		}
		if r.off >= r.end {
			return 0, io.EOF
		}
		if err := r.open(); err != nil {
			return 0, err
		}
	}
	if r.zeroLeft > 0 {
		n := int(min(int64(len(p)), r.zeroLeft))
		clear(p[:n])
		r.zeroLeft -= int64(n)
		r.off += int64(n)
		return n, nil
	}
	p = p[:min(int64(len(p)), r.segLeft)]
	n, err := r.body.Read(p)
	r.segLeft -= int64(n)
	r.off += int64(n)
	if err == io.EOF {
		if r.segLeft > 0 {
			return n, fmt.Errorf("%w: body ended %d bytes short", ErrWebSeedResponse, r.segLeft)
		}
		err = nil
	}
	return n, err
}

// open starts the segment of the file holding r.off.
func (r *webSeedRun) open() error {
	info := r.t.info
	fi := info.FileIndex(r.off)
	if fi < 0 {
		return fmt.Errorf("%w: offset %d outside the torrent", ErrWebSeedResponse, r.off)
	}
	f := &info.Files[fi]
	within := r.off - f.Offset
	n := min(r.end, f.Offset+f.Length) - r.off
	if f.Pad {
		r.zeroLeft = n
		return nil
	}
	u := webSeedFileURL(r.ws.url, info, f)
	body, err := r.t.s.webSeedGet(r.ctx, u, within, n, f.Length)
	if err != nil {
		return err
	}
	r.body, r.segLeft = body, n
	return nil
}

// close ends the current segment's response. A body with bytes past the
// range asked for (an unknown length that goes on) is an error; it is
// never read further.
func (r *webSeedRun) close() error {
	if r.body == nil {
		return nil
	}
	body := r.body
	r.body = nil
	defer body.Close()
	if r.segLeft > 0 {
		return nil // abandoned midway
	}
	var probe [1]byte
	if n, _ := body.Read(probe[:]); n > 0 {
		return fmt.Errorf("%w: body longer than the range", ErrWebSeedResponse)
	}
	return nil
}

// webSeedFileURL builds the URL of file f of the torrent on web seed base
// (BEP 19): a single-file torrent's URL is base itself, or base + name if
// base ends in '/'; a multi-file torrent's is base + name + '/' + path,
// base taken as a directory. Name and path elements are percent-escaped.
func webSeedFileURL(base string, info *metainfo.Info, f *metainfo.File) string {
	if info.SingleFile {
		if strings.HasSuffix(base, "/") {
			return base + url.PathEscape(info.Name)
		}
		return base
	}
	if !strings.HasSuffix(base, "/") {
		if realFiles(info) <= 1 {
			return base // as metainfo: one real file, the URL names it
		}
		base += "/"
	}
	var sb strings.Builder
	sb.WriteString(base)
	sb.WriteString(url.PathEscape(info.Name))
	for _, p := range f.Path {
		sb.WriteByte('/')
		sb.WriteString(url.PathEscape(p))
	}
	return sb.String()
}

// realFiles counts the files that are not BEP 47 pad files.
func realFiles(info *metainfo.Info) int {
	n := 0
	for i := range info.Files {
		if !info.Files[i].Pad {
			n++
		}
	}
	return n
}

// webSeedGet asks u for bytes [off, off+n) of a file of size total and
// returns the body, checked to be that range. A request for the whole file
// goes without a Range header and takes a 200; any other needs a 206 with
// the matching Content-Range.
func (s *Session) webSeedGet(ctx context.Context, u string, off, n, total int64) (io.ReadCloser, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	whole := off == 0 && n == total
	if !whole {
		req.Header.Set("Range", fmt.Sprintf("bytes=%d-%d", off, off+n-1))
	}
	req.Header.Set("User-Agent", webSeedUserAgent)
	resp, err := s.webClient().Do(req)
	if err != nil {
		return nil, err
	}
	fail := func(err error) (io.ReadCloser, error) {
		resp.Body.Close()
		return nil, err
	}
	switch {
	case resp.StatusCode == http.StatusPartialContent:
		if err := checkContentRange(resp.Header.Get("Content-Range"), off, n); err != nil {
			return fail(err)
		}
	case resp.StatusCode == http.StatusOK && whole:
	case resp.StatusCode == http.StatusOK:
		return fail(fmt.Errorf("%w: HTTP 200 to a ranged request (no range support)", ErrWebSeedResponse))
	case resp.StatusCode >= 200 && resp.StatusCode < 300:
		return fail(fmt.Errorf("%w: HTTP %d", ErrWebSeedResponse, resp.StatusCode))
	default:
		se := &WebSeedStatusError{StatusCode: resp.StatusCode, URL: u}
		if resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode >= 500 {
			se.RetryAfter = parseRetryAfter(resp.Header.Get("Retry-After"), time.Now())
		}
		return fail(se)
	}
	if resp.ContentLength >= 0 && resp.ContentLength != n {
		return fail(fmt.Errorf("%w: %d bytes for a range of %d", ErrWebSeedResponse, resp.ContentLength, n))
	}
	return resp.Body, nil
}

// webSeedUserAgent is the User-Agent of web seed requests.
const webSeedUserAgent = "bittern"

// checkContentRange checks a 206's Content-Range ("bytes a-b/total" or
// "bytes a-b/*") against the range [off, off+n) asked for.
func checkContentRange(h string, off, n int64) error {
	bad := fmt.Errorf("%w: Content-Range %q for bytes %d-%d", ErrWebSeedResponse, h, off, off+n-1)
	rest, ok := strings.CutPrefix(h, "bytes ")
	if !ok {
		return bad
	}
	span, _, ok := strings.Cut(rest, "/")
	if !ok {
		return bad
	}
	a, b, ok := strings.Cut(strings.TrimSpace(span), "-")
	if !ok {
		return bad
	}
	first, err1 := strconv.ParseInt(a, 10, 64)
	last, err2 := strconv.ParseInt(b, 10, 64)
	if err1 != nil || err2 != nil || first != off || last != off+n-1 {
		return bad
	}
	return nil
}

// parseRetryAfter reads a Retry-After header: delay seconds or an HTTP
// date. Zero if absent or malformed.
func parseRetryAfter(h string, now time.Time) time.Duration {
	if h == "" {
		return 0
	}
	if secs, err := strconv.ParseInt(strings.TrimSpace(h), 10, 64); err == nil {
		if secs <= 0 {
			return 0
		}
		return time.Duration(min(secs, int64(webSeedMaxRetryAfter/time.Second))) * time.Second
	}
	if at, err := http.ParseTime(h); err == nil && at.After(now) {
		return at.Sub(now)
	}
	return 0
}

// errWebSeedStalled reports a request that received nothing for
// webSeedStall.
var errWebSeedStalled = errors.New("bittern: web seed stalled")

// errWebSeedRedirects stops a redirect chain that is too long.
var errWebSeedRedirects = errors.New("bittern: web seed: too many redirects")
