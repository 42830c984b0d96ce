package dht

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha1"
	"errors"
	"time"

	"github.com/bittern/bittern/bencode"
)

// BEP 44 limits.
const (
	// MaxItemValue is the largest bencoded value "v" a node stores.
	MaxItemValue = 1000
	// MaxSalt is the longest salt.
	MaxSalt = 64
	// DefaultMaxItems bounds the BEP 44 item store.
	DefaultMaxItems = 1000
	// itemTTL is how long an item is kept without being put again.
	itemTTL = 2 * time.Hour
)

// Errors about BEP 44 items.
var (
	ErrValueTooBig  = errors.New("dht: item value over 1000 bytes")
	ErrSaltTooBig   = errors.New("dht: item salt over 64 bytes")
	ErrBadSignature = errors.New("dht: item signature does not verify")
	ErrItemNotFound = errors.New("dht: item not found")
)

// Item is a BEP 44 item. An immutable item has only V; a mutable one also
// has a public key K, a sequence number, an optional salt and a signature.
type Item struct {
	V    bencode.RawMessage // the bencoded value
	K    [32]byte           // ed25519 public key (mutable only)
	Salt []byte
	Seq  int64
	Sig  [64]byte
	// Mutable is true for a mutable item.
	Mutable bool
}

// ImmutableTarget returns the target of an immutable item: SHA-1 of the
// bencoded value.
func ImmutableTarget(v []byte) ID { return sha1.Sum(v) }

// MutableTarget returns the target of a mutable item: SHA-1 of the public
// key followed by the salt.
func MutableTarget(k [32]byte, salt []byte) ID {
	h := sha1.New()
	h.Write(k[:])
	h.Write(salt)
	return ID(h.Sum(nil))
}

// Target returns the item's DHT target.
func (it *Item) Target() ID {
	if it.Mutable {
		return MutableTarget(it.K, it.Salt)
	}
	return ImmutableTarget(it.V)
}

// SignatureBuffer returns the bytes a mutable item's signature covers:
// [4:salt<len>:<salt>]3:seqi<seq>e1:v<v>.
func SignatureBuffer(salt []byte, seq int64, v []byte) []byte {
	var b []byte
	if len(salt) > 0 {
		b = append(b, "4:salt"...)
		b = bencode.AppendBytes(b, salt)
	}
	b = append(b, "3:seq"...)
	b = bencode.AppendInt(b, seq)
	b = append(b, "1:v"...)
	return append(b, v...)
}

// Sign fills in K and Sig of a mutable item from priv.
func (it *Item) Sign(priv ed25519.PrivateKey) {
	it.Mutable = true
	copy(it.K[:], priv.Public().(ed25519.PublicKey))
	copy(it.Sig[:], ed25519.Sign(priv, SignatureBuffer(it.Salt, it.Seq, it.V)))
}

// Verify checks the item's size limits and, for a mutable item, its
// signature.
func (it *Item) Verify() error {
	if len(it.V) > MaxItemValue {
		return ErrValueTooBig
	}
	if len(it.Salt) > MaxSalt {
		return ErrSaltTooBig
	}
	if it.Mutable && !ed25519.Verify(it.K[:], SignatureBuffer(it.Salt, it.Seq, it.V), it.Sig[:]) {
		return ErrBadSignature
	}
	return nil
}

type storedItem struct {
	Item
	expires time.Time
}

// itemStore holds BEP 44 items, bounded. Not safe for concurrent use.
type itemStore struct {
	max int
	m   map[ID]*storedItem
}

func newItemStore(max int) *itemStore { return &itemStore{max: max, m: make(map[ID]*storedItem)} }

// put stores a verified item under target, enforcing seq and cas for
// mutable items; it returns a KRPC error to send back, or nil.
func (st *itemStore) put(target ID, it Item, cas *int64, now time.Time) *Error {
	old := st.m[target]
	if old != nil && !old.expires.After(now) {
		delete(st.m, target)
		old = nil
	}
	if old != nil && it.Mutable {
		if cas != nil && *cas != old.Seq {
			return &Error{ErrCodeCASMismatch, "CAS mismatch"}
		}
		if it.Seq < old.Seq || (it.Seq == old.Seq && !bytes.Equal(it.V, old.V)) {
			return &Error{ErrCodeSeqTooLow, "sequence number less than current"}
		}
	}
	if old == nil && len(st.m) >= st.max {
		st.evict(now)
		if len(st.m) >= st.max {
			return &Error{ErrCodeServer, "item store full"}
		}
	}
	st.m[target] = &storedItem{Item: it, expires: now.Add(itemTTL)}
	return nil
}

// evict drops expired items, or if none, the one closest to expiry.
func (st *itemStore) evict(now time.Time) {
	var oldest ID
	var oldestT time.Time
	for t, it := range st.m {
		if !it.expires.After(now) {
			delete(st.m, t)
			continue
		}
		if oldestT.IsZero() || it.expires.Before(oldestT) {
			oldest, oldestT = t, it.expires
		}
	}
	if len(st.m) >= st.max && !oldestT.IsZero() {
		delete(st.m, oldest)
	}
}

func (st *itemStore) get(target ID, now time.Time) *storedItem {
	it := st.m[target]
	if it == nil || !it.expires.After(now) {
		return nil
	}
	return it
}
