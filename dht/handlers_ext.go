package dht

import (
	"net/netip"
	"time"
)

// BEP 51 parameters.
const (
	// maxSamples is how many info-hashes one sample_infohashes reply
	// carries (20 bytes each; keeps the reply near 500 bytes).
	maxSamples = 20
	// sampleInterval is the "interval" we advertise, in seconds.
	sampleInterval = 21600 / 100
)

// answerGet answers a BEP 44 get. s.mu held.
func (s *Server) answerGet(a *Args, from netip.AddrPort, now time.Time) (*Return, *Error) {
	if len(a.Target) != 20 {
		return nil, &Error{ErrCodeProtocol, "invalid target"}
	}
	target := ID([]byte(a.Target))
	r := &Return{Token: s.tokens.make(from.Addr(), now)}
	s.addNodes(r, target, from, a.Want)
	it := s.items.get(target, now)
	if it == nil {
		return r, nil
	}
	if it.Mutable {
		seq := it.Seq
		r.Seq = &seq
		if a.Seq != nil && *a.Seq >= it.Seq {
			return r, nil // the requester has it already: seq only
		}
		r.K, r.Sig = string(it.K[:]), string(it.Sig[:])
	}
	r.V = it.V
	return r, nil
}

// answerPut answers a BEP 44 put. s.mu held.
func (s *Server) answerPut(a *Args, from netip.AddrPort, now time.Time) (*Return, *Error) {
	if len(a.V) == 0 {
		return nil, &Error{ErrCodeProtocol, "missing v"}
	}
	if len(a.V) > MaxItemValue {
		return nil, &Error{ErrCodeTooBig, "message (v field) too big"}
	}
	if len(a.Salt) > MaxSalt {
		return nil, &Error{ErrCodeSaltTooBig, "salt too big"}
	}
	if !s.tokens.valid(a.Token, from.Addr(), now) {
		return nil, &Error{ErrCodeProtocol, "bad token"}
	}
	it := Item{V: a.V}
	if a.K != "" || a.Sig != "" || a.Seq != nil {
		if len(a.K) != 32 || len(a.Sig) != 64 || a.Seq == nil {
			return nil, &Error{ErrCodeProtocol, "mutable put needs k, sig and seq"}
		}
		it.Mutable = true
		it.K = [32]byte([]byte(a.K))
		it.Sig = [64]byte([]byte(a.Sig))
		it.Seq = *a.Seq
		it.Salt = []byte(a.Salt)
		if err := it.Verify(); err != nil {
			return nil, &Error{ErrCodeBadSignature, "invalid signature"}
		}
	} else if a.Salt != "" || a.CAS != nil {
		return nil, &Error{ErrCodeProtocol, "salt or cas on an immutable put"}
	}
	if e := s.items.put(it.Target(), it, a.CAS, now); e != nil {
		return nil, e
	}
	return &Return{}, nil
}

// answerSample answers a BEP 51 sample_infohashes. s.mu held.
func (s *Server) answerSample(a *Args, from netip.AddrPort) (*Return, *Error) {
	if len(a.Target) != 20 {
		return nil, &Error{ErrCodeProtocol, "invalid target"}
	}
	r := &Return{}
	s.addNodes(r, ID([]byte(a.Target)), from, a.Want)
	var b []byte
	for _, ih := range s.peers.infoHashes(maxSamples) {
		b = append(b, ih[:]...)
	}
	r.Samples = string(b)
	num, interval := int64(len(s.peers.swarms)), int64(sampleInterval)
	r.Num, r.Interval = &num, &interval
	return r, nil
}
