package bittern

import "errors"

// Errors returned by Session and Torrent methods.
var (
	// ErrClosed is returned by methods of a closed Session, and by
	// Torrent.Wait when the torrent is closed before it completes.
	ErrClosed = errors.New("bittern: session closed")
	// ErrDuplicateTorrent is returned by AddTorrent for a torrent the
	// session already has.
	ErrDuplicateTorrent = errors.New("bittern: torrent already added")
	// ErrUnsupported is returned by AddTorrent for a torrent this version
	// cannot download: no info dictionary, or a v2-only torrent lacking
	// the piece layers needed to verify it.
	ErrUnsupported = errors.New("bittern: unsupported torrent")
)

// Reasons a peer connection is closed, seen in Debug logs.
var (
	errSelfConnection = errors.New("bittern: connected to ourselves")
	errDuplicatePeer  = errors.New("bittern: duplicate connection to peer")
	errTooManyPeers   = errors.New("bittern: too many peers")
	errIdle           = errors.New("bittern: peer idle too long")
	errProtocol       = errors.New("bittern: peer broke the protocol")
	errUnrequested    = errors.New("bittern: peer sent a piece we did not request (BEP 6)")
	errTorrentClosing = errors.New("bittern: torrent closing")
	errPaused         = errors.New("bittern: torrent paused")
	errBanned         = errors.New("bittern: peer banned")
)
