package tracker

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"

	"github.com/bittern/bittern/metainfo"
)

// HTTPTracker is an HTTP(S) tracker client (BEP 3, 7, 23, 24, 48). It
// remembers the tracker's "tracker id". Safe for concurrent use.
type HTTPTracker struct {
	url       string
	scrapeURL string // "" if the tracker has none
	cfg       Config

	mu        sync.Mutex
	trackerID string
}

// NewHTTP returns a client for an http:// or https:// announce URL. cfg may
// be nil.
func NewHTTP(announceURL string, cfg *Config) (*HTTPTracker, error) {
	u, err := url.Parse(announceURL)
	if err != nil {
		return nil, fmt.Errorf("tracker: %w", err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return nil, fmt.Errorf("%w: %q", ErrUnsupportedScheme, u.Scheme)
	}
	if u.Host == "" {
		return nil, fmt.Errorf("tracker: %q: no host", announceURL)
	}
	t := &HTTPTracker{url: announceURL, cfg: cfg.orDefault()}
	t.scrapeURL, _ = ScrapeURL(announceURL)
	return t, nil
}

// URL returns the announce URL.
func (t *HTTPTracker) URL() string { return t.url }

// Close does nothing: connections belong to Config.HTTPClient.
func (t *HTTPTracker) Close() error { return nil }

// ScrapeURL derives the scrape URL of an HTTP announce URL (BEP 48): the
// last path segment must start with "announce", which becomes "scrape".
// Otherwise it returns ErrNoScrape.
func ScrapeURL(announceURL string) (string, error) {
	u, err := url.Parse(announceURL)
	if err != nil {
		return "", fmt.Errorf("tracker: %w", err)
	}
	i := strings.LastIndexByte(u.Path, '/')
	last := u.Path[i+1:]
	if !strings.HasPrefix(last, "announce") {
		return "", ErrNoScrape
	}
	u.Path = u.Path[:i+1] + "scrape" + strings.TrimPrefix(last, "announce")
	u.RawPath = ""
	return u.String(), nil
}

// escapeBinary percent-encodes b for a query string: unreserved characters
// (RFC 3986) stay, every other byte becomes %XX.
func escapeBinary(dst []byte, b []byte) []byte {
	const hexDigits = "0123456789ABCDEF"
	for _, c := range b {
		if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '.' || c == '_' || c == '~' {
			dst = append(dst, c)
			continue
		}
		dst = append(dst, '%', hexDigits[c>>4], hexDigits[c&15])
	}
	return dst
}

// withQuery appends query to a URL that may already have one (a passkey).
func withQuery(base string, query []byte) string {
	sep := "?"
	if strings.Contains(base, "?") {
		sep = "&"
	}
	if i := strings.IndexByte(base, '#'); i >= 0 {
		base = base[:i]
	}
	return base + sep + string(query)
}

// AnnounceURL returns the full GET URL for req (exposed for logging and
// tests).
func (t *HTTPTracker) AnnounceURL(req AnnounceRequest) string {
	q := make([]byte, 0, 256)
	q = append(q, "info_hash="...)
	q = escapeBinary(q, req.InfoHash[:])
	q = append(q, "&peer_id="...)
	q = escapeBinary(q, req.PeerID[:])
	q = append(q, "&port="...)
	q = strconv.AppendUint(q, uint64(req.Port), 10)
	q = append(q, "&uploaded="...)
	q = strconv.AppendInt(q, max(req.Uploaded, 0), 10)
	q = append(q, "&downloaded="...)
	q = strconv.AppendInt(q, max(req.Downloaded, 0), 10)
	q = append(q, "&left="...)
	q = strconv.AppendInt(q, max(req.Left, 0), 10)
	q = append(q, "&compact=1&no_peer_id=1"...)
	if ev := req.Event.String(); ev != "" {
		q = append(q, "&event="...)
		q = append(q, ev...)
	}
	switch {
	case req.Event == EventStopped || req.NumWant < 0:
		q = append(q, "&numwant=0"...)
	case req.NumWant > 0:
		q = append(q, "&numwant="...)
		q = strconv.AppendInt(q, int64(req.NumWant), 10)
	}
	if req.Key != 0 {
		q = fmt.Appendf(q, "&key=%08X", req.Key)
	}
	tid := req.TrackerID
	if tid == "" {
		t.mu.Lock()
		tid = t.trackerID
		t.mu.Unlock()
	}
	if tid != "" {
		q = append(q, "&trackerid="...)
		q = escapeBinary(q, []byte(tid))
	}
	if ip := req.IP.Unmap(); ip.IsValid() {
		if ip.Is6() {
			q = append(q, "&ipv6="...) // BEP 7
		} else {
			q = append(q, "&ip="...)
		}
		q = escapeBinary(q, []byte(ip.WithZone("").String()))
	}
	return withQuery(t.url, q)
}

// Announce sends an HTTP announce. A tracker refusal is a *FailureError; a
// reply that cannot be parsed matches ErrMalformed; a body larger than
// Config.MaxResponseSize is ErrResponseTooLarge.
func (t *HTTPTracker) Announce(ctx context.Context, req AnnounceRequest) (r *AnnounceResponse, err error) {
	defer func() { logAnnounce(ctx, t.cfg.Logger, t.url, &req, r, err) }()
	body, err := t.get(ctx, t.AnnounceURL(req))
	if err != nil {
		return nil, err
	}
	r, err = ParseAnnounceResponse(body)
	if err != nil {
		return nil, err
	}
	if r.TrackerID != "" {
		t.mu.Lock()
		t.trackerID = r.TrackerID
		t.mu.Unlock()
	}
	return r, nil
}

// Scrape sends an HTTP scrape (BEP 48) for up to MaxScrapeHashes swarms.
// It returns ErrNoScrape if the announce URL has no scrape counterpart.
func (t *HTTPTracker) Scrape(ctx context.Context, hashes ...metainfo.Hash) (map[metainfo.Hash]ScrapeStats, error) {
	if t.scrapeURL == "" {
		return nil, ErrNoScrape
	}
	if len(hashes) > MaxScrapeHashes {
		return nil, ErrTooManyHashes
	}
	q := make([]byte, 0, 64*len(hashes))
	for i, h := range hashes {
		if i > 0 {
			q = append(q, '&')
		}
		q = append(q, "info_hash="...)
		q = escapeBinary(q, h[:])
	}
	u := t.scrapeURL
	if len(q) > 0 {
		u = withQuery(u, q)
	}
	body, err := t.get(ctx, u)
	if err != nil {
		return nil, err
	}
	return ParseScrapeResponse(body)
}

// get fetches u and returns its (decompressed, size-bounded) body. A non-200
// status is a *StatusError unless the body holds a failure reason.
func (t *HTTPTracker) get(ctx context.Context, u string) ([]byte, error) {
	hreq, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, fmt.Errorf("tracker: %w", err)
	}
	hreq.Header.Set("User-Agent", t.cfg.UserAgent)
	// Asked for explicitly, so the body arrives compressed and the size
	// limit applies to the decompressed bytes below.
	hreq.Header.Set("Accept-Encoding", "gzip")
	resp, err := t.cfg.HTTPClient.Do(hreq)
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, fmt.Errorf("tracker: %w", err)
	}
	defer resp.Body.Close()
	body, err := readBody(resp, t.cfg.MaxResponseSize)
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		if d, err := decodeDict(body, "error"); err == nil {
			if ferr := d.failure(); ferr != nil {
				return nil, ferr
			}
		}
		return nil, &StatusError{Code: resp.StatusCode, Status: resp.Status}
	}
	return body, nil
}

