package metainfo

import (
	"errors"
	"strings"
)

// Sentinel errors. Load wraps them in a *FieldError naming the offending
// field; match them with errors.Is.
var (
	ErrTooLarge          = errors.New("metainfo: torrent file too large")
	ErrBencoding         = errors.New("metainfo: invalid bencoding")
	ErrNotDict           = errors.New("metainfo: torrent is not a dictionary")
	ErrMissing           = errors.New("metainfo: missing")
	ErrType              = errors.New("metainfo: wrong type")
	ErrPieceLength       = errors.New("metainfo: invalid piece length")
	ErrPieces            = errors.New("metainfo: wrong number of piece hashes")
	ErrLength            = errors.New("metainfo: invalid length")
	ErrNoFiles           = errors.New("metainfo: no files")
	ErrTooManyPieces     = errors.New("metainfo: too many pieces")
	ErrName              = errors.New("metainfo: invalid name")
	ErrPath              = errors.New("metainfo: invalid path")
	ErrTooManyDuplicates = errors.New("metainfo: too many duplicate file names")
	ErrFileTree          = errors.New("metainfo: invalid file tree")
	ErrMetaVersion       = errors.New("metainfo: unsupported meta version")
	ErrPiecesRoot        = errors.New("metainfo: missing or zero pieces root")
	ErrPieceLayer        = errors.New("metainfo: invalid piece layer")
	ErrPadFile           = errors.New("metainfo: pad file in v2 file tree")
	ErrInconsistent      = errors.New("metainfo: v1 and v2 file lists disagree")
)

// A FieldError reports a problem with one field of a torrent. Field is its
// dotted path, for example "info.files[3].length" or "piece layers".
type FieldError struct {
	Field string
	Err   error // a sentinel above, possibly wrapped with detail
}

// Error returns "metainfo: <field>: <problem>".
func (e *FieldError) Error() string {
	return "metainfo: " + e.Field + ": " + strings.TrimPrefix(e.Err.Error(), "metainfo: ")
}

// Unwrap returns the underlying error.
func (e *FieldError) Unwrap() error { return e.Err }

func fieldErr(field string, err error) error { return &FieldError{Field: field, Err: err} }

// detail wraps sentinel with a human explanation while keeping errors.Is.
type detailError struct {
	sentinel error
	msg      string
}

func (e *detailError) Error() string { return e.sentinel.Error() + ": " + e.msg }
func (e *detailError) Unwrap() error { return e.sentinel }

func detail(sentinel error, msg string) error { return &detailError{sentinel, msg} }
