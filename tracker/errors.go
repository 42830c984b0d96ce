package tracker

import (
	"errors"
	"fmt"
)

// Sentinel errors, matched with errors.Is.
var (
	// ErrTimeout is returned when a UDP tracker does not answer after all
	// retransmissions.
	ErrTimeout = errors.New("tracker: no reply (timed out)")
	// ErrResponseTooLarge is returned when an HTTP reply body exceeds
	// Config.MaxResponseSize (after gzip decompression).
	ErrResponseTooLarge = errors.New("tracker: response too large")
	// ErrMalformed wraps every reply that cannot be parsed.
	ErrMalformed = errors.New("tracker: malformed response")
	// ErrUnsupportedScheme is returned for announce URLs that are neither
	// http(s):// nor udp://.
	ErrUnsupportedScheme = errors.New("tracker: unsupported URL scheme")
	// ErrNoScrape is returned when an HTTP announce URL has no scrape
	// counterpart (its last path segment does not start with "announce").
	ErrNoScrape = errors.New("tracker: tracker does not support scrape")
	// ErrTooManyHashes is returned when a scrape names more info-hashes than
	// one request can carry (MaxScrapeHashes).
	ErrTooManyHashes = errors.New("tracker: too many info-hashes in one scrape")
	// ErrClosed is returned by requests on a closed client.
	ErrClosed = errors.New("tracker: client closed")
	// ErrNoTrackers is returned by Multi when it has no tracker it may try
	// (the list is empty or every tracker is backing off).
	ErrNoTrackers = errors.New("tracker: no tracker available")
)

// FailureError is a tracker's refusal: the "failure reason" of an HTTP reply
// or the message of a UDP error packet.
type FailureError struct {
	Reason string
}

func (e *FailureError) Error() string { return "tracker: failure: " + e.Reason }

// StatusError is returned when an HTTP tracker answers with a status other
// than 200 and a body that carries no failure reason.
type StatusError struct {
	Code   int
	Status string
}

func (e *StatusError) Error() string { return fmt.Sprintf("tracker: HTTP status %s", e.Status) }

// MalformedError describes a reply that could not be parsed. It matches
// ErrMalformed with errors.Is.
type MalformedError struct {
	Field string // the field or part at fault, e.g. "peers6"
	Msg   string
	Err   error // the underlying decoder error, if any
}

func (e *MalformedError) Error() string {
	s := "tracker: malformed response"
	if e.Field != "" {
		s += ": " + e.Field
	}
	if e.Msg != "" {
		s += ": " + e.Msg
	}
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

// Is makes MalformedError match ErrMalformed.
func (e *MalformedError) Is(target error) bool { return target == ErrMalformed }

// Unwrap returns the underlying decoder error.
func (e *MalformedError) Unwrap() error { return e.Err }

func malformed(field, msg string) error { return &MalformedError{Field: field, Msg: msg} }
