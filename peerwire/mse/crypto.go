package mse

import (
	"crypto/rc4"
	"crypto/sha1"
	"io"
	"math/big"
)

// The Diffie-Hellman group of the MSE specification: the 768-bit prime P
// (the first Oakley group) and generator 2.
var (
	dhPrime = mustHex("FFFFFFFFFFFFFFFFC90FDAA22168C234C4C6628B80DC1CD1" +
		"29024E088A67CC74020BBEA63B139B22514A08798E3404DD" +
		"EF9519B3CD3A431B302B0A6DF25F14374FE1356D6D51C245" +
		"E485B576625E7EC6F44C42E9A63A36210000000000090563")
	dhGenerator = big.NewInt(2)
	dhPrimeLess = new(big.Int).Sub(dhPrime, big.NewInt(1))
)

func mustHex(s string) *big.Int {
	n, ok := new(big.Int).SetString(s, 16)
	if !ok {
		panic("mse: bad constant " + s)
	}
	return n
}

// Sizes fixed by the specification.
const (
	keyLength     = 96  // bytes of a public key and of the shared secret S
	privateBits   = 160 // bits of a private key
	maxPadding    = 512 // PadA, PadB, PadC and PadD are 0 to 512 bytes
	vcLength      = 8   // verification constant: 8 zero bytes
	rc4Discard    = 1024
	hashLength    = sha1.Size
	syncWindowReq = maxPadding + hashLength // receiver: PadA then HASH('req1', S)
	syncWindowVC  = maxPadding + vcLength   // initiator: PadB then ENCRYPT(VC)
)

// keyPair is one side's Diffie-Hellman key pair.
type keyPair struct {
	private *big.Int
	public  [keyLength]byte
}

func newKeyPair(rand io.Reader) (*keyPair, error) {
	var x [privateBits / 8]byte
	if _, err := io.ReadFull(rand, x[:]); err != nil {
		return nil, err
	}
	k := &keyPair{private: new(big.Int).SetBytes(x[:])}
	if k.private.Sign() == 0 {
		k.private.SetInt64(1)
	}
	new(big.Int).Exp(dhGenerator, k.private, dhPrime).FillBytes(k.public[:])
	return k, nil
}

// secret computes S from the peer's public key, or reports a key that is
// not in the group's useful range (0, 1, P-1 or above).
func (k *keyPair) secret(peer []byte) ([keyLength]byte, bool) {
	var s [keyLength]byte
	y := new(big.Int).SetBytes(peer)
	if y.Cmp(big.NewInt(1)) <= 0 || y.Cmp(dhPrimeLess) >= 0 {
		return s, false
	}
	new(big.Int).Exp(y, k.private, dhPrime).FillBytes(s[:])
	return s, true
}

// hash is the specification's HASH(): SHA-1 of the concatenated parts.
func hash(parts ...[]byte) [hashLength]byte {
	h := sha1.New()
	for _, p := range parts {
		h.Write(p)
	}
	var out [hashLength]byte
	h.Sum(out[:0])
	return out
}

// Req2 returns HASH('req2', SKEY) for a stream key (the torrent's
// info-hash). A receiver serving many torrents computes it once per
// torrent: the initiator sends it XORed with HASH('req3', S), so the
// receiver recovers it with one hash per connection and looks it up.
func Req2(skey [20]byte) [20]byte { return hash([]byte("req2"), skey[:]) }

// newRC4 returns the RC4 stream for key HASH(name, S, SKEY) with the first
// 1024 bytes discarded.
func newRC4(name string, s []byte, skey [20]byte) *rc4.Cipher {
	k := hash([]byte(name), s, skey[:])
	c, _ := rc4.NewCipher(k[:]) // never fails: the key is 20 bytes
	var discard [rc4Discard]byte
	c.XORKeyStream(discard[:], discard[:])
	return c
}

func xor20(a, b [20]byte) [20]byte {
	for i := range a {
		a[i] ^= b[i]
	}
	return a
}
