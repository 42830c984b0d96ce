package peerwiretest

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"testing"
	"time"

	"github.com/bittern/bittern/peerwire"
)

// Peer is one end of a connected pair.
type Peer struct {
	// Conn is the connection, positioned after the handshake. Read from it
	// only through Framer.
	Conn net.Conn
	// Framer reads and writes messages on Conn.
	Framer *peerwire.Framer
	// Local is the handshake this end sent; Remote the one it received.
	Local, Remote peerwire.Handshake
}

// Handshake returns a handshake for infoHash advertising
// peerwire.DefaultReserved with a fresh peer ID.
func Handshake(infoHash [20]byte) peerwire.Handshake {
	return peerwire.Handshake{Reserved: peerwire.DefaultReserved, InfoHash: infoHash, PeerID: peerwire.NewPeerID(peerwire.PeerIDPrefix)}
}

// Pipe returns two peers connected by net.Pipe after a handshake in which
// a sent ha and b sent hb. Both must be for the same info-hash. The
// connections are closed when the test ends.
func Pipe(tb testing.TB, ha, hb peerwire.Handshake) (a, b *Peer) {
	tb.Helper()
	ca, cb := net.Pipe()
	tb.Cleanup(func() { ca.Close(); cb.Close() })
	a, b, err := Connect(ca, cb, ha, hb)
	if err != nil {
		tb.Fatal(err)
	}
	return a, b
}

// Connect runs the handshake over two already connected ends ca (which
// initiates) and cb, and tells each framer the negotiated extensions, for tests that need another transport (TCP loopback,
// an MSE connection). On error both connections are closed.
func Connect(ca, cb net.Conn, ha, hb peerwire.Handshake) (a, b *Peer, err error) {
	if ha.InfoHash != hb.InfoHash {
		ca.Close()
		cb.Close()
		return nil, nil, fmt.Errorf("peerwiretest: handshakes for different info-hashes %x and %x", ha.InfoHash, hb.InfoHash)
	}
	type result struct {
		h   peerwire.Handshake
		err error
	}
	done := make(chan result, 1)
	go func() {
		h, err := peerwire.Answer(cb, func(peerwire.Handshake) (peerwire.Handshake, bool) { return hb, true })
		done <- result{h, err}
	}()
	ra, erra := peerwire.Initiate(ca, ha, [20]byte{})
	if erra != nil {
		ca.Close()
		cb.Close()
	}
	rb := <-done
	if err := errors.Join(erra, rb.err); err != nil {
		ca.Close()
		cb.Close()
		return nil, nil, err
	}
	a = &Peer{Conn: ca, Framer: peerwire.NewFramer(ca, ca), Local: ha, Remote: ra}
	b = &Peer{Conn: cb, Framer: peerwire.NewFramer(cb, cb), Local: hb, Remote: rb.h}
	a.Framer.SetExtensions(ha.Reserved.Intersect(ra.Reserved))
	b.Framer.SetExtensions(hb.Reserved.Intersect(rb.h.Reserved))
	return a, b, nil
}

// ExpectTimeout bounds how long Expect waits for a message.
const ExpectTimeout = 10 * time.Second

// Read reads the next message, failing the test on error or if none
// arrives within ExpectTimeout (virtual time inside a synctest bubble).
func (p *Peer) Read(tb testing.TB) peerwire.Message {
	tb.Helper()
	p.Conn.SetReadDeadline(time.Now().Add(ExpectTimeout))
	defer p.Conn.SetReadDeadline(time.Time{})
	m, err := p.Framer.ReadMessage()
	if err != nil {
		tb.Fatalf("peerwiretest: reading a message: %v", err)
	}
	return m
}

// Expect reads the next message and fails the test unless it encodes to
// the same bytes as want, skipping keep-alives unless want is one.
func (p *Peer) Expect(tb testing.TB, want peerwire.Message) peerwire.Message {
	tb.Helper()
	for {
		got := p.Read(tb)
		if _, ka := got.(*peerwire.KeepAlive); ka {
			if _, wantKA := want.(peerwire.KeepAlive); !wantKA {
				if _, wantKA := want.(*peerwire.KeepAlive); !wantKA {
					continue
				}
			}
		}
		if !bytes.Equal(got.AppendTo(nil), want.AppendTo(nil)) {
			tb.Fatalf("peerwiretest: got %v, want %v", got, want)
		}
		return got
	}
}
