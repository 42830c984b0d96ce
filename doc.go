// Package bittern is a BitTorrent library: a Session downloads and seeds
// torrents, composing the protocol packages beneath it (bencode, metainfo,
// peerwire, storage, piecepicker).
//
// Embedding it:
//
//	s, err := bittern.NewSession(&bittern.Config{DataDir: "downloads"})
//	if err != nil {
//		return err
//	}
//	defer s.Close()
//	mi, err := metainfo.LoadFile("file.torrent")
//	if err != nil {
//		return err
//	}
//	t, err := s.AddTorrent(ctx, mi, &bittern.TorrentOptions{Peers: peers})
//	if err != nil {
//		return err
//	}
//	return t.Wait(ctx) // complete and verified; it keeps seeding until Close
//
// # Protocol
//
// This version implements the peer protocol of BEP 3 for v1, v2 and hybrid
// torrents (BEP 52: a v2 torrent goes by its truncated SHA-256 info-hash,
// its pieces are checked against the merkle hashes of its piece layers,
// and hash requests for piece layers and leaves are answered; a hybrid
// torrent joins both swarms and is checked with SHA-1; a v2 magnet link
// fetches the piece layers with hash requests): the handshake with one
// listening port for all torrents, incoming connections routed by
// info-hash, bitfield and have, interest, choking, request pipelining and
// serving, verification of every piece before it is announced. It advertises and speaks BEP 6 (the
// Fast extension: have-all, have-none, reject on choke, allowed-fast and
// suggest honoured) and BEP 10 (the extended handshake, to exchange "reqq",
// the depth of request queues, and to carry the extensions below): BEP 9
// (magnet links and ut_metadata), BEP 11 (PEX), trackers through the
// tracker package (BEP 3, 12, 15, 23), the DHT through the dht package
// (BEP 5), BEP 27 (private torrents: trackers only) and Message Stream
// Encryption.
//
// A torrent added with data already in its storage is verified first (all
// pieces, or only those a valid completion record of the storage does not
// vouch for), so a seeder with complete data seeds at once and a restarted
// download resumes; Close and Remove save the record again.
//
// Connections: peers given to AddPeers are dialled (seeds dial too, except
// peers found to be seeds) within Config.MaxPeers and Config.MaxHalfOpen,
// highest BEP 40 canonical priority first when there are more than free
// slots, and redialled with exponential backoff. Our extended handshake
// says upload_only (BEP 21) while every selected piece is verified and no
// Reader waits for a piece; two peers that want nothing from each other
// hang up. A connection to ourselves (our
// own peer ID) is dropped and its address never dialled again; of two
// connections with one peer ID, both ends keep the one initiated by the
// lower peer ID. Keep-alives go out after Config.KeepAliveInterval of
// silence; a peer silent for Config.IdleTimeout is dropped. Two seeds hang
// up on each other once their last haves are sent.
//
// Requests: each peer gets a pipeline sized to its bandwidth-delay
// product — the blocks it delivers in Config.RequestQueueTime at its
// measured rate, growing from 4 by one per block received (slow start)
// until its rate levels off — between 2 and Config.RequestQueueDepth and
// never above its BEP 10 "reqq", picked rarest first by the piecepicker, with endgame duplicates cancelled when the block arrives. A
// peer that sends no block for Config.RequestTimeout while requests are
// outstanding is snubbed: its requests are cancelled and go to other peers,
// and it gets one at a time until it delivers. A piece that fails SHA-1
// goes back to the picker, and have is sent only for verified pieces.
//
// Banning: as in libtorrent, a peer earns a trust point for each verified
// piece it sent blocks of (up to 8) and loses two for each failed one; at
// -7, or at once if it sent every block of a failed piece, it is dropped
// and its peer ID and IP address are refused from then on.
//
// Trackers: each torrent announces to its metainfo's trackers (and
// TorrentOptions.Trackers) through a tracker.Multi (BEP 12 tiers; HTTP and
// UDP): at once when added, again at the interval the tracker asks for (at
// least MinAnnounceInterval), at once when the download completes, and
// "stopped" when it is removed or the session closes, bounded by
// Config.TrackerStopTimeout. Peers in the replies are dialled. Config.
// NoTrackers turns this off.
//
// Magnet links (BEP 9): Session.AddMagnet dials the link's "x.pe" peers
// and those its "tr" trackers return, fetches the info dictionary over
// ut_metadata (each peer keeps a few piece requests outstanding; at most
// Config.MaxMetadataSize bytes), checks its SHA-1 against the info-hash
// (peers that sent a dictionary failing the check are not asked again),
// then adds the torrent as AddTorrent does. Peers that connect to us for
// the torrent meanwhile are asked too. Every torrent serves its info
// dictionary to peers that ask, up to twice over per connection.
// Session.StartMagnet does the same without blocking: the torrent is
// returned at once, with Info and MetaInfo nil (and Stats.HasInfo false)
// until Torrent.GotInfo is closed; Torrent.WaitInfo waits for it.
//
// Encryption (MSE/PE, peerwire/mse): Config.Encryption chooses the
// policy. The default dials in plaintext and accepts both; preferred dials
// with MSE and falls back to plaintext once; required refuses plaintext
// both ways; off never uses MSE. An incoming connection is told apart by
// its first bytes, and an MSE one is routed to its torrent by the stream
// key (one map lookup); its BitTorrent handshake must name the same
// torrent.
//
// Peer sources: Config.DHT (a *dht.Server, or one the session starts on
// Config.DHTListenAddr) and Config.PeerSources implement PeerSource. Every
// public torrent asks each of them for peers every Config.PeerSourceInterval
// (15 minutes; a DHT is also told we are a peer, as a seed once complete,
// with BEP 5 announce_peer), and AddMagnet asks them while it fetches
// metadata. Private torrents (BEP 27) use trackers only.
//
// PEX (BEP 11, ut_pex): every public torrent tells each peer that speaks
// it, at most once per PEXInterval (a minute), which peers it connected to
// or dropped since (at most PEXMaxAdded of each), and takes at most
// PEXMaxAdded peers from one message a minute from each peer; faster
// messages are ignored. A torrent remembers at most MaxPeerAddrs peer
// addresses.
//
// Each IPv4 peer with the Fast extension is granted the pieces we have of
// its BEP 6 allowed fast set (10 pieces), served even while it is choked.
//
// Uploads: at most Config.MaxUploadQueue requests per peer are accepted
// (more are rejected); of those, at most 1 MiB per connection is being read
// or waiting in the writer's queue, so a greedy peer costs little memory.
//
// Rate limits: Config.DownloadRateLimit and UploadRateLimit (changed by
// Session.SetRateLimits) bound the payload bytes per second of the whole
// session, TorrentOptions' (Torrent.SetRateLimits) those of one torrent;
// zero is unlimited. They are token buckets: a connection's reader pays
// for each block received before it reads the next message, and its
// writer sends each block once the buckets hold its tokens.
//
// Web seeds (BEP 19, "GetRight style"): the http and https URLs of a
// torrent's url-list, of its magnet link's "ws=" (once the metadata is
// known), of TorrentOptions.WebSeeds and Torrent.AddWebSeeds (at most
// MaxWebSeeds) are download sources. Each is a peer of the piece picker
// that has every piece and never chokes, so it takes only free blocks
// (endgame and streaming deadlines aside), in priority order, never those
// of skipped files. It keeps MaxWebSeedRequests jobs in flight, each a
// piece or a run of consecutive pieces of 256 KiB (BEP 19: each job goes
// on where the last ended, after a first piece at random), fetched with
// one ranged GET per file the run spans (a single-file torrent's URL is the file, or
// the URL plus its name if it ends in '/'; a multi-file torrent's is the
// URL as a directory plus name and path, percent-escaped; a file asked for
// whole goes without a Range; pad files are zeros, empty files skipped),
// over one HTTP client per session (Config.WebSeedClient, keep-alive,
// redirects followed). An answer must be a 206 with the Content-Range and
// length asked for (a 200 only for a whole file); no more than asked is
// read. Blocks go through the write and verify path of peers' blocks
// (SHA-1 or merkle, PieceVerified and FileCompleted events), count in
// TorrentStats.Downloaded and WebSeedDownloaded, and pay the download
// rate limits. A failure suspends the web seed (a WebSeedError event): 404
// and 410 for 30 minutes, 429 and 5xx with Retry-After for that long (at
// most an hour), others with exponential backoff from 5 s; a request that
// receives nothing for 30 s fails. A web seed whose pieces fail their hash
// check WebSeedMaxHashFailures times is dropped for good; a peer that sent
// blocks of such a piece with it is not banned for it alone.
// Config.DisableWebSeeds turns web seeds off.
//
// Events: Session.Subscribe delivers typed events (MetadataReceived,
// PieceVerified, FileCompleted, TorrentCompleted, TrackerError, DHTError,
// StorageError, PeerBanned, WebSeedError) on a channel with a bounded buffer; an event
// that finds it full is dropped and counted, so a slow subscriber never
// holds up a torrent.
//
// Removal: Session.Remove keeps the data; Session.RemoveAndDelete deletes
// it too (storage.Memory, storage.Dir, or a storage implementing
// DataDeleter).
//
// Choking follows the reference client: a fixed number of upload slots
// (Config.UploadSlots), given every Config.ChokeInterval to the interested
// peers that uploaded most to us (tit-for-tat) while downloading, or to
// those we uploaded most to while seeding, plus one optimistic unchoke that
// rotates every third round (30 s). Between rounds, an interested peer is
// unchoked at once while a slot is free.
//
// # Transports
//
// Peers connect over TCP and, with Config.UTP, over uTP (BEP 29, the utp
// package): LEDBAT congestion control over UDP, which yields to other
// traffic. The uTP socket is bound to the UDP port of the same number as
// the TCP listener (Session.UTPAddr), so one port serves both, as
// libtorrent does; the DHT node the session starts for
// Config.DHTListenAddr shares that socket when its port is 0 or the
// session's (datagrams that are not uTP go to the DHT).
// Config.UTPPacketConn replaces the UDP socket (tests pass in-memory ones).
// An incoming uTP connection takes the same path as a TCP one: MSE or
// plaintext per Config.Encryption, Config.MaxPendingHandshakes, bans,
// Config.MaxPeers and MaxConnections. An outgoing connection tries uTP
// first (TCP first with Config.PreferTCP) for at most
// Config.UTPConnectTimeout (3 s, libtorrent's utp_connect_timeout), then
// the other transport; the one that connected is tried first for that
// address from then on (at most 4096 addresses remembered), and a PEX
// peer's uTP flag (0x04) chooses the first try for an address not yet
// dialled. Connections over uTP are flagged so in our PEX messages and
// counted in TorrentStats.UTPPeers. The socket's goroutine and its accept
// loop end with Session.Close, after the torrents' connections were
// closed. uTP is off by default: on loopback it moves a fifth to an
// eighth of TCP's throughput for six to eight times its CPU per byte (a
// system call per 1232-byte packet; BenchmarkLoopbackTransferUTP beside
// BenchmarkLoopbackTransfer), and it needs the UDP port free.
//
// # Files and streaming
//
// Torrent.Files lists the files; File.SetPriority and
// Torrent.SetFilePriorities (or TorrentOptions.FilePriorities from the
// start, or a magnet link's BEP 53 "so=" selection) choose what is
// downloaded and in which order. Pieces take the highest priority of the
// files they overlap; PrioritySkip files are not fetched and, with a
// storage that can skip files (storage.FileSelector, as storage.Dir), not
// created: the bytes of pieces they share with wanted files go to a part
// file. Completion (Wait, Complete) means every piece of the selected
// files is verified; the torrent then seeds what it has, and is not
// interested in peers that have only skipped pieces.
//
// Torrent.NewReader and File.NewReader return a Reader, an
// io.ReadSeekCloser and io.ReaderAt that http.ServeContent can serve: a
// read blocks until the piece under it is verified, and gives the pieces
// from its position through its readahead deadlines in the piece picker,
// so they are fetched before all others (the windows of several readers
// are combined). A Reader of a skipped file fetches the pieces of its
// window (and so is interested in peers that have them) and nothing else
// of the file; those pieces never change completion, so an app can add a
// torrent with every file skipped and stream just what a player asks for.
// Readers never touch the owner's state: they post their position to it,
// and the owner wakes them when a piece is verified.
//
// # Concurrency
//
// One owner goroutine per torrent holds all of its state: the piece picker,
// the bitfields, the peer set, the choker and the request queues. Nothing
// else reads or writes that state, so it needs no lock, and there is no
// session-wide lock either (a small mutex guards the map of torrents).
// Other goroutines exist only for blocking work:
//
//   - per connection, one reader (decodes messages and sends them to the
//     owner on a channel) and one writer (drains a queue the owner fills
//     without ever blocking, and sends each batch — messages, piece
//     headers and the pooled blocks, uncopied — with one writev);
//   - per outgoing connection attempt, one dialer, and per incoming
//     connection, one goroutine for the handshake, bounded by
//     Config.MaxPendingHandshakes;
//   - a session-wide pool of Config.IOWorkers goroutines does disk I/O
//     and hashing for every torrent and posts each result back to the
//     owner's inbox, which never blocks.
//
// Data path: a block is read from the socket into a pooled 16 KiB buffer,
// written to storage by the pool (which also feeds it to the piece's SHA-1
// while blocks arrive in order, so most pieces are never read back), and
// the buffer returned; at most
// Config.RequestQueueDepth blocks per connection, and Config.MaxQueuedBlocks
// in the whole session, wait for the disk, after which readers stop reading
// (back-pressure to the peers). A block to
// upload is read by the pool into a pooled buffer and written by the
// connection's writer, which returns it.
//
// Every goroutine has an owner that waits for it: Session.Close returns
// only when the accept loop, every handshake, every torrent's owner,
// connections, dials and pending I/O have ended.
//
// # Not yet
//
// FTP web seeds come in a later version.
package bittern
