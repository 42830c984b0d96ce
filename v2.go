package bittern

import (
	"fmt"
	"net/netip"

	"github.com/bittern/bittern/metainfo"
	"github.com/bittern/bittern/peerwire"
	"github.com/bittern/bittern/storage"
)

// BEP 52 (BitTorrent v2) in the session.
//
// A v2-only torrent is known on the wire, to trackers and in the DHT by
// its truncated v2 info-hash (metainfo.MetaInfo.SwarmHash), which becomes
// Torrent.ih; its pieces are checked against the SHA-256 merkle tree of
// its file (storage.Verifier with the piece layers). metainfo lays v2
// files out on piece boundaries, so piece numbering, requests and storage
// work as for v1.
//
// A hybrid torrent joins both swarms: Torrent.ih is its v1 info-hash and
// Torrent.ih2 its truncated v2 info-hash. The session routes incoming
// handshakes (and MSE stream keys) for either to the torrent; it announces
// both, and dials peers found under the v2 hash with it. Its pieces are
// checked with SHA-1, which a hybrid torrent's v1 view vouches for.

// v2Hash returns the truncated v2 info-hash a hybrid torrent is also known
// by, or the zero hash for a v1-only or v2-only torrent (whose only hash is
// its SwarmHash).
func v2Hash(mi *metainfo.MetaInfo) metainfo.Hash {
	if info := mi.Info(); info != nil && info.IsHybrid() {
		return mi.InfoHashV2().Truncate()
	}
	return metainfo.Hash{}
}

// newV2Verifier returns the merkle verifier of a v2-only torrent, built
// from its piece layers, or nil for a torrent with v1 hashes (SHA-1 is
// enough for a hybrid one). A v2-only torrent without the piece layer of
// one of its files larger than a piece cannot be verified and is refused.
func newV2Verifier(mi *metainfo.MetaInfo) (*storage.Verifier, error) {
	info := mi.Info()
	if info.IsV1() {
		return nil, nil
	}
	v, err := storage.NewVerifier(info, mi.PieceLayers)
	if err != nil {
		return nil, fmt.Errorf("%w: v2 torrent: %w", ErrUnsupported, err)
	}
	return v, nil
}

// InfoHashV2 returns the torrent's v2 (SHA-256) info-hash, or the zero
// hash for a v1-only torrent.
func (t *Torrent) InfoHashV2() metainfo.HashV2 { return t.mi.InfoHashV2() }

// reserved returns the handshake reserved bytes of the torrent: the
// session's, plus the BEP 52 bit for a v2 or hybrid torrent (never for a
// v1-only one: libtorrent 2.0 refuses that).
func (t *Torrent) reserved() peerwire.Reserved {
	if t.hasInfo() && t.info.IsV2() {
		return ourReserved.Set(peerwire.ReservedV2)
	}
	return ourReserved
}

// swarmHashes returns the 20-byte hashes the torrent is announced and
// reached by: its info-hash, then its truncated v2 info-hash if hybrid.
func (t *Torrent) swarmHashes() []metainfo.Hash {
	if t.ih2.IsZero() {
		return []metainfo.Hash{t.ih}
	}
	return []metainfo.Hash{t.ih, t.ih2}
}

// addPeersFrom gives the torrent peers found under hash ih: those of a
// hybrid torrent's v2 swarm are dialled with the v2 hash.
func (t *Torrent) addPeersFrom(ih metainfo.Hash, addrs ...netip.AddrPort) {
	if ih.IsZero() || ih != t.ih2 {
		t.AddPeers(addrs...)
		return
	}
	addrs = append([]netip.AddrPort(nil), addrs...)
	t.inbox.post(func() {
		for _, a := range addrs {
			if !a.IsValid() || a.Port() == 0 {
				continue
			}
			pa := t.addrs[a]
			if pa == nil {
				if len(t.addrs) >= MaxPeerAddrs {
					break
				}
				pa = &peerAddr{addr: a}
				t.addrs[a] = pa
			}
			pa.v2 = true
		}
		t.connectPeers()
	})
}

// dialHash returns the info-hash to dial pa with.
func (t *Torrent) dialHash(pa *peerAddr) metainfo.Hash {
	if pa.v2 && !t.ih2.IsZero() {
		return t.ih2
	}
	return t.ih
}

