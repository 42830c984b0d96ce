package mse

import (
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// CryptoMethod is a bit set of payload encryption methods, as sent in
// crypto_provide and crypto_select.
type CryptoMethod uint32

// Payload encryption methods.
const (
	// Plaintext leaves the payload unencrypted after the obfuscated
	// handshake ("header encryption" only).
	Plaintext CryptoMethod = 0x01
	// RC4 encrypts the whole payload stream with RC4, the first 1024
	// bytes of keystream discarded.
	RC4 CryptoMethod = 0x02
)

func (m CryptoMethod) String() string {
	switch m {
	case 0:
		return "none"
	case Plaintext:
		return "plaintext"
	case RC4:
		return "rc4"
	case Plaintext | RC4:
		return "plaintext|rc4"
	}
	return fmt.Sprintf("CryptoMethod(%#x)", uint32(m))
}

// Policy says whether connections use MSE.
type Policy int

const (
	// Preferred (the zero value) uses MSE on outgoing connections, and
	// accepts incoming connections that use MSE or the plain BitTorrent
	// handshake. An initiator whose MSE handshake fails may reconnect with
	// the plain handshake; that is the caller's decision.
	Preferred Policy = iota
	// Required uses MSE on outgoing connections and refuses incoming
	// plain BitTorrent handshakes.
	Required
	// PlaintextOnly never uses MSE: Initiate returns the connection
	// unchanged and Accept refuses anything but a plain BitTorrent
	// handshake.
	PlaintextOnly
)

func (p Policy) String() string {
	switch p {
	case Preferred:
		return "preferred"
	case Required:
		return "required"
	case PlaintextOnly:
		return "plaintext-only"
	}
	return fmt.Sprintf("Policy(%d)", int(p))
}

// Config configures a handshake. The zero value (or nil) works: Preferred
// policy, both methods allowed, RC4 selected when the initiator offers it.
type Config struct {
	// Policy decides whether MSE is used. If zero, Preferred.
	Policy Policy
	// Methods are the payload methods we offer (initiator) or accept
	// (receiver). If zero, Plaintext|RC4.
	Methods CryptoMethod
	// PreferPlaintext makes a receiver select Plaintext when the initiator
	// offers both, saving the cost of RC4. If false, RC4 is selected.
	PreferPlaintext bool
	// Rand is the source of private keys and padding. If nil, crypto/rand.
	Rand io.Reader
	// MaxPadding is the largest random padding we send (PadA, PadB, PadC,
	// PadD), 0 to 512. If zero, 512; negative means no padding.
	MaxPadding int
}

func (c *Config) methods() CryptoMethod {
	if c.Methods&(Plaintext|RC4) == 0 {
		return Plaintext | RC4
	}
	return c.Methods & (Plaintext | RC4)
}

func (c *Config) rand() io.Reader {
	if c.Rand == nil {
		return rand.Reader
	}
	return c.Rand
}

// padding returns random padding of random length up to MaxPadding.
func (c *Config) padding() ([]byte, error) {
	limit := c.MaxPadding
	switch {
	case limit == 0 || limit > maxPadding:
		limit = maxPadding
	case limit < 0:
		return nil, nil
	}
	var n [2]byte
	if _, err := io.ReadFull(c.rand(), n[:]); err != nil {
		return nil, err
	}
	pad := make([]byte, int(binary.BigEndian.Uint16(n[:]))%(limit+1))
	_, err := io.ReadFull(c.rand(), pad)
	return pad, err
}

// Errors of the handshake.
var (
	// ErrPlaintextRefused: the peer sent a plain BitTorrent handshake but
	// the policy is Required.
	ErrPlaintextRefused = errors.New("mse: plain BitTorrent handshake refused: encryption required")
	// ErrNotPlaintext: the policy is PlaintextOnly but the peer did not
	// start with a plain BitTorrent handshake.
	ErrNotPlaintext = errors.New("mse: not a plain BitTorrent handshake and encryption is disabled")
	// ErrBadPublicKey: the peer's Diffie-Hellman public key is 0, 1, P-1
	// or not below P.
	ErrBadPublicKey = errors.New("mse: bad Diffie-Hellman public key")
	// ErrNoSync: the synchronisation pattern (HASH('req1', S) for the
	// receiver, ENCRYPT(VC) for the initiator) did not appear within 512
	// bytes of padding. Wrong keys, a wrong stream key or garbage.
	ErrNoSync = errors.New("mse: synchronisation pattern not found")
	// ErrUnknownSKey: the initiator asked for a stream key (info-hash) the
	// receiver does not serve.
	ErrUnknownSKey = errors.New("mse: unknown info-hash")
	// ErrBadVC: the verification constant did not decrypt to zeros.
	ErrBadVC = errors.New("mse: bad verification constant")
	// ErrNoCommonMethod: no payload method is acceptable to both sides,
	// or the receiver selected one that was not offered.
	ErrNoCommonMethod = errors.New("mse: no common crypto method")
	// ErrBadPadding: a padding length above 512.
	ErrBadPadding = errors.New("mse: padding longer than 512 bytes")
)
