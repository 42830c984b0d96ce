package spec

import (
	"context"
	"errors"
	"fmt"

	"github.com/bittern/bittern/peerwire"
)

var allCases = []Case{
	{"1.1", "BEP 3 (handshake)", "answers a handshake with the same protocol string and info-hash and a 20-byte peer ID", caseHandshake},
	{"1.2", "BEP 3 (handshake)", "drops a connection whose handshake names a torrent it does not serve", caseUnknownHash},
	{"1.3", "BEP 4 (reserved bits)", "ignores reserved bits it does not know", caseUnknownBits},
	{"2.1", "BEP 3 (bitfield)", "without the fast extension, a seed's first message (after any BEP 10 handshake) is a correct bitfield, and it sends no BEP 6 messages", caseBitfieldFirst},
	{"2.2", "BEP 6 (have all/have none)", "with the fast extension, exactly one of have all, bitfield or have none comes first (after any BEP 10 handshake) and shows every piece", caseHaveAllFirst},
	{"3.1", "BEP 3 (request/piece)", "serves the blocks of a piece once it unchoked an interested peer, and they match the piece hash", caseServe},
	{"3.2", "BEP 6 (reject request)", "rejects a request from a choked peer for a piece outside the allowed fast set", caseRejectChoked},
	{"3.3", "BEP 3 (choke)", "without the fast extension, does not serve a peer it is choking", caseIgnoreChoked},
	{"3.4", "BEP 3 (request)", "does not serve a request longer than 16 KiB (2^14)", caseOversize},
	{"3.5", "BEP 6 (reject request)", "answers a request that runs past the end of its piece with a reject or by closing, never with data", casePastPiece},
	{"3.6", "BEP 6 (reject request)", "answers a request for a piece index out of range with a reject or by closing", caseIndexRange},
	{"3.7", "BEP 6 (cancel)", "with the fast extension, answers every request exactly once (piece or reject), cancelled ones included", caseCancel},
	{"4.1", "BEP 3 (keep-alive)", "keeps a connection that sends keep-alives open and keeps serving it", caseKeepAlive},
	{"5.1", "BEP 10 (extended handshake)", "sends a well-formed extended handshake (m dictionary, v, p, reqq, yourip) and only extended IDs we assigned", caseExtHandshake},
	{"5.2", "BEP 9 (metadata_size)", "advertises ut_metadata and a metadata_size equal to the info dictionary's size", caseMetadataSize},
	{"6.1", "BEP 9 (ut_metadata data)", "serves every metadata piece; together they hash to the info-hash", caseMetadata},
	{"6.2", "BEP 9 (ut_metadata reject)", "rejects a request for a metadata piece out of range", caseMetadataRange},
	{"7.1", "BEP 3 (messages)", "closes the connection on a have message of the wrong length", caseBadLength},
	{"7.2", "BEP 3 (have)", "closes the connection on a have with a piece index out of range", caseHaveRange},
	{"7.3", "BEP 3 (bitfield: only ever the first message)", "closes the connection on a bitfield that is not the first message", caseLateBitfield},
	{"7.4", "BEP 3 (bitfield: drop on spare bits)", "closes the connection on a bitfield with spare bits set", caseSpareBits},
	{"7.5", "BEP 3 (bitfield: drop on wrong size)", "closes the connection on a bitfield of the wrong size", caseBitfieldSize},
	{"7.6", "BEP 3 (messages)", "closes the connection on a length prefix of 16 MiB instead of waiting for it", caseHugeLength},
	{"7.7", "BEP 6 (modified semantics)", "with the fast extension, closes the connection on a piece it never requested", caseUnrequested},
	{"7.8", "BEP 6 (have all/have none)", "without the fast extension, closes the connection on have all", caseHaveAllNoFast},
	{"7.9", "BEP 6 (reject request)", "without the fast extension, closes the connection on a reject", caseRejectNoFast},
}

// caseHandshake: Initiate checks the protocol string, length and
// info-hash; the detail names the peer.
func caseHandshake(ctx context.Context, t *Target) (Result, string) {
	cn, err := t.dial(ctx, fastExt)
	if err != nil {
		return failf("%v", err)
	}
	defer cn.close()
	return passf("peer ID %q (%s), reserved %x", cn.theirs.PeerID[:], peerwire.ClientName(cn.theirs.PeerID), cn.theirs.Reserved[:])
}