// lookupLocked returns the torrent reached by 20-byte hash ih (its
// info-hash, or a hybrid torrent's truncated v2 info-hash), or nil.
// s.mu must be held.
func (s *Session) lookupLocked(ih metainfo.Hash) *Torrent {
	if t := s.torrents[ih]; t != nil {
		return t
	}
	return s.v2Alias[ih]
}

// takenLocked reports whether a torrent of the session already uses ih or
// ih2 (ih2 may be zero). s.mu must be held.
func (s *Session) takenLocked(ih, ih2 metainfo.Hash) bool {
	return s.lookupLocked(ih) != nil || (!ih2.IsZero() && s.lookupLocked(ih2) != nil)
}

// addLocked registers t under its hashes. s.mu must be held.
func (s *Session) addLocked(t *Torrent) {
	s.torrents[t.ih] = t
	s.skeys.Add(t.ih)
	if !t.ih2.IsZero() {
		if s.v2Alias == nil {
			s.v2Alias = make(map[metainfo.Hash]*Torrent)
		}
		s.v2Alias[t.ih2] = t
		s.skeys.Add(t.ih2)
	}
}

// removeLocked forgets the hashes of t, if they are still its. s.mu must
// be held. It does not read t.ih2, which a magnet torrent's goroutine may
// be setting.
func (s *Session) removeLocked(t *Torrent) {
	if s.torrents[t.ih] == t {
		delete(s.torrents, t.ih)
		s.skeys.Remove(t.ih)
	}
	for h, x := range s.v2Alias {
		if x == t {
			delete(s.v2Alias, h)
			s.skeys.Remove(h)
		}
	}
}

// addV2AliasOf registers the truncated v2 hash of a hybrid torrent added
// by StartMagnet once its metadata is set (on the goroutine that set it),
// if the torrent is still the session's and no other torrent has it.
func (s *Session) addV2AliasOf(t *Torrent) {
	if t.ih2.IsZero() {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.torrents[t.ih] != t || s.lookupLocked(t.ih2) != nil {
		return
	}
	if s.v2Alias == nil {
		s.v2Alias = make(map[metainfo.Hash]*Torrent)
	}
	s.v2Alias[t.ih2] = t
	s.skeys.Add(t.ih2)
}

// hashPieceV2 checks a complete piece of a v2-only torrent against its
// merkle hash on the I/O pool: from the block hashes taken as its blocks
// were written, or else by reading it back from storage.
func (t *Torrent) hashPieceV2(piece int) {
	var ls *leafSums
	if ph := t.hashers[piece]; ph != nil {
		ls = ph.leaves
	}
	delete(t.hashers, piece) // its write queue is done
	t.jobs.Add(1)
	t.s.io.submit(func() {
		defer t.jobs.Done()
		ok := false
		if t.ctx.Err() == nil {
			var err error
			if done, match := ls.verdict(); done {
				ok = match
			} else {
				ok, err = t.v2.CheckPiece(t.st, piece)
			}
			if err != nil {
				t.log.Warn("hash check", "piece", piece, "err", err)
			}
		}
		t.inbox.post(func() { t.onHashed(piece, ok) })
	})
}

// wireLength is the length of the torrent's byte space as peers request
// it. libtorrent pads the last file of a v2-only torrent to a whole piece
// too, so its requests may reach past the data into that tail pad: for a
// v2-only torrent the last piece is a whole piece on the wire.
func (t *Torrent) wireLength() int64 {
	if t.v2 == nil {
		return t.info.TotalLength()
	}
	return int64(t.info.NumPieces()) * t.info.PieceLength
}

// readBlock reads a requested block at off of the torrent's byte space;
// the bytes of a v2-only torrent's tail pad (see wireLength) read as zeros.
func (t *Torrent) readBlock(buf []byte, off int64) (int, error) {
	total := t.info.TotalLength()
	if off+int64(len(buf)) <= total {
		return t.st.ReadAt(buf, off)
	}
	n := 0
	if off < total {
		var err error
		n, err = t.st.ReadAt(buf[:total-off], off)
		if int64(n) < total-off {
			return n, err
		}
	}
	clear(buf[n:])
	return len(buf), nil
}
