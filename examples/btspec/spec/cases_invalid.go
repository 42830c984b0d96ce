package spec

import (
	"context"

	"github.com/bittern/bittern/peerwire"
)

// sendBad opens a connection with ours, sends our first messages, the
// given preamble messages and then bad, and wants the peer to close.
func sendBad(ctx context.Context, t *Target, ours peerwire.Reserved, interested bool, bad []byte, what string) (Result, string) {
	cn, err := t.dial(ctx, ours)
	if err != nil {
		return failf("%v", err)
	}
	defer cn.close()
	if err := cn.open(interested); err != nil {
		return failf("%v", err)
	}
	if _, err := cn.c.Write(bad); err != nil {
		if closed(err) {
			return passf("closed the connection on %s", what)
		}
		return failf("%v", err)
	}
	return cn.expectClose(what)
}

func caseBadLength(ctx context.Context, t *Target) (Result, string) {
	return sendBad(ctx, t, extOnly, true, rawMessage(peerwire.IDHave, 0, 0, 0), "a have with a 3-byte payload")
}

func caseHaveRange(ctx context.Context, t *Target) (Result, string) {
	n := uint32(t.MetaInfo.Info().NumPieces())
	return sendBad(ctx, t, extOnly, true, rawMessage(peerwire.IDHave, u32(n)...), "a have for piece NumPieces")
}

func caseLateBitfield(ctx context.Context, t *Target) (Result, string) {
	bits := make([]byte, peerwire.BitfieldLength(t.MetaInfo.Info().NumPieces()))
	bits[0] = 0x80 // piece 0: a real change of what we have
	return sendBad(ctx, t, extOnly, true, rawMessage(peerwire.IDBitfield, bits...), "a bitfield after interested")
}

func caseSpareBits(ctx context.Context, t *Target) (Result, string) {
	n := t.MetaInfo.Info().NumPieces()
	if n%8 == 0 {
		return naf("%d pieces: the bitfield has no spare bits", n)
	}
	bits := make([]byte, peerwire.BitfieldLength(n))
	bits[len(bits)-1] = 1 // the last spare bit
	return sendBad(ctx, t, extOnly, false, rawMessage(peerwire.IDBitfield, bits...), "a bitfield with a spare bit set")
}

func caseBitfieldSize(ctx context.Context, t *Target) (Result, string) {
	bits := make([]byte, peerwire.BitfieldLength(t.MetaInfo.Info().NumPieces())+1)
	return sendBad(ctx, t, extOnly, false, rawMessage(peerwire.IDBitfield, bits...), "a bitfield one byte too long")
}

func caseHugeLength(ctx context.Context, t *Target) (Result, string) {
	return sendBad(ctx, t, extOnly, true, []byte{0x01, 0x00, 0x00, 0x01, byte(peerwire.IDPiece)}, "a 16 MiB length prefix")
}

func caseUnrequested(ctx context.Context, t *Target) (Result, string) {
	cn, err := t.dial(ctx, fastExt)
	if err != nil {
		return failf("%v", err)
	}
	cn.close()
	if !cn.fast() {
		return naf("peer does not support the fast extension")
	}
	size := min(peerwire.BlockSize, t.MetaInfo.Info().PieceSize(0))
	return sendBad(ctx, t, fastExt, false, rawMessage(peerwire.IDPiece, append(u32(0, 0), make([]byte, size)...)...), "an unrequested piece")
}

func caseHaveAllNoFast(ctx context.Context, t *Target) (Result, string) {
	return sendBad(ctx, t, extOnly, false, rawMessage(peerwire.IDHaveAll), "have all without the fast extension")
}

func caseRejectNoFast(ctx context.Context, t *Target) (Result, string) {
	return sendBad(ctx, t, extOnly, true, rawMessage(peerwire.IDReject, u32(0, 0, peerwire.BlockSize)...), "a reject without the fast extension")
}
