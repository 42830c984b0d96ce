package peerwiretest

import (
	"net"
	"runtime"
	"testing"
	"testing/synctest"
	"time"

	"github.com/bittern/bittern/peerwire"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestPipe(t *testing.T) {
	ih := [20]byte{1, 2, 3}
	ha, hb := Handshake(ih), Handshake(ih)
	a, b := Pipe(t, ha, hb)
	assert.Equal(t, hb, a.Remote)
	assert.Equal(t, ha, b.Remote)
	assert.Equal(t, ha, a.Local)
	go func() {
		a.Framer.WriteKeepAlive()
		a.Framer.WriteInterested()
		a.Framer.WritePiece(1, 0, []byte("data"))
	}()
	b.Expect(t, peerwire.Interested{})
	m := b.Expect(t, &peerwire.Piece{Index: 1, Block: []byte("data")})
	peerwire.PutBlock(m.(*peerwire.Piece).Block)
}

func TestConnectMismatch(t *testing.T) {
	ca, cb := net.Pipe()
	_, _, err := Connect(ca, cb, Handshake([20]byte{1}), Handshake([20]byte{2}))
	require.Error(t, err)
}

func TestConnectTCP(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	acc := make(chan net.Conn, 1)
	go func() { c, _ := ln.Accept(); acc <- c }()
	ca, err := net.Dial("tcp", ln.Addr().String())
	require.NoError(t, err)
	cb := <-acc
	defer ca.Close()
	defer cb.Close()
	a, b, err := Connect(ca, cb, Handshake([20]byte{9}), Handshake([20]byte{9}))
	require.NoError(t, err)
	require.NoError(t, b.Framer.WriteHaveAll())
	a.Expect(t, peerwire.HaveAll{})
}

func TestReadTimesOutInVirtualTime(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		a, _ := Pipe(t, Handshake([20]byte{1}), Handshake([20]byte{1}))
		start := time.Now()
		ft := &fakeTB{TB: t}
		done := make(chan struct{})
		go func() {
			defer close(done)
			a.Read(ft)
		}()
		<-done
		assert.True(t, ft.failed)
		assert.Equal(t, ExpectTimeout, time.Since(start))
	})
}

// fakeTB records Fatalf instead of failing the real test.
type fakeTB struct {
	testing.TB
	failed bool
}

func (f *fakeTB) Helper() {}
func (f *fakeTB) Fatalf(string, ...any) {
	f.failed = true
	runtime.Goexit()
}

func TestNegotiatedExtensions(t *testing.T) {
	ih := [20]byte{4}
	plain := Handshake(ih)
	plain.Reserved = peerwire.Reserved{}
	a, b := Pipe(t, Handshake(ih), plain)
	go b.Framer.WriteHaveAll() // b did not advertise Fast
	a.Conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	_, err := a.Framer.ReadMessage()
	require.ErrorIs(t, err, peerwire.ErrNotNegotiated)
}
