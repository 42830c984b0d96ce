package mse

import "sync"

// SKeyFinder finds the stream key (info-hash) whose Req2 is req2. A
// receiver passes one that knows every torrent it serves; *SKeys is one.
type SKeyFinder interface {
	FindSKey(req2 [20]byte) (skey [20]byte, ok bool)
}

// SKeys is a set of stream keys for a receiver, indexed by Req2 so that
// finding the torrent of an incoming connection costs one map lookup
// however many torrents are served. It is safe for concurrent use; the
// zero value is an empty set.
type SKeys struct {
	mu sync.RWMutex
	m  map[[20]byte][20]byte
}

// Add adds skey to the set.
func (s *SKeys) Add(skey [20]byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.m == nil {
		s.m = make(map[[20]byte][20]byte)
	}
	s.m[Req2(skey)] = skey
}

// Remove removes skey from the set.
func (s *SKeys) Remove(skey [20]byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.m, Req2(skey))
}

// FindSKey implements SKeyFinder.
func (s *SKeys) FindSKey(req2 [20]byte) ([20]byte, bool) {
	if s == nil {
		return [20]byte{}, false
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	k, ok := s.m[req2]
	return k, ok
}
