package bittern

import (
	"sync"
	"sync/atomic"
)

// pieceSignal is the verified pieces as readers see them: a bitmap any
// goroutine may test, set by the owner when a piece is verified, and a
// channel closed (and replaced) on every change, which wakes the readers
// waiting for a piece.
type pieceSignal struct {
	bits []atomic.Uint64
	mu   sync.Mutex
	ch   chan struct{}
}

func newPieceSignal(n int) *pieceSignal {
	return &pieceSignal{bits: make([]atomic.Uint64, (n+63)/64), ch: make(chan struct{})}
}

// has reports whether piece i is verified; false if i is out of range.
func (s *pieceSignal) has(i int) bool {
	if i < 0 || i/64 >= len(s.bits) {
		return false
	}
	return s.bits[i/64].Load()&(1<<(uint(i)%64)) != 0
}

// set marks piece i verified and wakes the waiters.
func (s *pieceSignal) set(i int) {
	if i < 0 || i/64 >= len(s.bits) {
		return
	}
	s.bits[i/64].Or(1 << (uint(i) % 64))
	s.mu.Lock()
	close(s.ch)
	s.ch = make(chan struct{})
	s.mu.Unlock()
}

// changed returns a channel closed at the next set. Test has after taking
// it, so that a set in between is not missed.
func (s *pieceSignal) changed() <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.ch
}
