package bittern

import (
	"context"
	"crypto/sha1"
	"crypto/sha256"
	"errors"
	"fmt"
	"net/netip"
	"time"

	"github.com/bittern/bittern/metainfo"
	"github.com/bittern/bittern/peerwire"
)

// v2 magnet links (BEP 52 "btmh"): the info dictionary comes over
// ut_metadata like a v1 one, checked with SHA-256; it does not hold the
// piece layers, which are asked of peers with hash requests, one file at a
// time, and checked against each file's pieces root.

// errNoPieceLayers: no peer gave the piece layers of a v2 magnet's torrent.
var errNoPieceLayers = errors.New("bittern: no peer gave the piece layers of the v2 torrent")

// hashesPerRequest is how many piece hashes one hash request asks for
// (BEP 52: should not exceed 512).
const hashesPerRequest = 512

// reserved returns the handshake reserved bytes of the fetch: with the
// BEP 52 bit for a v2 link.
func (f *metaFetch) reserved() peerwire.Reserved {
	if f.v2.IsZero() {
		return ourReserved
	}
	return ourReserved.Set(peerwire.ReservedV2)
}

// infoMatches reports whether the received pieces hash to the link's
// info-hash: SHA-256 for a v2 link, SHA-1 otherwise. f.mu must be held.
func (f *metaFetch) infoMatches() bool {
	if !f.v2.IsZero() {
		h := sha256.New()
		for _, p := range f.pieces {
			h.Write(p)
		}
		return metainfo.HashV2(h.Sum(nil)) == f.v2
	}
	h := sha1.New()
	for _, p := range f.pieces {
		h.Write(p)
	}
	return [20]byte(h.Sum(nil)) == f.ih
}

// checkMagnetInfo refuses the info dictionary of a v2-only torrent
// fetched for a link with a v1 info-hash: such a torrent has no v1 swarm
// (the link names the SHA-1 of its bytes, not a torrent).
func checkMagnetInfo(m *metainfo.Magnet, mi *metainfo.MetaInfo) error {
	if !m.InfoHash.IsZero() && !mi.Info().IsV1() {
		return fmt.Errorf("%w: a v1 (btih) link for a v2-only torrent", ErrUnsupported)
	}
	return nil
}

// missingLayers returns the pieces roots of mi's files larger than a piece
// whose piece layer mi lacks, with their piece counts. Hybrid torrents
// need none: they are verified with SHA-1.
func missingLayers(mi *metainfo.MetaInfo) map[metainfo.HashV2]int {
	info := mi.Info()
	if info.IsV1() || !info.IsV2() {
		return nil
	}
	need := make(map[metainfo.HashV2]int)
	for _, f := range info.Files {
		if f.Pad || f.Length <= info.PieceLength {
			continue
		}
		if _, ok := mi.PieceLayers[f.PiecesRoot]; !ok {
			need[f.PiecesRoot] = int((f.Length + info.PieceLength - 1) / info.PieceLength)
		}
	}
	return need
}

// fetchPieceLayers completes the piece layers of a v2-only torrent from a
// magnet link, asking the peers in turn. It returns errNoPieceLayers if
// none of them gave them all.
func (s *Session) fetchPieceLayers(ctx context.Context, mi *metainfo.MetaInfo, peers []netip.AddrPort) error {
	need := missingLayers(mi)
	if len(need) == 0 {
		return nil
	}
	if mi.PieceLayers == nil {
		mi.PieceLayers = make(map[metainfo.HashV2][]byte)
	}
	tried := make(map[netip.AddrPort]bool)
	for _, a := range peers {
		if tried[a] {
			continue
		}
		tried[a] = true
		err := s.pieceLayersFrom(ctx, mi, need, a)
		s.cfg.Logger.Debug("piece layers: peer", "torrent", mi.SwarmHash(), "peer", a, "missing", len(need), "err", err)
		if len(need) == 0 {
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
	}
	return fmt.Errorf("%w (%d files missing, %d peers asked)", errNoPieceLayers, len(need), len(tried))
}

// pieceLayersFrom asks one peer for the piece layers in need, storing
// each one that hashes to its root in mi and removing it from need.
func (s *Session) pieceLayersFrom(ctx context.Context, mi *metainfo.MetaInfo, need map[metainfo.HashV2]int, addr netip.AddrPort) error {
	cfg := &s.cfg
	dctx, cancel := context.WithTimeout(ctx, cfg.HandshakeTimeout)
	defer cancel()
	reserved := ourReserved.Set(peerwire.ReservedV2)
	conn, rd, hs, err := s.dialHandshakeV2(dctx, reserved, mi.SwarmHash(), metainfo.Hash{}, addr.String())
	if err != nil {
		return err
	}
	defer conn.Close()
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()
	fr := peerwire.NewFramer(conn, rd)
	fr.SetExtensions(reserved.Intersect(hs.Reserved))
	fr.SetPieceCount(mi.Info().NumPieces())
	if hs.Reserved.Has(peerwire.ReservedFast) {
		if err := fr.WriteHaveNone(); err != nil {
			return err
		}
	}
	base := pieceLayerIndex(mi.Info().PieceLength)
	for root, n := range need {
		layer := make([]byte, 32*n)
		width := 1
		for width < n {
			width <<= 1
		}
		step := min(width, hashesPerRequest)
		for idx := 0; idx < n; idx += step {
			req := peerwire.HashRequest{PiecesRoot: root, BaseLayer: base, Index: uint32(idx), Length: uint32(step)}
			if err := fr.WriteMessage(req); err != nil {
				return err
			}
			conn.SetDeadline(time.Now().Add(cfg.RequestTimeout))
			hashes, err := readHashes(fr, req)
			if err != nil {
				return err
			}
			copy(layer[32*idx:], hashes[:32*min(step, n-idx)])
		}
		got := make([]metainfo.HashV2, n)
		for k := range got {
			copy(got[k][:], layer[32*k:])
		}
		if metainfo.PiecesRoot(got, mi.Info().PieceLength) != root {
			return fmt.Errorf("%w: piece layer does not match its pieces root", errProtocol)
		}
		mi.PieceLayers[root] = layer
		delete(need, root)
	}
	return nil
}

// errHashReject: the peer refused a hash request.
var errHashReject = errors.New("bittern: peer rejected a hash request")

// readHashes reads messages until the answer to req: its hashes (at least
// req.Length of them), or an error for a hash reject. Other messages are
// skipped.
func readHashes(fr *peerwire.Framer, req peerwire.HashRequest) ([]byte, error) {
	for {
		m, err := fr.ReadMessage()
		if err != nil {
			return nil, err
		}
		switch m := m.(type) {
		case *peerwire.Hashes:
			if m.HashRequest == req {
				return append([]byte(nil), m.Hashes...), nil
			}
		case *peerwire.HashReject:
			if peerwire.HashRequest(*m) == req {
				return nil, errHashReject
			}
		}
	}
}
