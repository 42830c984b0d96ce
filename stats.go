package bittern

import (
	"math"
	"net"
	"time"
)

// TorrentStats is a snapshot of a torrent's progress and traffic.
type TorrentStats struct {
	Pieces     int   // pieces in the torrent
	PiecesHave int   // pieces verified
	Length     int64 // bytes in the torrent
	BytesHave  int64 // bytes of verified pieces
	// BytesLeft counts the bytes still to download for the selected
	// files: the pieces that have a byte of a file not skipped and are
	// not verified yet. It is Length-BytesHave unless files are skipped.
	BytesLeft    int64
	Downloaded   int64 // payload bytes received, duplicates included
	Uploaded     int64 // payload bytes sent
	Wasted       int64 // bytes received and discarded: duplicates, failed pieces
	HashFailures int64 // pieces that failed their hash check
	Peers        int   // connected peers
	// EncryptedPeers counts the connected peers whose connection uses MSE.
	EncryptedPeers int
	BannedPeers    int     // peers banned for sending data that failed hash checks
	DownloadRate   float64 // payload bytes/s received, over the last second
	UploadRate     float64 // payload bytes/s sent, over the last second
	Complete       bool    // every piece of the selected files is verified
	Paused         bool    // Pause was called (and not Resume)
	// TrackerAnnounces counts announces a tracker answered;
	// TrackerErrors those no tracker answered.
	TrackerAnnounces int64
	TrackerErrors    int64
	// SourcePeers counts the peer addresses found by the DHT and other
	// peer sources (repeats included).
	SourcePeers int64
	// PEXPeers counts the peer addresses taken from PEX messages.
	PEXPeers int64
	// ETA estimates the time until the selected files are complete
	// (BytesLeft at the current download rate): 0 once complete, -1
	// while nothing is being received.
	ETA time.Duration
	// WebSeeds counts the torrent's BEP 19 web seeds in use (not waiting
	// after a failure, nor disabled).
	WebSeeds int
	// WebSeedDownloaded counts the payload bytes received from web seeds;
	// Downloaded includes them.
	WebSeedDownloaded int64
	// HasInfo reports that the info dictionary is known; false while a
	// magnet's metadata is fetched (StartMagnet), when only the tracker
	// and peer source counters above are filled in.
	HasInfo bool

	// UTPPeers counts the connected peers whose connection runs over uTP
	// (BEP 29) rather than TCP.
	UTPPeers int
}

// Stats returns a snapshot of the torrent's progress. It does not block.
func (t *Torrent) Stats() TorrentStats {
	if !t.hasInfo() {
		return t.pendingStats()
	}
	n := t.info.NumPieces()
	have := int(t.numHave.Load())
	st := TorrentStats{
		Pieces:           n,
		PiecesHave:       have,
		Length:           t.info.TotalLength(),
		Downloaded:       t.downloaded.Load(),
		Uploaded:         t.uploaded.Load(),
		Wasted:           t.wasted.Load(),
		HashFailures:     t.hashFails.Load(),
		Peers:            int(t.numPeers.Load()),
		BannedPeers:      int(t.numBanned.Load()),
		DownloadRate:     math.Float64frombits(t.downRate.Load()),
		UploadRate:       math.Float64frombits(t.upRate.Load()),
		Paused:           t.isPaused.Load(),
		TrackerAnnounces: t.trackerAnnounces.Load(),
		EncryptedPeers:   int(t.numEncrypted.Load()),
		UTPPeers:         int(t.numUTP.Load()),
		SourcePeers:      t.sourcePeers.Load(),
		PEXPeers:         t.pexPeers.Load(),
		TrackerErrors:    t.trackerErrors.Load(),
		HasInfo:          true,
	}
	select {
	case <-t.Complete():
		st.Complete = true
	default:
	}
	t.webSeedStats(&st)
	st.BytesHave = t.bytesHave.Load()
	st.BytesLeft = t.bytesLeft.Load()
	switch {
	case st.Complete:
	case st.DownloadRate <= 0:
		st.ETA = -1
	default:
		st.ETA = time.Duration(float64(st.BytesLeft) / st.DownloadRate * float64(time.Second))
	}
	return st
}

// SessionStats is a snapshot of a session's totals: the sums of its
// torrents' TorrentStats.
type SessionStats struct {
	Torrents     int      // torrents in the session, paused ones included
	Peers        int      // connected peers, over all torrents
	UTPPeers     int      // of Peers, those connected over uTP (Config.UTP)
	Downloaded   int64    // payload bytes received, duplicates included
	Uploaded     int64    // payload bytes sent
	DownloadRate float64  // payload bytes/s received, over the last second
	UploadRate   float64  // payload bytes/s sent, over the last second
	ListenAddr   net.Addr // nil if the session does not listen
	UTPAddr      net.Addr // the uTP socket's address; nil without Config.UTP
}

// Stats sums the stats of the session's torrents. It does not block.
func (s *Session) Stats() SessionStats {
	st := SessionStats{ListenAddr: s.Addr(), UTPAddr: s.UTPAddr()}
	for _, t := range s.Torrents() {
		ts := t.Stats()
		st.Torrents++
		st.Peers += ts.Peers
		st.UTPPeers += ts.UTPPeers
		st.Downloaded += ts.Downloaded
		st.Uploaded += ts.Uploaded
		st.DownloadRate += ts.DownloadRate
		st.UploadRate += ts.UploadRate
	}
	return st
}

// noteLeft publishes the bytes of the wanted pieces not yet verified for
// Stats. It runs on the owner (or before it starts) after every change
// of the picker's wanted set. O(1): only the last piece may be short.
func (t *Torrent) noteLeft() {
	n := t.picker.NumPieces()
	left := int64(t.picker.Remaining()) * t.info.PieceLength
	if n > 0 && t.picker.Wanted(n-1) {
		left -= t.info.PieceLength - t.info.PieceSize(n-1)
	}
	t.bytesLeft.Store(left)
}
