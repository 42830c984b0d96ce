package dht

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"net/netip"
	"time"

	"github.com/bittern/bittern/bencode"
)

// PutImmutable stores the bencoded value v (at most MaxItemValue bytes) on
// the K nodes closest to its target and returns the target. It returns
// the number of nodes that stored it.
func (s *Server) PutImmutable(ctx context.Context, v []byte) (ID, int, error) {
	it := Item{V: v}
	if err := it.Verify(); err != nil {
		return ID{}, 0, err
	}
	if err := bencode.Unmarshal(v, new(any)); err != nil {
		return ID{}, 0, err
	}
	target := it.Target()
	n, err := s.put(ctx, target, &it, nil)
	return target, n, err
}

// PutMutable signs the value v under priv with salt and seq and stores it
// on the K nodes closest to its target. If cas is not nil, nodes holding a
// different sequence number refuse it (BEP 44 compare-and-swap).
func (s *Server) PutMutable(ctx context.Context, priv ed25519.PrivateKey, salt []byte, seq int64, v []byte, cas *int64) (ID, int, error) {
	it := Item{V: v, Salt: salt, Seq: seq}
	it.Sign(priv)
	if err := it.Verify(); err != nil {
		return ID{}, 0, err
	}
	target := it.Target()
	n, err := s.put(ctx, target, &it, cas)
	return target, n, err
}

func (s *Server) put(ctx context.Context, target ID, it *Item, cas *int64) (int, error) {
	l := s.getLookup(target, nil, nil)
	if _, err := l.run(ctx); err != nil {
		return 0, err
	}
	return s.storeTo(ctx, l.closestWithTokens(), methodPut, func(c *candidate) *Args {
		a := &Args{Token: c.token, V: it.V, CAS: cas}
		if it.Mutable {
			seq := it.Seq
			a.K, a.Sig, a.Seq, a.Salt = string(it.K[:]), string(it.Sig[:]), &seq, string(it.Salt)
		}
		return a
	})
}

func (s *Server) getLookup(target ID, seq *int64, onItem func(*Return)) *lookup {
	want := s.want()
	return s.newLookup(target, methodGet, func() *Args {
		return &Args{Target: string(target[:]), Want: want, Seq: seq}
	}, func(c *candidate, r *Return) {
		if onItem != nil && len(r.V) > 0 {
			onItem(r)
		}
	})
}

// GetImmutable looks up the immutable item with target and returns its
// bencoded value, checked against the target. It returns ErrItemNotFound
// if no node has it.
func (s *Server) GetImmutable(ctx context.Context, target ID) ([]byte, error) {
	s.mu.Lock()
	if it := s.items.get(target, time.Now()); it != nil && !it.Mutable {
		s.mu.Unlock()
		return bytes.Clone(it.V), nil
	}
	s.mu.Unlock()
	var v []byte
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	l := s.getLookup(target, nil, func(r *Return) {
		if v == nil && ImmutableTarget(r.V) == target {
			v = bytes.Clone(r.V)
			cancel() // one verified copy is enough
		}
	})
	_, err := l.run(ctx)
	if v != nil {
		return v, nil
	}
	if err != nil {
		return nil, err
	}
	return nil, ErrItemNotFound
}

// GetMutable looks up the mutable item of public key pub and salt and
// returns the verified copy with the highest sequence number.
func (s *Server) GetMutable(ctx context.Context, pub ed25519.PublicKey, salt []byte) (*Item, error) {
	if len(pub) != ed25519.PublicKeySize {
		return nil, ErrBadSignature
	}
	k := [32]byte(pub)
	target := MutableTarget(k, salt)
	var best *Item
	s.mu.Lock()
	if it := s.items.get(target, time.Now()); it != nil && it.Mutable {
		c := it.Item
		c.V = bytes.Clone(c.V)
		best = &c
	}
	s.mu.Unlock()
	l := s.getLookup(target, nil, func(r *Return) {
		if r.Seq == nil || len(r.Sig) != 64 || r.K != string(k[:]) {
			return
		}
		it := &Item{V: bytes.Clone(r.V), K: k, Salt: salt, Seq: *r.Seq, Sig: [64]byte([]byte(r.Sig)), Mutable: true}
		if it.Verify() != nil {
			return
		}
		if best == nil || it.Seq > best.Seq {
			best = it
		}
	})
	if _, err := l.run(ctx); err != nil && best == nil {
		return nil, err
	}
	if best == nil {
		return nil, ErrItemNotFound
	}
	return best, nil
}

// SampleResult is a BEP 51 sample_infohashes answer.
type SampleResult struct {
	Samples  []ID          // info-hashes the node stores peers for
	Num      int64         // how many it stores in all
	Interval time.Duration // how long before asking it again
	Nodes    []NodeInfo    // nodes close to the target
}

// SampleInfohashes asks the node at addr for a sample of the info-hashes it
// stores (BEP 51).
func (s *Server) SampleInfohashes(ctx context.Context, addr netip.AddrPort, target ID) (*SampleResult, error) {
	m, err := s.query(ctx, addr, methodSampleInfohashes, &Args{Target: string(target[:]), Want: s.want()})
	if err != nil {
		return nil, err
	}
	r := m.R
	if len(r.Samples)%20 != 0 {
		return nil, ErrBadResponse
	}
	res := &SampleResult{}
	for i := 0; i+20 <= len(r.Samples); i += 20 {
		res.Samples = append(res.Samples, ID([]byte(r.Samples[i:i+20])))
	}
	if r.Num != nil {
		res.Num = *r.Num
	}
	if r.Interval != nil && *r.Interval >= 0 && *r.Interval <= 21600 {
		res.Interval = time.Duration(*r.Interval) * time.Second
	}
	n4, _ := parseCompactNodes(r.Nodes, false, 2*K)
	n6, _ := parseCompactNodes(r.Nodes6, true, 2*K)
	res.Nodes = append(n4, n6...)
	return res, nil
}
