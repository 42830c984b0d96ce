package dht

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha1"
	"net/netip"
	"time"
)

// Token lifetime: the secret rotates every tokenRotation, and a token made
// with the current or the previous secret is accepted, so a token stays
// valid for between tokenRotation and twice that (BEP 5 suggests ten
// minutes).
const (
	tokenRotation = 5 * time.Minute
	tokenLen      = 8
)

// tokens makes and checks announce/put tokens: an HMAC of the requester's
// IP under a secret that rotates. Not safe for concurrent use.
type tokens struct {
	cur, prev [20]byte
	rotated   time.Time
}

func newTokens(now time.Time) *tokens {
	t := &tokens{rotated: now}
	_, _ = rand.Read(t.cur[:])
	_, _ = rand.Read(t.prev[:])
	return t
}

func (t *tokens) maybeRotate(now time.Time) {
	if now.Sub(t.rotated) < tokenRotation {
		return
	}
	if now.Sub(t.rotated) >= 2*tokenRotation {
		_, _ = rand.Read(t.prev[:]) // both secrets are stale
	} else {
		t.prev = t.cur
	}
	_, _ = rand.Read(t.cur[:])
	t.rotated = now
}

func tokenFor(secret *[20]byte, ip netip.Addr) string {
	m := hmac.New(sha1.New, secret[:])
	b := ip.Unmap().AsSlice()
	m.Write(b)
	return string(m.Sum(nil)[:tokenLen])
}

// make returns the token for ip.
func (t *tokens) make(ip netip.Addr, now time.Time) string {
	t.maybeRotate(now)
	return tokenFor(&t.cur, ip)
}

// valid reports whether tok was made for ip within the token lifetime.
func (t *tokens) valid(tok string, ip netip.Addr, now time.Time) bool {
	t.maybeRotate(now)
	if len(tok) != tokenLen {
		return false
	}
	return hmac.Equal([]byte(tok), []byte(tokenFor(&t.cur, ip))) ||
		hmac.Equal([]byte(tok), []byte(tokenFor(&t.prev, ip)))
}
