package bittern

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"time"

	"github.com/bittern/bittern/metainfo"
	"github.com/bittern/bittern/peerwire"
	"github.com/bittern/bittern/peerwire/mse"
)

// Encryption is the session's Message Stream Encryption (MSE/PE) policy.
type Encryption int

// Encryption policies.
const (
	// EncryptionAccept (the zero value) dials in plaintext and accepts
	// incoming connections with or without MSE. An incoming MSE peer that
	// offers both payload methods gets plaintext after the obfuscated
	// handshake, as libtorrent does by default.
	EncryptionAccept Encryption = iota
	// EncryptionPreferred dials with MSE (offering RC4 and plaintext
	// payloads; the receiver chooses), redials in plaintext once if the
	// MSE handshake fails, and accepts incoming connections as
	// EncryptionAccept does.
	EncryptionPreferred
	// EncryptionRequired uses MSE only: outgoing connections whose MSE
	// handshake fails are given up, incoming plaintext handshakes are
	// refused, and incoming MSE peers get RC4 whenever they offer it.
	EncryptionRequired
	// EncryptionOff never uses MSE, either way.
	EncryptionOff
)

// String returns "accept", "preferred", "required" or "off".
func (e Encryption) String() string {
	switch e {
	case EncryptionAccept:
		return "accept"
	case EncryptionPreferred:
		return "preferred"
	case EncryptionRequired:
		return "required"
	case EncryptionOff:
		return "off"
	}
	return fmt.Sprintf("Encryption(%d)", int(e))
}

// errEncryptionMismatch: the BitTorrent handshake inside an MSE stream
// named another torrent than the stream key.
var errEncryptionMismatch = errors.New("bittern: MSE stream key and handshake name different torrents")

// incomingPolicy is the mse policy for accepted connections.
func (e Encryption) incomingPolicy() mse.Policy {
	switch e {
	case EncryptionRequired:
		return mse.Required
	case EncryptionOff:
		return mse.PlaintextOnly
	}
	return mse.Preferred
}

// dialsEncrypted reports whether outgoing connections start with MSE.
func (e Encryption) dialsEncrypted() bool {
	return e == EncryptionPreferred || e == EncryptionRequired
}

// acceptHandshake runs the incoming side of the MSE handshake (unless
// encryption is off) and then the BitTorrent handshake. It returns the
// connection to write to and close, the reader to read from (they differ
// for a plaintext connection seen through mse's detection: writes go
// straight to conn, keeping writev), and the torrent.
func (s *Session) acceptHandshake(ctx context.Context, conn net.Conn) (net.Conn, io.Reader, *Torrent, *metaFetch, peerwire.Handshake, error) {
	var (
		wconn            = conn
		rd     io.Reader = conn
		skey   [20]byte
		hasKey bool
	)
	if s.cfg.Encryption != EncryptionOff {
		mc, err := mse.Accept(ctx, conn, &s.skeys, &mse.Config{
			Policy: s.cfg.Encryption.incomingPolicy(),
			// As libtorrent does by default: an MSE peer offering both
			// payloads gets plaintext (the handshake is still
			// obfuscated), unless we require encryption.
			PreferPlaintext: s.cfg.Encryption != EncryptionRequired,
		})
		if err != nil {
			return nil, nil, nil, nil, peerwire.Handshake{}, err
		}
		skey, hasKey = mc.SKey()
		rd = mc
		if mc.Method() != 0 {
			wconn = mc
		}
	}
	var (
		t *Torrent
		f *metaFetch
	)
	rw := struct {
		io.Reader
		io.Writer
	}{rd, wconn}
	hs, err := peerwire.Answer(rw, func(theirs peerwire.Handshake) (peerwire.Handshake, bool) {
		if hasKey && theirs.InfoHash != skey {
			return peerwire.Handshake{}, false
		}
		s.mu.Lock()
		t = s.lookupLocked(metainfo.Hash(theirs.InfoHash))
		if t == nil {
			f = s.fetches[metainfo.Hash(theirs.InfoHash)]
		}
		s.mu.Unlock()
		if t == nil && f == nil {
			return peerwire.Handshake{}, false
		}
		reserved := ourReserved
		if t != nil {
			reserved = t.reserved()
		}
		return peerwire.Handshake{Reserved: reserved, InfoHash: theirs.InfoHash, PeerID: s.peerID}, true
	})
	if err != nil {
		if hasKey && errors.Is(err, peerwire.ErrUnknownInfoHash) {
			err = errors.Join(errEncryptionMismatch, err)
		}
		return nil, nil, nil, nil, peerwire.Handshake{}, err
	}
	return wconn, rd, t, f, hs, nil
}

// dialHandshakeV2 dials addr and performs the handshakes the policy calls
// for: MSE (with the BitTorrent handshake as its initial payload) and the
// BitTorrent handshake, with the given reserved bytes. Under
// EncryptionPreferred a failed MSE handshake is followed by one plaintext
// attempt. If upgrade is not zero (the truncated v2 info-hash of a hybrid
// torrent dialled with its v1 hash), the peer may answer with it instead
// (BEP 52).
func (s *Session) dialHandshakeV2(ctx context.Context, reserved peerwire.Reserved, ih, upgrade metainfo.Hash, addr string) (net.Conn, io.Reader, peerwire.Handshake, error) {
	cfg := &s.cfg
	ours := peerwire.Handshake{Reserved: reserved, InfoHash: ih, PeerID: s.peerID}
	enc := cfg.Encryption.dialsEncrypted()
	for {
		conn, err := s.dialPeer(ctx, addr)
		if err != nil {
			return nil, nil, peerwire.Handshake{}, err
		}
		stop := context.AfterFunc(ctx, func() { conn.SetDeadline(aLongTimeAgo) })
		var (
			wconn net.Conn = conn
			hs    peerwire.Handshake
		)
		if enc {
			var mc *mse.Conn
			mc, err = mse.Initiate(ctx, conn, ih, peerwire.AppendHandshake(nil, ours), &mse.Config{Policy: mse.Required})
			if err == nil {
				wconn = mc
				hs, err = peerwire.ReadHandshake(mc)
				if err == nil && hs.InfoHash != ih && (upgrade.IsZero() || hs.InfoHash != upgrade) {
					err = errEncryptionMismatch
				}
			} else if cfg.Encryption == EncryptionPreferred && ctx.Err() == nil {
				stop()
				conn.Close()
				cfg.Logger.Debug("MSE handshake failed; redialling in plaintext", "torrent", ih, "peer", addr, "err", err)
				enc = false
				continue
			}
		} else {
			hs, err = peerwire.Initiate(conn, ours, upgrade)
		}
		if !stop() && err == nil {
			err = ctx.Err()
		}
		if err != nil {
			conn.Close()
			return nil, nil, peerwire.Handshake{}, err
		}
		conn.SetDeadline(noDeadline)
		return wconn, wconn, hs, nil
	}
}

var (
	aLongTimeAgo = time.Unix(1, 0) // a deadline that has passed: unblocks I/O
	noDeadline   time.Time
)
