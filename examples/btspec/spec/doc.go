// Package spec is the logic of btspec: numbered conformance cases that
// check how a BitTorrent peer seeding a torrent follows the peer wire
// protocol, in the spirit of h2spec.
//
//	mi, _ := metainfo.LoadFile("file.torrent")
//	rep, err := spec.Run(ctx, &spec.Target{Addr: "127.0.0.1:6881", MetaInfo: mi}, nil)
//	for _, c := range rep.Cases {
//		fmt.Println(c.ID, c.Result, c.Title, c.Detail)
//	}
//
// Each case opens its own TCP connection, bounded by Target.Timeout, and
// reports Pass, Fail or NotApplicable with the BEP section it checks:
//
//   - BEP 3: the handshake, the bitfield as first message, serving
//     requests while unchoked and not while choked, the 16 KiB request
//     limit, keep-alives, and closing the connection on invalid messages
//     (bad length, piece index out of range, a late bitfield, spare bits,
//     a 16 MiB length prefix).
//   - BEP 4: unknown reserved bits are ignored.
//   - BEP 6: have all/have none, reject for choked and invalid requests,
//     exactly one answer per request even when cancelled, closing on an
//     unrequested piece and on BEP 6 messages when it was not negotiated.
//   - BEP 9 and 10: the extended handshake's fields, metadata_size and
//     ut_metadata data and reject messages.
//
// Limits: a "does not send" check waits Target.Quiet (DefaultQuiet); every
// other wait ends at the case's Timeout (DefaultTimeout). Messages the peer
// sends are parsed by peerwire.Framer with its default limits, so a peer
// that breaks them fails the case with the framer's error.
package spec
