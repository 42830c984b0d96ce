package spec

import (
	"context"
	"fmt"
	"net/netip"

	"github.com/bittern/bittern/peerwire"
)

// unchoked opens an interested connection and waits for the unchoke.
func (t *Target) unchoked(ctx context.Context, ours peerwire.Reserved) (*conn, error) {
	cn, err := t.dial(ctx, ours)
	if err != nil {
		return nil, err
	}
	if err := cn.open(true); err != nil {
		cn.close()
		return nil, err
	}
	if err := cn.until(func() bool { return !cn.choked }); err != nil {
		cn.close()
		return nil, fmt.Errorf("no unchoke after interested: %w", err)
	}
	return cn, nil
}

// caseServe downloads the last piece (often short, so the short last
// block is covered).
func caseServe(ctx context.Context, t *Target) (Result, string) {
	cn, err := t.unchoked(ctx, fastExt)
	if err != nil {
		return failf("%v", err)
	}
	defer cn.close()
	last := t.MetaInfo.Info().NumPieces() - 1
	keys, err := cn.requestPiece(last)
	if err != nil {
		return failf("%v", err)
	}
	err = cn.until(func() bool {
		for _, k := range keys {
			if _, ok := cn.pieces[k]; !ok {
				return cn.rejects[k] > 0
			}
		}
		return true
	})
	if err != nil {
		return failf("waiting for %d blocks of piece %d: %v (got %d)", len(keys), last, err, len(cn.pieces))
	}
	if len(cn.rejects) > 0 {
		return failf("rejected %d requests while unchoked", len(cn.rejects))
	}
	verified, err := t.checkPiece(last, cn.pieceData(keys))
	if err != nil {
		return failf("%v", err)
	}
	if !verified {
		return passf("piece %d served in %d blocks (v2-only torrent: length checked, no v1 piece hash)", last, len(keys))
	}
	return passf("piece %d served in %d blocks and matches its SHA-1", last, len(keys))
}

// chokedPiece picks a piece outside any allowed fast set the peer may have
// computed for 127.0.0.1 or its /24 (k up to 10) and outside the ones it
// announced.
func (cn *conn) chokedPiece() (int, bool) {
	n := len(cn.have)
	ih := [20]byte(cn.t.MetaInfo.SwarmHash())
	avoid := map[uint32]bool{}
	for a := range cn.allowed {
		avoid[a] = true
	}
	if ap, err := netip.ParseAddrPort(cn.c.LocalAddr().String()); err == nil && ap.Addr().Is4() {
		for _, ip := range []netip.Addr{ap.Addr(), netip.AddrFrom4([4]byte{ap.Addr().As4()[0], ap.Addr().As4()[1], ap.Addr().As4()[2], 0})} {
			for _, i := range peerwire.AllowedFastSet(min(10, n), n, ih, ip) {
				avoid[i] = true
			}
		}
	}
	for i := n - 1; i >= 0; i-- {
		if !avoid[uint32(i)] {
			return i, true
		}
	}
	return 0, false
}

// caseRejectChoked: not interested, so never unchoked; the request must be
// rejected.
func caseRejectChoked(ctx context.Context, t *Target) (Result, string) {
	cn, err := t.dial(ctx, fastExt)
	if err != nil {
		return failf("%v", err)
	}
	defer cn.close()
	if !cn.fast() {
		return naf("peer does not support the fast extension")
	}
	if err := cn.open(false); err != nil {
		return failf("%v", err)
	}
	if err := cn.until(func() bool { return cn.first != nil }); err != nil {
		return failf("no message after the handshake: %v", err)
	}
	if !cn.choked {
		return naf("peer unchoked us before we were interested")
	}
	piece, ok := cn.chokedPiece()
	if !ok {
		return naf("every piece may be in our allowed fast set (%d pieces)", len(cn.have))
	}
	k := blockKey{uint32(piece), 0, uint32(min(peerwire.BlockSize, t.MetaInfo.Info().PieceSize(piece)))}
	if err := cn.f.WriteRequest(k.index, k.begin, k.length); err != nil {
		return failf("%v", err)
	}
	err = cn.until(func() bool { return cn.rejects[k] > 0 || cn.pieces[k] != nil || !cn.choked })
	switch {
	case err != nil && closed(err):
		return failf("closed the connection instead of rejecting one request while choking us")
	case err != nil:
		return failf("no reject for %v: %v", k, err)
	case cn.rejects[k] > 0:
		return passf("rejected piece %d", piece)
	case cn.pieces[k] != nil && cn.allowed[k.index]:
		return passf("served piece %d, which it had put in our allowed fast set", piece)
	case cn.pieces[k] != nil:
		return failf("served piece %d to a choked peer outside the allowed fast set %v", piece, keys(cn.allowed))
	default:
		return naf("peer unchoked us (not interested) before answering")
	}
}