// gzipMagic starts every gzip stream; no bencoded value starts with it, so
// a gzip body is recognised even without a Content-Encoding header.
var gzipMagic = []byte{0x1f, 0x8b}

// readBody reads at most limit bytes of (decompressed) body.
func readBody(resp *http.Response, limit int64) ([]byte, error) {
	raw, err := readLimited(resp.Body, limit)
	if err != nil {
		return nil, err
	}
	if !strings.EqualFold(resp.Header.Get("Content-Encoding"), "gzip") && !bytes.HasPrefix(raw, gzipMagic) {
		return raw, nil
	}
	zr, err := gzip.NewReader(bytes.NewReader(raw))
	if err != nil {
		return nil, &MalformedError{Field: "gzip", Err: err}
	}
	out, err := readLimited(zr, limit)
	if err != nil && !errors.Is(err, ErrResponseTooLarge) {
		return nil, &MalformedError{Field: "gzip", Err: err}
	}
	return out, err
}

func readLimited(r io.Reader, limit int64) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(r, limit+1))
	if err != nil {
		return nil, fmt.Errorf("tracker: reading reply: %w", err)
	}
	if int64(len(b)) > limit {
		return nil, fmt.Errorf("%w (over %d bytes)", ErrResponseTooLarge, limit)
	}
	return b, nil
}