// caseUnknownHash sends a handshake for a hash the peer does not have.
func caseUnknownHash(ctx context.Context, t *Target) (Result, string) {
	c, err := t.rawDial(ctx)
	if err != nil {
		return failf("%v", err)
	}
	defer c.Close()
	bogus := t.MetaInfo.SwarmHash()
	for i := range bogus {
		bogus[i] ^= 0x5a
	}
	if err := peerwire.WriteHandshake(c, peerwire.Handshake{Reserved: fastExt, InfoHash: bogus, PeerID: peerwire.NewPeerID("-BS0100-")}); err != nil {
		return failf("writing the handshake: %v", err)
	}
	h, err := peerwire.ReadHandshake(c)
	switch {
	case err == nil && h.InfoHash == bogus:
		return failf("answered the handshake for unknown info-hash %x", bogus)
	case err == nil:
		return failf("answered with a handshake for %x", h.InfoHash)
	case closed(err):
		return passf("closed without answering")
	case timedOut(err):
		return failf("neither answered nor closed within %v", t.timeout())
	default:
		return passf("closed without a handshake (%v)", err)
	}
}

// caseUnknownBits sets reserved bits no BEP allocates.
func caseUnknownBits(ctx context.Context, t *Target) (Result, string) {
	ours := fastExt
	ours[1], ours[3], ours[4], ours[6] = 0xff, 0xff, 0xff, 0xff
	cn, err := t.dial(ctx, ours)
	if err != nil {
		return failf("with reserved %x: %v", ours[:], err)
	}
	defer cn.close()
	if err := cn.open(false); err != nil {
		return failf("%v", err)
	}
	if err := cn.until(func() bool { return cn.first != nil }); err != nil {
		return failf("with reserved %x set, no message after the handshake: %v", ours[:], err)
	}
	return passf("answered reserved %x and sent %s", ours[:], cn.first)
}

// caseBitfieldFirst connects without the fast extension.
func caseBitfieldFirst(ctx context.Context, t *Target) (Result, string) {
	cn, err := t.dial(ctx, extOnly)
	if err != nil {
		return failf("%v", err)
	}
	defer cn.close()
	if err := cn.open(false); err != nil {
		return failf("%v", err)
	}
	if err := cn.until(func() bool { return cn.first != nil }); err != nil {
		return failf("no message after the handshake: %v", err)
	}
	if _, ok := cn.first.(*peerwire.Bitfield); !ok {
		return failf("first message is %s, not a bitfield", cn.first)
	}
	err = cn.wait(t.quiet())
	if errors.Is(err, peerwire.ErrNotNegotiated) {
		return failf("sent a BEP 6 message though the fast extension was not negotiated: %v", err)
	}
	if err != nil && !closed(err) {
		return failf("after the bitfield: %v", err)
	}
	if missing := countMissing(cn.have); missing > 0 {
		return failf("bitfield and haves lack %d of %d pieces", missing, len(cn.have))
	}
	if cn.availMsgs > 1 {
		return failf("sent %d bitfields", cn.availMsgs)
	}
	if !cn.haveFromBitfieldOnly() {
		return passf("bitfield first; completed by have messages (lazy bitfield)")
	}
	return passf("bitfield first, all %d pieces", len(cn.have))
}

// haveFromBitfieldOnly reports whether the first bitfield alone was full.
func (cn *conn) haveFromBitfieldOnly() bool {
	bf, ok := cn.first.(*peerwire.Bitfield)
	if !ok {
		return false
	}
	for i := range cn.have {
		if !bf.Has(i) {
			return false
		}
	}
	return true
}

func countMissing(have []bool) int {
	n := 0
	for _, h := range have {
		if !h {
			n++
		}
	}
	return n
}

// caseHaveAllFirst connects with the fast extension.
func caseHaveAllFirst(ctx context.Context, t *Target) (Result, string) {
	cn, err := t.dial(ctx, fastExt)
	if err != nil {
		return failf("%v", err)
	}
	defer cn.close()
	if !cn.fast() {
		return naf("peer does not support the fast extension (reserved %x)", cn.theirs.Reserved[:])
	}
	if err := cn.open(false); err != nil {
		return failf("%v", err)
	}
	if err := cn.until(func() bool { return cn.first != nil }); err != nil {
		return failf("no message after the handshake: %v", err)
	}
	switch cn.first.(type) {
	case *peerwire.HaveAll, *peerwire.Bitfield:
	case *peerwire.HaveNone:
		return failf("a seed sent have none")
	default:
		return failf("first message is %s, not have all, bitfield or have none", cn.first)
	}
	if err := cn.wait(t.quiet()); err != nil && !closed(err) {
		return failf("after %s: %v", cn.first, err)
	}
	if cn.availMsgs != 1 {
		return failf("sent %d of have all, bitfield and have none; BEP 6 allows exactly one", cn.availMsgs)
	}
	if m := countMissing(cn.have); m > 0 {
		return failf("%s and haves lack %d of %d pieces", cn.first, m, len(cn.have))
	}
	return passf("%s first", msgName(cn.first))
}

func msgName(m peerwire.Message) string {
	switch m.(type) {
	case *peerwire.HaveAll:
		return "have all"
	case *peerwire.Bitfield:
		return "bitfield"
	case *peerwire.HaveNone:
		return "have none"
	}
	return fmt.Sprint(m)
}
