package peerwire

import (
	"io"
	"net"
	"testing"
	"time"

	"github.com/bittern/bittern/internal/cputime"
)

// tcpPair returns the two ends of a loopback TCP connection.
func tcpPair(tb testing.TB) (client, server *net.TCPConn) {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	defer ln.Close()
	done := make(chan net.Conn, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			tb.Error(err)
		}
		done <- c
	}()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		tb.Fatal(err)
	}
	s := <-done
	if s == nil {
		tb.FailNow()
	}
	tb.Cleanup(func() { c.Close(); s.Close() })
	return c.(*net.TCPConn), s.(*net.TCPConn)
}

// BenchmarkPieceTCP sends 16 KiB piece messages through a Framer over
// loopback TCP: WritePiece (writev) on one side, ReadMessage straight into
// a caller-provided buffer on the other. Compare with BenchmarkRawTCP.
func BenchmarkPieceTCP(b *testing.B) {
	w, r := tcpPair(b)
	src := make([]byte, BlockSize)
	dst := make([]byte, BlockSize)
	fw := NewFramer(w, nil)
	fr := NewFramer(nil, r)
	fr.AllocBlock = func(_, _ uint32, n int) []byte { return dst[:n] }
	b.SetBytes(BlockSize)
	b.ReportAllocs()
	errc := make(chan error, 1)
	b.ResetTimer()
	defer reportCPU(b, cputime.Process())
	go func() {
		for i := range b.N {
			if err := fw.WritePiece(uint32(i), 0, src); err != nil {
				errc <- err
				return
			}
		}
		errc <- nil
	}()
	for range b.N {
		m, err := fr.ReadMessage()
		if err != nil {
			b.Fatal(err)
		}
		if _, ok := m.(*Piece); !ok {
			b.Fatalf("got %v", m)
		}
	}
	if err := <-errc; err != nil {
		b.Fatal(err)
	}
}

// BenchmarkPiecePooledTCP is BenchmarkPieceTCP with blocks taken from the
// package pool and returned with PutBlock.
func BenchmarkPiecePooledTCP(b *testing.B) {
	w, r := tcpPair(b)
	src := make([]byte, BlockSize)
	fw := NewFramer(w, nil)
	fr := NewFramer(nil, r)
	b.SetBytes(BlockSize)
	b.ReportAllocs()
	errc := make(chan error, 1)
	b.ResetTimer()
	defer reportCPU(b, cputime.Process())
	go func() {
		for i := range b.N {
			if err := fw.WritePiece(uint32(i), 0, src); err != nil {
				errc <- err
				return
			}
		}
		errc <- nil
	}()
	for range b.N {
		m, err := fr.ReadMessage()
		if err != nil {
			b.Fatal(err)
		}
		PutBlock(m.(*Piece).Block)
	}
	if err := <-errc; err != nil {
		b.Fatal(err)
	}
}

// BenchmarkRawTCP copies the same bytes as BenchmarkPieceTCP (13-byte
// header plus 16 KiB block per op) over loopback TCP with plain Write and
// io.ReadFull: the baseline the framer is measured against.
func BenchmarkRawTCP(b *testing.B) {
	w, r := tcpPair(b)
	src := make([]byte, PieceHeaderLength+BlockSize)
	dst := make([]byte, PieceHeaderLength+BlockSize)
	b.SetBytes(BlockSize)
	b.ReportAllocs()
	errc := make(chan error, 1)
	b.ResetTimer()
	defer reportCPU(b, cputime.Process())
	go func() {
		for range b.N {
			if _, err := w.Write(src); err != nil {
				errc <- err
				return
			}
		}
		errc <- nil
	}()
	for range b.N {
		if _, err := io.ReadFull(r, dst); err != nil {
			b.Fatal(err)
		}
	}
	if err := <-errc; err != nil {
		b.Fatal(err)
	}
}

