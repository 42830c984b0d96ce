package utp

import (
	"context"
	"io"
	"net"
	"testing"
	"time"

	"github.com/bittern/bittern/internal/cputime"
)

// BenchmarkLoopback measures one-way throughput over real loopback: uTP
// between two sockets on 127.0.0.1, and TCP as the baseline in the same
// run. Run with:
//
//	go test -run XXX -bench Loopback -benchtime 2048x -count 3 ./utp
func BenchmarkLoopback(b *testing.B) {
	b.Run("utp", func(b *testing.B) {
		mk := func() *Socket {
			pc, err := net.ListenPacket("udp", "127.0.0.1:0")
			if err != nil {
				b.Fatal(err)
			}
			return NewSocket(pc, nil)
		}
		sa, sb := mk(), mk()
		defer sa.Close()
		defer sb.Close()
		accepted := make(chan *Conn, 1)
		go func() {
			c, err := sb.Accept()
			if err != nil {
				b.Error(err)
			}
			accepted <- c
		}()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		ca, err := sa.Dial(ctx, sb.Addr().String())
		if err != nil {
			b.Fatal(err)
		}
		cb := <-accepted
		benchStream(b, ca, cb)
	})
	b.Run("tcp", func(b *testing.B) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			b.Fatal(err)
		}
		defer ln.Close()
		accepted := make(chan net.Conn, 1)
		go func() {
			c, err := ln.Accept()
			if err != nil {
				b.Error(err)
			}
			accepted <- c
		}()
		ca, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			b.Fatal(err)
		}
		benchStream(b, ca, <-accepted)
	})
}

// benchStream writes b.N chunks of 64 KiB from w to r and reports MiB/s
// and the CPU time of both ends together (one process) per GiB moved.
func benchStream(b *testing.B, w, r net.Conn) {
	const chunk = 64 << 10
	buf := make([]byte, chunk)
	b.SetBytes(chunk)
	done := make(chan error, 1)
	b.ResetTimer()
	start, cpu0 := time.Now(), cputime.Process()
	go func() {
		_, err := io.CopyN(io.Discard, r, int64(b.N)*chunk)
		done <- err
	}()
	for range b.N {
		if _, err := w.Write(buf); err != nil {
			b.Fatal(err)
		}
	}
	if err := <-done; err != nil {
		b.Fatal(err)
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N)*chunk/(1<<20)/time.Since(start).Seconds(), "MiB/s")
	b.ReportMetric((cputime.Process()-cpu0).Seconds()/(float64(b.N)*chunk/(1<<30)), "cpu-s/GiB")
	w.Close()
	r.Close()
}
