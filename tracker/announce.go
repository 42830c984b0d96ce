package tracker

import (
	"context"
	"net/netip"
	"time"

	"github.com/bittern/bittern/metainfo"
)

// Event is the lifecycle event an announce reports. The numeric values are
// those sent over UDP: 0 to 3 are BEP 15's, and EventPaused is 4, the value
// libtorrent sends (BEP 15 defines none for it).
type Event uint32

// Announce events.
const (
	EventNone      Event = 0 // a regular, periodic announce
	EventCompleted Event = 1 // the download just finished
	EventStarted   Event = 2 // the first announce of a session
	EventStopped   Event = 3 // the client is leaving the swarm
	// EventPaused is a regular announce of a partial seed (BEP 21): it has
	// every piece it wants but not the whole torrent. BEP 21 asks for it in
	// every announce while the client is one; Multi sends it in place of
	// EventNone (see Multi for how it meets the other events).
	EventPaused Event = 4
)

// String returns the event's name as sent over HTTP ("" for EventNone).
func (e Event) String() string {
	switch e {
	case EventCompleted:
		return "completed"
	case EventStarted:
		return "started"
	case EventStopped:
		return "stopped"
	case EventPaused:
		return "paused"
	}
	return ""
}

// ParseEvent parses an HTTP event name; "" and "empty" are EventNone.
func ParseEvent(s string) (Event, bool) {
	switch s {
	case "", "empty", "none":
		return EventNone, true
	case "completed":
		return EventCompleted, true
	case "started":
		return EventStarted, true
	case "stopped":
		return EventStopped, true
	case "paused":
		return EventPaused, true
	}
	return EventNone, false
}

// AnnounceRequest is what a client tells a tracker about itself.
type AnnounceRequest struct {
	InfoHash   metainfo.Hash
	PeerID     [20]byte
	Port       uint16 // the TCP port peers can reach us on
	Uploaded   int64
	Downloaded int64
	Left       int64 // bytes still missing; 0 for a seeder
	Event      Event
	// NumWant is how many peers we would like. If zero, the tracker's
	// default is asked for (numwant is omitted over HTTP, -1 over UDP); a
	// stopped announce always asks for none. A negative value asks for none.
	NumWant int
	// Key identifies this client across IP address changes (BEP 3 "key",
	// BEP 15). If zero, it is not sent over HTTP and sent as 0 over UDP.
	Key uint32
	// IP is the address to advertise. If invalid (zero), the tracker uses
	// the source address of the request. Over HTTP an IPv6 address is sent
	// as "ipv6" (BEP 7); over UDP only an IPv4 address can be sent, and
	// only to a tracker reached over IPv4 (BEP 15).
	IP netip.Addr
	// TrackerID is the "tracker id" an HTTP tracker returned earlier. The
	// per-tracker clients remember it themselves; set it only to override.
	TrackerID string
}

// AnnounceResponse is a tracker's answer to an announce.
type AnnounceResponse struct {
	// Interval is how long to wait before the next regular announce.
	Interval time.Duration
	// MinInterval, if non-zero, is the least a client must wait before
	// re-announcing (HTTP only).
	MinInterval time.Duration
	// Seeders and Leechers are the swarm's complete and incomplete peer
	// counts; -1 if the tracker did not say.
	Seeders  int
	Leechers int
	// Peers are the swarm members, IPv4 and IPv6 (BEP 7), in the tracker's
	// order, without duplicates.
	Peers []netip.AddrPort
	// ExternalIP is our address as the tracker saw it (BEP 24), if given.
	ExternalIP netip.Addr
	// TrackerID is the "tracker id" to send back on later announces.
	TrackerID string
	// Warning is the tracker's "warning message", if any.
	Warning string
}

// ScrapeStats are one swarm's counts from a scrape (BEP 48, BEP 15, BEP 21).
type ScrapeStats struct {
	Complete   int // seeders
	Incomplete int // leechers, partial seeds (BEP 21) included
	Downloaded int // completed downloads ever
	// Downloaders is BEP 21's count of the leechers that still download:
	// Incomplete minus the partial seeds. Only HTTP scrapes carry it, and
	// only from trackers that support BEP 21; otherwise it is 0 and
	// HasDownloaders is false.
	Downloaders    int
	HasDownloaders bool
}

// Announcer is anything that can announce: one tracker or a Multi.
type Announcer interface {
	Announce(ctx context.Context, req AnnounceRequest) (*AnnounceResponse, error)
}

// Tracker is one tracker endpoint, HTTP or UDP.
type Tracker interface {
	Announcer
	// Scrape asks for the counts of the given swarms. Swarms the tracker
	// does not know are absent from the result.
	Scrape(ctx context.Context, hashes ...metainfo.Hash) (map[metainfo.Hash]ScrapeStats, error)
	// URL returns the tracker's announce URL.
	URL() string
	// Close releases the client's sockets. Requests in flight fail.
	Close() error
}

// MaxScrapeHashes is the most info-hashes one scrape request may carry: a
// UDP scrape of 74 hashes is the largest that fits a 1500-byte packet
// (BEP 15). HTTP scrapes use the same limit to keep URLs short.
const MaxScrapeHashes = 74

// dedupPeers removes duplicate addresses in place, keeping first occurrences.
func dedupPeers(peers []netip.AddrPort) []netip.AddrPort {
	if len(peers) < 2 {
		return peers
	}
	seen := make(map[netip.AddrPort]struct{}, len(peers))
	out := peers[:0]
	for _, p := range peers {
		if _, ok := seen[p]; ok {
			continue
		}
		seen[p] = struct{}{}
		out = append(out, p)
	}
	return out
}
