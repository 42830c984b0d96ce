// Package tracker implements BitTorrent tracker clients and a tracker
// server.
//
// A bittern.Session announces to a torrent's trackers by itself (through a
// Multi per torrent, configured by Config.Tracker). Import tracker to
// announce or scrape without a Session, or to run a tracker: for a private
// swarm, for tests, or on loopback as examples/swarm does.
//
// Announce to one tracker, HTTP(S) or UDP, chosen by the URL's scheme:
//
//	t, err := tracker.New("udp://tracker.example:6969/announce", nil)
//	if err != nil { … }
//	defer t.Close()
//	resp, err := t.Announce(ctx, tracker.AnnounceRequest{
//		InfoHash: ih, PeerID: id, Port: 6881, Left: size, Event: tracker.EventStarted,
//	})
//	// resp.Peers are netip.AddrPort; resp.Interval says when to come back.
//
// Announce to a torrent's announce-list with Multi, which applies BEP 12,
// keeps the started/completed/stopped sequence per tracker, backs off from
// failing trackers and bounds each attempt (MultiConfig.TrackerTimeout):
//
//	m := tracker.NewMulti(announceList, nil)
//	resp, err := m.Announce(ctx, req)
//
// Run a tracker (HTTP handler and UDP server from one swarm state):
//
//	srv := tracker.NewServer(nil)
//	go http.ListenAndServe(":8000", srv)  // http://host:8000/announce
//	go srv.ServeUDP(ctx, packetConn)      // udp://host:port
//
// A refusal from a tracker is a *FailureError; replies that cannot be parsed
// match ErrMalformed; a UDP tracker that never answers gives ErrTimeout.
//
// # Concurrency
//
// HTTPTracker, UDPTracker, Multi and Server are safe for concurrent use.
// Multi serialises its announces (they carry a per-tracker event sequence);
// a UDPTracker sends one request at a time to its tracker. Closing a
// client fails its requests in flight. A Server serves HTTP requests on
// net/http's goroutines and UDP ones, one at a time, on the goroutine
// calling ServeUDP, which returns when its context ends or reading fails
// (it does not close the PacketConn).
//
// # Protocols
//
//   - BEP 3: HTTP announce; binary info_hash and peer_id percent-encoded
//     byte by byte; dictionary peer lists; "tracker id"; "warning message".
//   - BEP 7: IPv6 peers ("peers6"; 18-byte UDP peers over IPv6).
//   - BEP 12: multitracker tiers (Multi).
//   - BEP 15: UDP tracker protocol: connect, announce, scrape, error;
//     connection IDs reused for one minute; retransmission after
//     15·2^n seconds, n = 0…8 (Config.UDPTimeout, Config.UDPRetries),
//     repeating the packet with its transaction ID; a socket per
//     request, so idle clients hold no file descriptors.
//   - BEP 21: partial seeds. EventPaused is sent as "paused" over HTTP and
//     as event 4 over UDP (libtorrent's value); Multi sends it in every
//     announce of a partial seed that carries no started, completed or
//     stopped. The Server counts a peer whose last announce was paused
//     (with bytes left) as a partial seed: still incomplete, but not among
//     the HTTP scrape's "downloaders". A UDP scrape reply has a fixed
//     layout with no room for downloaders, so only HTTP scrapes carry it,
//     and announce replies carry only the usual complete/incomplete.
//   - BEP 24: "external ip".
//   - BEP 41: UDP URL-data option (the path and query of a udp:// URL);
//     the server skips options it does not know.
//   - BEP 48: HTTP scrape (announce → scrape URL convention).
//
// # Limits
//
// HTTP reply bodies are bounded by Config.MaxResponseSize (2 MiB by
// default, applied after gzip decompression); intervals are capped at a
// week; one scrape carries at most MaxScrapeHashes info-hashes; BEP 41 URL
// data is at most 1024 bytes. The Server bounds peers per swarm, swarms, and
// peers per reply (ServerConfig); a UDP reply never needs fragmenting on a
// 1500-byte MTU (at most 242 IPv4 or 79 IPv6 peers).
//
// # Server
//
// Server keeps swarms in memory; nothing is persisted, and a swarm's
// "downloaded" count is forgotten when its last peer leaves. Peers expire
// ServerConfig.PeerTimeout after their last announce. A peer ID listed at one
// IP address can be updated or stopped from another only with the "key" it
// announced with. Seeders are given only leechers (partial seeds included).
// Unknown events count as regular announces. UDP connection IDs are an HMAC
// of the client's IP address and a two-minute time window under a
// per-process secret, so the server keeps no per-client state; a reply to a
// request without a valid connection ID is never larger than the request, so
// the server cannot be used to amplify traffic toward a forged source
// address.
package tracker
