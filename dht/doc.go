// Package dht is a Kademlia DHT node for the BitTorrent mainline DHT.
//
// A bittern.Session can run its own node (Config.DHTListenAddr) or use one
// the caller runs (Config.DHT); import dht for the latter, to share one
// node among several sessions, or to use the DHT without a Session:
// peer lookups, BEP 44 items, indexing.
//
// A [Server] runs on a net.PacketConn (usually a UDP socket, possibly
// shared with other protocols), answers other nodes' queries, keeps a
// routing table, and runs iterative lookups for its caller:
//
//	conn, _ := net.ListenPacket("udp", ":6881")
//	s, _ := dht.NewServer(conn, nil) // nil: defaults, bootstrap from the well-known routers
//	defer s.Close()
//	if err := s.Bootstrap(ctx); err != nil { … }
//	err := s.FindPeers(ctx, infoHash, func(p netip.AddrPort) { … dial p … })
//	n, err := s.Announce(ctx, infoHash, 6881, false, false, nil)
//	saved, _ := dht.MarshalNodes(s.ID(), s.Nodes()) // on shutdown
//	id, nodes, _ := dht.UnmarshalNodes(saved)         // on restart: Config{NodeID: id, Nodes: nodes}
//
// *Server satisfies the root package's PeerSource seam (FindPeers).
//
// # Protocols
//
//   - BEP 5, DHT Protocol: KRPC ping, find_node, get_peers, announce_peer
//     (with implied_port); errors 201–204; transaction IDs and timeouts;
//     tokens from a secret rotated every 5 minutes (valid 5–10 minutes);
//     a peer store with expiry and caps; a routing table of K=8 buckets
//     split as BEP 5 describes, with good/questionable/bad nodes, a
//     replacement cache and bucket refresh; iterative lookups with Alpha
//     queries in flight (3 by default) that end when the K closest nodes
//     have answered.
//   - BEP 32, IPv6 extension: nodes6 and want; one routing table per family.
//   - BEP 33, DHT scrapes: seed flags, noseed, scrape bloom filters
//     ([Server.Scrape], [ScrapeEstimate]).
//   - BEP 42, DHT security extension: the "ip" field in every reply, votes on
//     our external IP ([Server.ExternalIP]), [NodeIDForIP] and
//     [NodeIDValid]; Config.EnforceNodeID keeps nodes with IDs that do not
//     match their IPs out of the table.
//   - BEP 43, read-only nodes: Config.ReadOnly; nodes marked "ro" never
//     enter our table.
//   - BEP 44, storing arbitrary data: get and put of immutable and mutable
//     items (ed25519, salt, seq, cas) in both directions.
//   - BEP 51, infohash indexing: sample_infohashes.
//
// # Sharing the socket
//
// Datagrams that are not bencoded dictionaries (uTP, UDP tracker replies)
// go to Config.Unhandled instead of being dropped; writes by the other
// protocols go straight to the conn. With Config.KeepConnOpen, Close leaves
// the socket to its other users.
//
// # Limits
//
// Every limit is a documented constant or Config field: per-source-IP query
// rate (DefaultQueryRate, DefaultQueryBurst, with bounded limiter state),
// peer store (DefaultMaxInfoHashes, DefaultMaxPeersPerInfoHash,
// DefaultPeerTTL, at most 50 peers per reply), item store (DefaultMaxItems,
// MaxItemValue, MaxSalt), datagram size (8 KiB read), bencode nesting (the
// bencode package's limit). Replies fit one unfragmented datagram (1,452
// bytes: the farthest nodes, then peers, are left out of a reply that
// would not), are at most about 15 times the size of the query, and go
// only to the querying address, whose rate is limited; queries with a
// transaction ID over 64 bytes go unanswered. So the node cannot be used as
// an amplifier beyond that small factor, and hostile input is answered
// with error 203 or ignored, never a panic (fuzzed). Against one host posing as many
// nodes, each bucket holds at most one node per public /24 or /64
// (Config.UnrestrictedRoutingIPs lifts this), a known node keeps its
// address while it answers, an address that answers under a new ID loses
// its entry under the old one, and nodes that only queried us enter the
// table unverified and are pinged (through a bounded queue) before they
// count as good.
//
// # Concurrency
//
// A Server's methods are safe for concurrent use. One goroutine reads the
// socket and answers queries; one sends verification pings; one does
// housekeeping (pinging questionable nodes, refreshing stale buckets,
// expiring data). Lookups run on the caller's goroutine. Close stops all
// three and waits for them.
package dht
