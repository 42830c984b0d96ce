// Package utp implements uTP, the Micro Transport Protocol of BEP 29: a
// reliable, ordered byte stream over UDP whose LEDBAT congestion control
// yields to other traffic by keeping the queuing delay it causes near a
// target. BitTorrent clients use it beside TCP.
//
// A [Socket] runs over one [net.PacketConn], usually the UDP port the DHT
// (BEP 5) and the UDP tracker client (BEP 15) also use. It demultiplexes
// uTP packets by source address and connection ID; every datagram that
// does not decode as uTP (DHT messages start with 'd', tracker replies with
// a zero byte: neither has header version 1) is queued for the view
// returned by [Socket.PacketConn], through which those protocols read and
// write:
//
//	pc, _ := net.ListenPacket("udp", ":6881")
//	s := utp.NewSocket(pc, nil)
//	defer s.Close()
//	dhtConn := s.PacketConn()          // hand to the DHT / tracker client
//	c, err := s.Dial(ctx, "192.0.2.1:6881")
//	// c is a net.Conn: run the peer wire protocol over it.
//	in, err := s.Accept()              // or s.Listener() as a net.Listener
//
// A *Socket also has DialContext(ctx, network, address), so it stands
// where a *net.Dialer does (the network argument is not looked at).
// NewSocket asks a *net.UDPConn for 4 MiB socket buffers (as far as the
// system allows): the default ones overflow under a large window.
//
// # Linux fast path
//
// One system call per 1232-byte packet is what uTP costs most, so on Linux,
// when the packet conn is a *net.UDPConn, a Socket sends and receives
// several packets per system call; the packets on the wire are the same.
//
//   - UDP GSO: the packets one flush of a connection sends (retransmissions,
//     new data, a FIN) are written as one datagram with a UDP_SEGMENT
//     control message, and the kernel (or the network card) splits it into
//     the packets. Full packets have the same size and only the last may be
//     shorter, which is the GSO rule; at most 48 packets (59136 bytes) go
//     per call. A GSO send the system refuses with EIO (no checksum
//     offload), EINVAL, ENOPROTOOPT or EOPNOTSUPP (an old kernel) turns GSO
//     off for the socket and the packets go one by one from then on.
//   - UDP GRO: the socket option UDP_GRO lets a read return several
//     datagrams of one sender coalesced (over loopback, a GSO send arrives
//     whole); the UDP_GRO control message gives their size, and they are
//     handled one by one. A kernel that refuses the option (before 5.0)
//     leaves one datagram per read. The packets of one coalesced read for a
//     connection are handled as a batch: the ack every second data packet
//     earns and the sends the acks allow wait for the end of the batch,
//     then go as one ack and one GSO send (libtorrent likewise acks at the
//     end of each batch it reads).
//
// Any other net.PacketConn (a wrapped one, an in-memory network, another
// system) takes the generic path: one ReadFrom or WriteTo per packet.
// Written data is queued in 64 KiB chunks and packets take their payload
// from them without copying.
//
// # Protocol
//
// Header version 1 with ST_DATA, ST_FIN, ST_STATE, ST_RESET and ST_SYN;
// connection IDs (the dialler receives on a random ID and sends on ID+1;
// the acceptor the reverse); 16-bit packet sequence and ack numbers with
// wraparound; the selective-ack extension (sent with every ack while
// packets are held past a gap, up to 256 packets, and honoured on receipt);
// microsecond timestamps and timestamp_difference; the advertised receive
// window; BEP 29's RTT/variance estimate and timeout (max(rtt+4·rtt_var,
// 500 ms), 1 s before a sample, doubled per consecutive timeout, capped at
// 60 s); retransmission on timeout, on three duplicate acks and on a
// packet with three selectively acked packets after it; tail-loss probes
// (below); Nagle-style
// coalescing (a short packet waits while data is unacknowledged); delayed
// acks (every second in-order data packet is acked, or once per
// coalesced read, see the Linux fast path; a lone one after 2 ms,
// anything out of order, a FIN and window updates at once; any packet we
// send carries the ack); FIN in
// both directions (Close sends a FIN after the written data; Read returns
// io.EOF after the peer's FIN and every packet before it); ST_RESET on
// unknown connections and on Socket.Close; keepalives; SYN retries.
//
// Congestion control is LEDBAT as libtorrent runs it: the queuing delay is
// the minimum of the last three timestamp_difference samples less the base
// delay (the minimum over the last three one-minute buckets); the window
// grows or shrinks by at most 3000 bytes per RTT (libtorrent's
// utp_gain_factor) scaled by (target−delay)/target, clamped to ±1, and by
// the share of the window acknowledged; it only grows while the sender
// uses it. Slow start (window += bytes acked) runs until the delay reaches
// 90% of the target (libtorrent: the whole target) or the first loss. A
// loss halves the window, once per window of packets; a timeout shrinks it
// to one packet and restarts slow start. The target is 100 ms, libtorrent's
// default ([Config.TargetDelay]).
//
// # Tail-loss probes
//
// When a whole window, or its tail, is lost, nothing comes back: the
// cumulative ack cannot move and no selective ack reaches past the gap,
// so only the timeout (at least 500 ms) would find the loss. A receiver
// whose UDP buffer overflows while it is not reading does exactly that
// (libtorrent's 208 KB default buffer holds less than a full window). So,
// as TCP does (TLP and RACK, RFC 8985): once nothing was acked for a probe
// timeout, twice the smoothed RTT and at least 10 ms, while packets are in
// flight and the timeout is not due sooner, the first unacked packet is
// sent again as a probe (and again after twice as long each time while no
// ack comes). When its ack arrives, every packet sent before the probe
// that is still unacked is lost once it stays unacked later than the
// probe's packet did, relative to their sends, plus a margin (a quarter
// RTT, at least 4 ms): if the acks had only been late (the delay rose),
// those of the following packets arrive within the margin and nothing
// more is sent. Lost packets count as a loss (the window halves, once per
// window), not as a timeout (which shrinks it to one packet and restarts
// slow start). A probe whose original did arrive reaches the peer as a
// duplicate, which it answers with an ack it already sent: as many
// duplicate acks as probes were sent (at most 8) are not counted toward
// the three that mean a loss. [Stats.TailProbes] counts the probes.
//
// # Limits
//
// Every packet is at most [MaxPacketSize] (1232) bytes of UDP payload, the
// IPv6 minimum MTU less the IPv6 and UDP headers, so no path fragments it.
// Per socket: [Config.MaxConns] connections (1024) and an accept backlog of
// [Config.AcceptBacklog] (64); SYNs past either are answered with ST_RESET.
// Per connection: a receive buffer of [Config.RecvBuffer] (1 MiB, the
// advertised window, out-of-order packets included), at most
// [Config.MaxOutOfOrder] (512) packets held past a gap, a send buffer of
// [Config.SendBuffer] (1 MiB), at most 2048 packets in flight, at most 32
// new packets sent back to back (the rest follow the acks, so a window
// opened after a pause does not overflow the receiver's UDP buffer). Packets that
// do not decode as uTP go to the fallback queue of [Config.FallbackQueue]
// (256) datagrams; past it they are dropped and counted. Nothing is
// dropped silently: [Socket.Stats] counts datagrams handed to the fallback
// and dropped there, resets sent, SYNs refused and uTP packets ignored.
//
// Hostile input never panics (FuzzDecodePacket, FuzzSocket, and
// TestHostilePackets): a datagram shorter than a header or whose first byte
// is not version 1 with a known type is not uTP and goes to the fallback;
// a uTP packet whose extension chain runs past its end is dropped and
// counted in Stats.Invalid; unknown extensions are skipped; a second
// selective ack is ignored; a packet for an unknown connection is answered
// with ST_RESET
// (a stray ST_RESET is ignored); a packet acking a sequence number never
// sent is ignored; a selective ack is read only over the packets in
// flight; data past the receive window or past the out-of-order limit is
// dropped for the peer to resend.
//
// # Differences from BEP 29
//
//   - An ST_STATE carries the sequence number of the next data packet
//     without consuming it, so the acceptor's first ST_DATA has the same
//     seq_nr as its answer to the SYN, and the dialler sets its ack_nr to
//     that seq_nr minus one. BEP 29's diagram increments it; libtorrent and
//     libutp do not, and this package interoperates with them.
//   - Selective acks of any length from 1 to 255 bytes are accepted:
//     libtorrent 2.0.8 sends 1-byte ones, where BEP 29 asks for a multiple
//     of 4 (dropping them stalled every transfer that lost a packet). The
//     ones we send are a multiple of 4 bytes, at most 32.
//   - A dialler's SYN may carry any sequence number (libtorrent's is
//     random; ours is 1, as BEP 29 says).
//   - An acceptor sends no data before the dialler's first data packet (the
//     BEP's CS_SYN_RECV → CS_CONNECTED step): libtorrent, still waiting for
//     the ST_STATE, takes an early ST_DATA's sequence number as already
//     received. Close before then ends the connection with ST_RESET.
//   - An ST_RESET is matched to a connection by our receive ID or by our
//     send ID (libutp and libtorrent answer a packet of an unknown
//     connection with that packet's connection ID).
//   - The base delay is the minimum over the last three minutes in
//     one-minute buckets, where BEP 29 says "the last two minutes"; there is
//     no clock-drift correction.
//   - The window never drops to zero or to 150-byte packets as BEP 29's
//     timeout section describes: it shrinks to one full packet, and packet
//     size is fixed (no MTU probing, no small packets at low rates).
//   - Slow start, the one-window-per-loss rule and the ±1 clamp of the
//     delay factor follow libtorrent; BEP 29 describes only the linear
//     controller.
//   - Keepalives are ST_STATE packets acking the packet before the last one
//     received, so the peer does not count them as duplicate acks (libutp's
//     trick), sent after [Config.KeepAlive] (29 s) without sending.
//   - Acks are delayed as described above; libtorrent instead defers them
//     to the end of each batch of packets read from its socket (this
//     package does too, for the packets of a coalesced GRO read).
//   - Timeouts: BEP 29's formula (rtt + 4·rtt_var, at least 500 ms),
//     doubled per consecutive timeout; libtorrent uses rtt + 2·deviation
//     and adds 1, 2, 4… s.
//   - Tail-loss probes (see above) are not in BEP 29 nor in libtorrent.
//
// # Concurrency
//
// A Socket has one goroutine, which reads the packet conn and handles each
// packet under the lock of its connection (a connection's packets of one
// coalesced read, then the end of that batch, each under the lock); each
// connection has one timer (tail-loss probe, loss detection,
// retransmission, window probe, keepalive, idle timeout, linger after a
// close). Conn methods block only in Read and Write (bounded by the
// deadlines) and are safe for concurrent use. [Socket.Close] resets every
// connection, closes the packet conn and returns once its goroutine has
// ended; a closed Conn that still has data or a FIN to deliver stays on
// the socket until its FIN is acked (then lingers for two timeouts to ack
// a retransmitted FIN) or its retransmissions time out.
package utp