func keys(m map[uint32]bool) []uint32 {
	var out []uint32
	for k := range m {
		out = append(out, k)
	}
	return out
}

// caseIgnoreChoked: no fast extension, not interested; the request must
// not be served.
func caseIgnoreChoked(ctx context.Context, t *Target) (Result, string) {
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
	if !cn.choked {
		return naf("peer unchoked us before we were interested")
	}
	k := blockKey{0, 0, uint32(min(peerwire.BlockSize, t.MetaInfo.Info().PieceSize(0)))}
	if err := cn.f.WriteRequest(k.index, k.begin, k.length); err != nil {
		return failf("%v", err)
	}
	err = cn.wait(t.quiet())
	switch {
	case cn.pieces[k] != nil && cn.unchokes > 0:
		return naf("peer unchoked us (not interested) and served")
	case cn.pieces[k] != nil:
		return failf("served a block to a choked peer")
	case err != nil && closed(err):
		return passf("closed the connection")
	case err != nil:
		return failf("%v", err)
	}
	return passf("ignored the request for %v", t.quiet())
}

// caseOversize asks for 32 KiB at once while unchoked.
func caseOversize(ctx context.Context, t *Target) (Result, string) {
	info := t.MetaInfo.Info()
	piece := -1
	for i := range info.NumPieces() {
		if info.PieceSize(i) >= 2*peerwire.BlockSize {
			piece = i
			break
		}
	}
	if piece < 0 {
		return naf("no piece of 32 KiB or more")
	}
	cn, err := t.unchoked(ctx, fastExt)
	if err != nil {
		return failf("%v", err)
	}
	defer cn.close()
	k := blockKey{uint32(piece), 0, 2 * peerwire.BlockSize}
	if err := cn.f.WriteRequest(k.index, k.begin, k.length); err != nil {
		return failf("%v", err)
	}
	err = cn.wait(t.quiet())
	switch {
	case cn.pieces[k] != nil:
		return failf("served a %d-byte block", k.length)
	case cn.rejects[k] > 0:
		return passf("rejected it")
	case err != nil && closed(err):
		return passf("closed the connection")
	case err != nil:
		return failf("%v", err)
	case cn.fast():
		return failf("neither served, rejected nor closed within %v; BEP 6 wants exactly one answer", t.quiet())
	}
	return passf("ignored it")
}

// answerOrClose sends one bad request on an unchoked fast connection and
// wants a reject or a close.
func answerOrClose(ctx context.Context, t *Target, k blockKey, what string) (Result, string) {
	cn, err := t.unchoked(ctx, fastExt)
	if err != nil {
		return failf("%v", err)
	}
	defer cn.close()
	if !cn.fast() {
		return naf("peer does not support the fast extension")
	}
	// The peer's reject echoes our bad request: let it through the
	// framer's range checks.
	cn.f.SetPieceCount(0)
	cn.f.SetPieceLength(0, 0)
	if _, err := cn.c.Write(rawMessage(peerwire.IDRequest, u32(k.index, k.begin, k.length)...)); err != nil {
		return failf("%v", err)
	}
	served := func() bool {
		for p := range cn.pieces {
			if p.index == k.index && p.begin == k.begin {
				return true
			}
		}
		return false
	}
	err = cn.until(func() bool { return cn.rejects[k] > 0 || served() })
	switch {
	case err == nil && served():
		return failf("sent data for %s", what)
	case err == nil:
		return passf("rejected %s", what)
	case closed(err):
		return passf("closed the connection on %s", what)
	case timedOut(err):
		return failf("no reject and no close within %v for %s", t.timeout(), what)
	}
	return failf("on %s: %v", what, err)
}

// casePastPiece asks for 16 KiB starting 8 bytes before the piece's end.
func casePastPiece(ctx context.Context, t *Target) (Result, string) {
	size := t.MetaInfo.Info().PieceSize(0)
	return answerOrClose(ctx, t, blockKey{0, uint32(size - 8), peerwire.BlockSize}, "a request past the end of piece 0")
}

