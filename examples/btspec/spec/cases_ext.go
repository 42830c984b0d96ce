package spec

import (
	"bytes"
	"context"
	"crypto/sha1"
	"crypto/sha256"
	"net/netip"

	"github.com/bittern/bittern/peerwire"
)

// extConn opens a connection with BEP 10 and waits for the peer's
// extended handshake.
func (t *Target) extConn(ctx context.Context) (*conn, Result, string) {
	cn, err := t.dial(ctx, fastExt)
	if err != nil {
		r, d := failf("%v", err)
		return nil, r, d
	}
	if !cn.extended() {
		cn.close()
		r, d := naf("peer does not set the BEP 10 reserved bit (reserved %x)", cn.theirs.Reserved[:])
		return nil, r, d
	}
	if err := cn.open(false); err != nil {
		cn.close()
		r, d := failf("%v", err)
		return nil, r, d
	}
	if err := cn.until(func() bool { return cn.ext != nil || cn.extErr != nil }); err != nil {
		cn.close()
		r, d := failf("no extended handshake: %v", err)
		return nil, r, d
	}
	if cn.extErr != nil {
		cn.close()
		r, d := failf("malformed extended handshake: %v", cn.extErr)
		return nil, r, d
	}
	return cn, "", ""
}

func caseExtHandshake(ctx context.Context, t *Target) (Result, string) {
	cn, r, d := t.extConn(ctx)
	if cn == nil {
		return r, d
	}
	defer cn.close()
	h := cn.ext
	if h.M == nil {
		return failf("extended handshake has no m dictionary")
	}
	if h.Reqq < 0 {
		return failf("reqq %d", h.Reqq)
	}
	if h.YourIP.IsValid() {
		ap, err := netip.ParseAddrPort(cn.c.LocalAddr().String())
		if err == nil && h.YourIP.Unmap() != ap.Addr().Unmap() {
			return failf("yourip %v, but we are %v", h.YourIP, ap.Addr())
		}
	}
	if err := cn.wait(t.quiet()); err != nil && !closed(err) {
		return failf("after the extended handshake: %v", err)
	}
	if len(cn.strayExt) > 0 {
		return failf("sent extended messages with IDs %v that we never assigned (ours: ut_metadata=%d)", cn.strayExt, ourMetadataID)
	}
	return passf("m=%v v=%q p=%d reqq=%d yourip=%v", h.M, h.Version, h.Port, h.Reqq, h.YourIP)
}

func caseMetadataSize(ctx context.Context, t *Target) (Result, string) {
	cn, r, d := t.extConn(ctx)
	if cn == nil {
		return r, d
	}
	defer cn.close()
	if cn.ext.M[peerwire.ExtMetadata] == 0 {
		return naf("peer does not offer ut_metadata (m=%v)", cn.ext.M)
	}
	if want := len(t.MetaInfo.InfoBytes); cn.ext.MetadataSize != want {
		return failf("metadata_size %d, the info dictionary has %d bytes", cn.ext.MetadataSize, want)
	}
	return passf("ut_metadata=%d, metadata_size=%d", cn.ext.M[peerwire.ExtMetadata], cn.ext.MetadataSize)
}

// metadataConn is extConn for a peer that offers ut_metadata.
func (t *Target) metadataConn(ctx context.Context) (*conn, uint8, Result, string) {
	cn, r, d := t.extConn(ctx)
	if cn == nil {
		return nil, 0, r, d
	}
	id := cn.ext.M[peerwire.ExtMetadata]
	if id <= 0 || id > 255 {
		cn.close()
		r, d := naf("peer does not offer ut_metadata (m=%v)", cn.ext.M)
		return nil, 0, r, d
	}
	return cn, uint8(id), "", ""
}

func caseMetadata(ctx context.Context, t *Target) (Result, string) {
	cn, id, r, d := t.metadataConn(ctx)
	if cn == nil {
		return r, d
	}
	defer cn.close()
	size := len(t.MetaInfo.InfoBytes)
	n := peerwire.NumMetadataPieces(size)
	for i := range n {
		if err := cn.f.WriteExtended(id, peerwire.MetadataMessage{Type: peerwire.MetadataRequest, Piece: i}.AppendTo(nil)); err != nil {
			return failf("%v", err)
		}
	}
	got := map[int][]byte{}
	err := cn.until(func() bool {
		for _, m := range cn.metadata {
			if m.Type == peerwire.MetadataData {
				got[m.Piece] = m.Data
			} else if m.Type == peerwire.MetadataReject {
				return true
			}
		}
		return len(got) == n || cn.metaErr != nil
	})
	if err != nil {
		return failf("got %d of %d metadata pieces: %v", len(got), n, err)
	}
	if cn.metaErr != nil {
		return failf("malformed ut_metadata message: %v", cn.metaErr)
	}
	for _, m := range cn.metadata {
		if m.Type == peerwire.MetadataReject {
			return failf("rejected metadata piece %d", m.Piece)
		}
		if m.Type == peerwire.MetadataData && m.TotalSize != size {
			return failf("piece %d says total_size %d, want %d", m.Piece, m.TotalSize, size)
		}
	}
	var all []byte
	for i := range n {
		want := min(peerwire.MetadataPieceSize, size-i*peerwire.MetadataPieceSize)
		if len(got[i]) != want {
			return failf("metadata piece %d has %d bytes, want %d", i, len(got[i]), want)
		}
		all = append(all, got[i]...)
	}
	if !bytes.Equal(all, t.MetaInfo.InfoBytes) {
		return failf("metadata differs from the torrent's info dictionary")
	}
	info := t.MetaInfo.Info()
	if info.IsV1() {
		if sha1.Sum(all) != [20]byte(t.MetaInfo.InfoHash()) {
			return failf("metadata does not hash to the v1 info-hash")
		}
	} else if sha256.Sum256(all) != [32]byte(t.MetaInfo.InfoHashV2()) {
		return failf("metadata does not hash to the v2 info-hash")
	}
	return passf("%d bytes in %d pieces, hash matches", size, n)
}

func caseMetadataRange(ctx context.Context, t *Target) (Result, string) {
	cn, id, r, d := t.metadataConn(ctx)
	if cn == nil {
		return r, d
	}
	defer cn.close()
	piece := peerwire.NumMetadataPieces(len(t.MetaInfo.InfoBytes))
	if err := cn.f.WriteExtended(id, peerwire.MetadataMessage{Type: peerwire.MetadataRequest, Piece: piece}.AppendTo(nil)); err != nil {
		return failf("%v", err)
	}
	var answer *peerwire.MetadataMessage
	err := cn.until(func() bool {
		for i := range cn.metadata {
			if cn.metadata[i].Piece == piece {
				answer = &cn.metadata[i]
			}
		}
		return answer != nil || cn.metaErr != nil
	})
	switch {
	case err != nil && closed(err):
		return failf("closed the connection instead of rejecting metadata piece %d", piece)
	case err != nil:
		return failf("no answer for metadata piece %d: %v", piece, err)
	case cn.metaErr != nil:
		return failf("malformed ut_metadata message: %v", cn.metaErr)
	case answer.Type == peerwire.MetadataReject:
		return passf("rejected metadata piece %d (of %d)", piece, piece)
	}
	return failf("answered metadata piece %d (of %d) with msg_type %d", piece, piece, answer.Type)
}
