package spec

import (
	"context"
	"errors"
	"fmt"
	"net"
	"regexp"
	"time"

	"github.com/bittern/bittern/metainfo"
)

// Result is the outcome of one case.
type Result string

// The results a case can have.
const (
	Pass          Result = "pass"
	Fail          Result = "fail"
	NotApplicable Result = "n/a" // the peer or torrent lacks what the case needs
)

// Default bounds used when the Target leaves them zero.
const (
	DefaultTimeout = 20 * time.Second
	DefaultQuiet   = 3 * time.Second
)

// ErrNoInfo reports a Target without an info dictionary.
var ErrNoInfo = errors.New("btspec: target has no torrent")

// Target is the peer under test and the torrent it has in full.
type Target struct {
	// Addr is the peer's "host:port".
	Addr string
	// MetaInfo is the torrent the peer seeds.
	MetaInfo *metainfo.MetaInfo
	// Timeout bounds each case (dial, handshake and every wait inside it).
	// If zero, DefaultTimeout.
	Timeout time.Duration
	// Quiet is how long a case waits to conclude that the peer does not
	// send something (for example a piece it must not send). If zero,
	// DefaultQuiet.
	Quiet time.Duration
	// Dial opens a connection. If nil, a net.Dialer.
	Dial func(ctx context.Context, network, addr string) (net.Conn, error)
}

// CaseResult is the outcome of one case as reported.
type CaseResult struct {
	ID     string `json:"id"`
	BEP    string `json:"bep"`
	Title  string `json:"title"`
	Result Result `json:"result"`
	Detail string `json:"detail"`
}

// Report is the outcome of a run.
type Report struct {
	Peer  string       `json:"peer"`
	Cases []CaseResult `json:"cases"`
}

// Failed returns the cases that failed.
func (r *Report) Failed() []CaseResult {
	var out []CaseResult
	for _, c := range r.Cases {
		if c.Result == Fail {
			out = append(out, c)
		}
	}
	return out
}

// Result returns the result of the case with the given ID, and whether
// the report holds it.
func (r *Report) Result(id string) (CaseResult, bool) {
	for _, c := range r.Cases {
		if c.ID == id {
			return c, true
		}
	}
	return CaseResult{}, false
}

// Case is one numbered check.
type Case struct {
	ID    string // "section.number", e.g. "3.2"
	BEP   string // the BEP and section the rule comes from
	Title string // what the peer must do
	run   func(ctx context.Context, t *Target) (Result, string)
}

// Cases returns every case in order.
func Cases() []Case { return append([]Case(nil), allCases...) }

// Run runs every case whose ID matches filter (all if filter is nil), one
// connection each, in order, and reports them. A canceled ctx stops the run
// after the current case; the cases not run are absent from the report.
func Run(ctx context.Context, t *Target, filter *regexp.Regexp) (*Report, error) {
	if t.MetaInfo == nil || t.MetaInfo.Info() == nil {
		return nil, ErrNoInfo
	}
	rep := &Report{Peer: t.Addr, Cases: []CaseResult{}}
	for _, c := range allCases {
		if filter != nil && !filter.MatchString(c.ID) {
			continue
		}
		if err := ctx.Err(); err != nil {
			return rep, err
		}
		res, detail := runCase(ctx, t, c)
		rep.Cases = append(rep.Cases, CaseResult{ID: c.ID, BEP: c.BEP, Title: c.Title, Result: res, Detail: detail})
	}
	return rep, nil
}

func runCase(ctx context.Context, t *Target, c Case) (res Result, detail string) {
	ctx, cancel := context.WithTimeout(ctx, t.timeout())
	defer cancel()
	return c.run(ctx, t)
}

func (t *Target) timeout() time.Duration {
	if t.Timeout > 0 {
		return t.Timeout
	}
	return DefaultTimeout
}

func (t *Target) quiet() time.Duration {
	if t.Quiet > 0 {
		return t.Quiet
	}
	return DefaultQuiet
}

func failf(format string, args ...any) (Result, string) { return Fail, fmt.Sprintf(format, args...) }
func passf(format string, args ...any) (Result, string) { return Pass, fmt.Sprintf(format, args...) }
func naf(format string, args ...any) (Result, string) {
	return NotApplicable, fmt.Sprintf(format, args...)
}