// reportCPU reports the process CPU time (user+system, both goroutines and
// the kernel's TCP work) per op since start: less sensitive than wall time
// to other load on a shared machine.
func reportCPU(b *testing.B, start time.Duration) {
	if start == 0 {
		return
	}
	b.ReportMetric(float64(cputime.Process()-start)/float64(b.N), "cpu-ns/op")
}

// BenchmarkReadMessageSmall parses have messages from memory.
func BenchmarkReadMessageSmall(b *testing.B) {
	msg := Have{Index: 42}.AppendTo(nil)
	r := &repeatReader{msg: msg}
	f := NewFramer(nil, r)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := f.ReadMessage(); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkWriteRequest encodes request messages to io.Discard.
func BenchmarkWriteRequest(b *testing.B) {
	f := NewFramer(io.Discard, nil)
	b.ReportAllocs()
	for b.Loop() {
		if err := f.WriteRequest(1, 16384, 16384); err != nil {
			b.Fatal(err)
		}
	}
}

type repeatReader struct {
	msg []byte
	off int
}

func (r *repeatReader) Read(p []byte) (int, error) {
	n := 0
	for n < len(p) {
		c := copy(p[n:], r.msg[r.off:])
		n += c
		r.off = (r.off + c) % len(r.msg)
	}
	return n, nil
}

// BenchmarkPieceVsRawTCP alternates, within one benchmark, rounds of 64 MiB
// of framed 16 KiB piece messages (WritePiece → ReadMessage into a caller
// buffer) and rounds of the same bytes copied raw (Write → io.ReadFull),
// each over its own loopback TCP connection. Pairing the rounds keeps other
// load on a shared machine from favouring either side; it reports both
// rates and framed/raw as "ratio".
func BenchmarkPieceVsRawTCP(b *testing.B) {
	const blocks = 4096 // 64 MiB per round
	fw0, fr0 := tcpPair(b)
	rw, rr := tcpPair(b)
	src := make([]byte, PieceHeaderLength+BlockSize)
	dst := make([]byte, PieceHeaderLength+BlockSize)
	fw := NewFramer(fw0, nil)
	fr := NewFramer(nil, fr0)
	fr.AllocBlock = func(_, _ uint32, n int) []byte { return dst[:n] }
	round := func(send func() error, recv func() error) time.Duration {
		start := time.Now()
		errc := make(chan error, 1)
		go func() {
			for range blocks {
				if err := send(); err != nil {
					errc <- err
					return
				}
			}
			errc <- nil
		}()
		for range blocks {
			if err := recv(); err != nil {
				b.Fatal(err)
			}
		}
		if err := <-errc; err != nil {
			b.Fatal(err)
		}
		return time.Since(start)
	}
	framedSend := func() error { return fw.WritePiece(1, 0, src[PieceHeaderLength:]) }
	framedRecv := func() error {
		m, err := fr.ReadMessage()
		if err == nil {
			if _, ok := m.(*Piece); !ok {
				return io.ErrUnexpectedEOF
			}
		}
		return err
	}
	rawSend := func() error { _, err := rw.Write(src); return err }
	rawRecv := func() error { _, err := io.ReadFull(rr, dst); return err }
	var framed, raw time.Duration
	b.SetBytes(2 * blocks * BlockSize)
	b.ResetTimer()
	for i := range b.N {
		// Alternate which goes first so neither always gets a warm cache.
		if i%2 == 0 {
			framed += round(framedSend, framedRecv)
			raw += round(rawSend, rawRecv)
		} else {
			raw += round(rawSend, rawRecv)
			framed += round(framedSend, framedRecv)
		}
	}
	mib := float64(b.N) * blocks * BlockSize / (1 << 20)
	b.ReportMetric(mib/framed.Seconds(), "framed-MiB/s")
	b.ReportMetric(mib/raw.Seconds(), "raw-MiB/s")
	b.ReportMetric(raw.Seconds()/framed.Seconds(), "ratio")
}
