package mse

import (
	"context"
	"io"
	"net"
	"testing"
)

func benchTCPPair(b *testing.B) (net.Conn, net.Conn) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer ln.Close()
	acc := make(chan net.Conn, 1)
	go func() { c, _ := ln.Accept(); acc <- c }()
	a, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		b.Fatal(err)
	}
	c := <-acc
	if c == nil {
		b.Fatal("accept failed")
	}
	b.Cleanup(func() { a.Close(); c.Close() })
	return a, c
}

// BenchmarkHandshake measures one complete initiator and receiver handshake
// (both sides' Diffie-Hellman work) over loopback TCP.
func BenchmarkHandshake(b *testing.B) {
	keys := &SKeys{}
	keys.Add(ih)
	b.ReportAllocs()
	for b.Loop() {
		b.StopTimer()
		a, c := benchTCPPair(b)
		b.StartTimer()
		done := make(chan error, 1)
		go func() {
			_, err := Accept(context.Background(), c, keys, nil)
			done <- err
		}()
		if _, err := Initiate(context.Background(), a, ih, nil, nil); err != nil {
			b.Fatal(err)
		}
		if err := <-done; err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		a.Close()
		c.Close()
		b.StartTimer()
	}
}

// BenchmarkRC4Stream sends 16 KiB writes through an RC4 Conn over loopback
// TCP (encrypt on one side, decrypt on the other).
func BenchmarkRC4Stream(b *testing.B) {
	a, c := benchTCPPair(b)
	keys := &SKeys{}
	keys.Add(ih)
	done := make(chan *Conn, 1)
	go func() {
		rc, err := Accept(context.Background(), c, keys, nil)
		if err != nil {
			b.Error(err)
		}
		done <- rc
	}()
	ic, err := Initiate(context.Background(), a, ih, nil, &Config{Methods: RC4})
	if err != nil {
		b.Fatal(err)
	}
	rc := <-done
	if rc == nil {
		b.FailNow()
	}
	src := make([]byte, 16<<10)
	dst := make([]byte, 16<<10)
	b.SetBytes(int64(len(src)))
	b.ReportAllocs()
	b.ResetTimer()
	errc := make(chan error, 1)
	go func() {
		for range b.N {
			if _, err := ic.Write(src); err != nil {
				errc <- err
				return
			}
		}
		errc <- nil
	}()
	for range b.N {
		if _, err := io.ReadFull(rc, dst); err != nil {
			b.Fatal(err)
		}
	}
	if err := <-errc; err != nil {
		b.Fatal(err)
	}
}