// caseIndexRange asks for piece NumPieces.
func caseIndexRange(ctx context.Context, t *Target) (Result, string) {
	n := uint32(t.MetaInfo.Info().NumPieces())
	return answerOrClose(ctx, t, blockKey{n, 0, peerwire.BlockSize}, fmt.Sprintf("a request for piece %d of %d", n, n))
}

// caseCancel requests two pieces' worth of blocks and cancels the second
// half at once.
func caseCancel(ctx context.Context, t *Target) (Result, string) {
	cn, err := t.unchoked(ctx, fastExt)
	if err != nil {
		return failf("%v", err)
	}
	defer cn.close()
	if !cn.fast() {
		return naf("peer does not support the fast extension")
	}
	// The requests and the cancels go out in one write, so that the
	// cancels reach the peer while it still has the requests queued.
	var all []blockKey
	info := t.MetaInfo.Info()
	for i := 0; i < info.NumPieces() && len(all) < 16; i++ {
		for begin := int64(0); begin < info.PieceSize(i); begin += peerwire.BlockSize {
			all = append(all, blockKey{uint32(i), uint32(begin), uint32(min(peerwire.BlockSize, info.PieceSize(i)-begin))})
		}
	}
	var buf []byte
	for _, k := range all {
		buf = peerwire.Request{Index: k.index, Begin: k.begin, Length: k.length}.AppendTo(buf)
	}
	cancelled := all[len(all)/2:]
	for _, k := range cancelled {
		buf = peerwire.Cancel{Index: k.index, Begin: k.begin, Length: k.length}.AppendTo(buf)
	}
	if _, err := cn.c.Write(buf); err != nil {
		return failf("%v", err)
	}
	answered := func(k blockKey) int {
		n := cn.rejects[k]
		if cn.pieces[k] != nil {
			n++
		}
		return n
	}
	err = cn.until(func() bool {
		for _, k := range all {
			if answered(k) == 0 {
				return false
			}
		}
		return true
	})
	served, rejected := 0, 0
	for _, k := range cancelled {
		if cn.pieces[k] != nil {
			served++
		}
		if cn.rejects[k] > 0 {
			rejected++
		}
	}
	if err != nil {
		missing := 0
		for _, k := range all {
			if answered(k) == 0 {
				missing++
			}
		}
		return failf("%d of %d requests (%d cancelled) got no piece or reject: %v", missing, len(all), len(cancelled), err)
	}
	for _, k := range all {
		if answered(k) > 1 || cn.rejects[k] > 1 {
			return failf("request %v answered more than once", k)
		}
	}
	if cn.dupPieces > 0 {
		return failf("%d blocks sent twice", cn.dupPieces)
	}
	for _, k := range all[:len(all)/2] {
		if cn.pieces[k] == nil {
			return failf("uncancelled request %v rejected while unchoked", k)
		}
	}
	return passf("of %d cancelled requests %d were served and %d rejected", len(cancelled), served, rejected)
}

// caseKeepAlive sends keep-alives before interested.
func caseKeepAlive(ctx context.Context, t *Target) (Result, string) {
	cn, err := t.dial(ctx, fastExt)
	if err != nil {
		return failf("%v", err)
	}
	defer cn.close()
	for range 3 {
		if err := cn.f.WriteKeepAlive(); err != nil {
			return failf("%v", err)
		}
	}
	if err := cn.open(true); err != nil {
		return failf("after keep-alives: %v", err)
	}
	for range 2 {
		if err := cn.f.WriteKeepAlive(); err != nil {
			return failf("%v", err)
		}
	}
	if err := cn.until(func() bool { return !cn.choked }); err != nil {
		return failf("no unchoke after keep-alives and interested: %v", err)
	}
	k := blockKey{0, 0, uint32(min(peerwire.BlockSize, t.MetaInfo.Info().PieceSize(0)))}
	if err := cn.f.WriteKeepAlive(); err != nil {
		return failf("%v", err)
	}
	if err := cn.f.WriteRequest(k.index, k.begin, k.length); err != nil {
		return failf("%v", err)
	}
	if err := cn.until(func() bool { return cn.pieces[k] != nil || cn.rejects[k] > 0 }); err != nil {
		return failf("no answer to a request after keep-alives: %v", err)
	}
	if cn.pieces[k] == nil {
		return failf("rejected a request while unchoked")
	}
	return passf("unchoked and served after 6 keep-alives")
}
