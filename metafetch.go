package bittern

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/netip"
	"time"

	"github.com/bittern/bittern/bencode"
	"github.com/bittern/bittern/metainfo"
	"github.com/bittern/bittern/peerwire"
)

// metadataPipeline is how many ut_metadata requests one connection keeps
// outstanding.
const metadataPipeline = 4

// fetchFrom connects to one peer and fetches metadata pieces from it until
// the fetch is done, the peer fails us, or ctx ends. The connection is
// closed when it returns.
func (f *metaFetch) fetchFrom(ctx context.Context, addr netip.AddrPort) error {
	cfg := &f.s.cfg
	dctx, cancel := context.WithTimeout(ctx, cfg.HandshakeTimeout)
	defer cancel()
	conn, rd, hs, err := f.s.dialHandshakeV2(dctx, f.reserved(), f.ih, metainfo.Hash{}, addr.String())
	if err != nil {
		return err
	}
	defer conn.Close()
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()
	return f.fetchOn(ctx, conn, rd, hs, addr, true)
}

// fetchOn fetches metadata pieces over a connection whose BitTorrent
// handshake is done (hs is the peer's): dialled by us, or accepted.
func (f *metaFetch) fetchOn(ctx context.Context, conn net.Conn, rd io.Reader, hs peerwire.Handshake, addr netip.AddrPort, dialled bool) error {
	cfg := &f.s.cfg
	if hs.PeerID == f.s.peerID {
		return errSelfConnection
	}
	if !hs.Reserved.Has(peerwire.ReservedExtension) {
		return errNoMetadataExt
	}
	fr := peerwire.NewFramer(conn, rd)
	fr.SetExtensions(ourReserved.Intersect(hs.Reserved))
	payload, err := bencode.Marshal(extHandshake{
		M: map[string]int{peerwire.ExtMetadata: extIDMetadata},
		V: "bittern 0.1",
		P: f.s.listenPort(),
	})
	if err != nil {
		return err
	}
	if err := fr.WriteExtended(0, payload); err != nil {
		return err
	}
	if hs.Reserved.Has(peerwire.ReservedFast) {
		if err := fr.WriteHaveNone(); err != nil {
			return err
		}
	}
	conn.SetDeadline(time.Now().Add(cfg.RequestTimeout))
	theirID := uint8(0)
	mine := make(map[int]bool)
	defer func() { f.unclaim(mine) }()
	request := func() error {
		for len(mine) < metadataPipeline {
			i := f.claim(mine)
			if i < 0 {
				return nil
			}
			mine[i] = true
			msg := peerwire.MetadataMessage{Type: peerwire.MetadataRequest, Piece: i}
			if err := fr.WriteExtended(theirID, msg.AppendTo(nil)); err != nil {
				return err
			}
		}
		return nil
	}
	for {
		m, err := fr.ReadMessage()
		if err != nil {
			return err
		}
		ext, ok := m.(*peerwire.Extended)
		if !ok {
			continue // bitfield, have, choke…: not needed for metadata
		}
		switch ext.ExtendedID {
		case 0:
			h, err := peerwire.ParseExtendedHandshake(ext.Payload)
			if err != nil {
				return err
			}
			id := h.M[peerwire.ExtMetadata]
			if id <= 0 || id > 255 {
				return errNoMetadataExt
			}
			first := theirID == 0
			theirID = uint8(id)
			if first {
				if err := f.setSize(h.MetadataSize); err != nil {
					return err
				}
				conn.SetDeadline(time.Now().Add(cfg.RequestTimeout))
				if err := request(); err != nil {
					return err
				}
			}
		case extIDMetadata:
			if theirID == 0 {
				return fmt.Errorf("%w: ut_metadata before the extended handshake", errProtocol)
			}
			mm, err := peerwire.ParseMetadataMessage(ext.Payload)
			if err != nil {
				return err
			}
			switch mm.Type {
			case peerwire.MetadataRequest:
				// We have nothing to give yet.
				rej := peerwire.MetadataMessage{Type: peerwire.MetadataReject, Piece: mm.Piece}
				if err := fr.WriteExtended(theirID, rej.AppendTo(nil)); err != nil {
					return err
				}
			case peerwire.MetadataReject:
				return errMetadataReject
			case peerwire.MetadataData:
				if !mine[mm.Piece] {
					return fmt.Errorf("%w: unrequested metadata piece %d", errProtocol, mm.Piece)
				}
				delete(mine, mm.Piece)
				f.unclaim(map[int]bool{mm.Piece: true})
				if err := f.deliver(addr, dialled, mm); err != nil {
					return err
				}
				if f.isBad(addr) {
					return errMetadataBadHash
				}
				conn.SetDeadline(time.Now().Add(cfg.RequestTimeout))
				if err := request(); err != nil {
					return err
				}
			}
		}
	}
}
