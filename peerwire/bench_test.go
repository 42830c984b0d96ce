package peerwire

import (
	"io"
	"net"
	"testing"
	"time"
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
	defer reportCPU(b, processCPU())
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
	defer reportCPU(b, processCPU())
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
	defer reportCPU(b, processCPU())
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
	b.ReportMetric(float64(processCPU()-start)/float64(b.N), "cpu-ns/op")
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
