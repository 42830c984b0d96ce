package mse

import (
	"bytes"
	"context"
	"crypto/rc4"
	"crypto/sha1"
	"encoding/binary"
	"errors"
	"io"
	"math/big"
	mrand "math/rand/v2"
	"net"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

var ih = [20]byte{0xaa, 0xbb, 19: 0xcc}

func keysWith(n int, extra ...[20]byte) *SKeys {
	var k SKeys
	for i := range n {
		var h [20]byte
		binary.BigEndian.PutUint32(h[:], uint32(i))
		h[19] = 0x55
		k.Add(h)
	}
	for _, e := range extra {
		k.Add(e)
	}
	return &k
}

type result struct {
	c   *Conn
	err error
}

// handshake runs Initiate on a and Accept on b concurrently.
func handshake(t *testing.T, a, b net.Conn, skey [20]byte, ia []byte, icfg, rcfg *Config, keys SKeyFinder) (ic *Conn, ierr error, rc *Conn, rerr error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	done := make(chan result, 1)
	go func() {
		c, err := Accept(ctx, b, keys, rcfg)
		if err != nil {
			b.Close()
		}
		done <- result{c, err}
	}()
	ic, ierr = Initiate(ctx, a, skey, ia, icfg)
	if ierr != nil {
		a.Close()
	}
	r := <-done
	return ic, ierr, r.c, r.err
}

func tcpPair(t *testing.T) (net.Conn, net.Conn) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, _ := ln.Accept()
		accepted <- c
	}()
	a, err := net.Dial("tcp", ln.Addr().String())
	require.NoError(t, err)
	b := <-accepted
	require.NotNil(t, b)
	t.Cleanup(func() { a.Close(); b.Close() })
	return a, b
}

func pipePair(t *testing.T) (net.Conn, net.Conn) {
	a, b := net.Pipe()
	t.Cleanup(func() { a.Close(); b.Close() })
	return a, b
}

// exchange checks that data flows both ways through the pair, concurrently
// (as on a real connection), including the initial payload.
func exchange(t *testing.T, ic, rc net.Conn, ia []byte) {
	t.Helper()
	got := make([]byte, len(ia))
	_, err := io.ReadFull(rc, got)
	require.NoError(t, err)
	require.Equal(t, ia, got)
	up := bytes.Repeat([]byte("up-stream "), 50000)
	down := bytes.Repeat([]byte("down-stream "), 40000)
	var wg sync.WaitGroup
	wg.Go(func() { _, err := ic.Write(up); assert.NoError(t, err) })
	wg.Go(func() { _, err := rc.Write(down); assert.NoError(t, err) })
	var gotUp, gotDown []byte
	wg.Go(func() {
		gotUp = make([]byte, len(up))
		_, err := io.ReadFull(rc, gotUp)
		assert.NoError(t, err)
	})
	wg.Go(func() {
		gotDown = make([]byte, len(down))
		_, err := io.ReadFull(ic, gotDown)
		assert.NoError(t, err)
	})
	wg.Wait()
	assert.True(t, bytes.Equal(up, gotUp), "upstream corrupted")
	assert.True(t, bytes.Equal(down, gotDown), "downstream corrupted")
}

func TestHandshakeMatrix(t *testing.T) {
	ia := append([]byte("\x13BitTorrent protocol"), make([]byte, 48)...)
	cases := []struct {
		name       string
		icfg, rcfg Config
		want       CryptoMethod
	}{
		{"preferred/preferred", Config{}, Config{}, RC4},
		{"required/required", Config{Policy: Required, Methods: RC4}, Config{Policy: Required, Methods: RC4}, RC4},
		{"receiver prefers plaintext", Config{}, Config{PreferPlaintext: true}, Plaintext},
		{"initiator offers plaintext only", Config{Methods: Plaintext}, Config{}, Plaintext},
		{"receiver accepts plaintext only", Config{}, Config{Methods: Plaintext}, Plaintext},
		{"no padding", Config{MaxPadding: -1}, Config{MaxPadding: -1}, RC4},
		{"short padding", Config{MaxPadding: 3}, Config{MaxPadding: 1}, RC4},
	}
	for _, transport := range []string{"pipe", "tcp"} {
		for _, tc := range cases {
			t.Run(transport+"/"+tc.name, func(t *testing.T) {
				pair := pipePair
				if transport == "tcp" {
					pair = tcpPair
				}
				a, b := pair(t)
				ic, ierr, rc, rerr := handshake(t, a, b, ih, ia, &tc.icfg, &tc.rcfg, keysWith(100, ih))
				require.NoError(t, ierr)
				require.NoError(t, rerr)
				assert.Equal(t, tc.want, ic.Method())
				assert.Equal(t, tc.want, rc.Method())
				sk, ok := rc.SKey()
				assert.True(t, ok)
				assert.Equal(t, ih, sk)
				exchange(t, ic, rc, ia)
			})
		}
	}
}

func TestEmptyInitialPayload(t *testing.T) {
	a, b := pipePair(t)
	ic, ierr, rc, rerr := handshake(t, a, b, ih, nil, nil, nil, keysWith(0, ih))
	require.NoError(t, ierr)
	require.NoError(t, rerr)
	exchange(t, ic, rc, []byte{})
}

func TestFindsTorrentAmongMany(t *testing.T) {
	keys := keysWith(10000)
	var target [20]byte
	binary.BigEndian.PutUint32(target[:], 7777)
	target[19] = 0x55
	a, b := tcpPair(t)
	_, ierr, rc, rerr := handshake(t, a, b, target, []byte("x"), nil, nil, keys)
	require.NoError(t, ierr)
	require.NoError(t, rerr)
	sk, _ := rc.SKey()
	assert.Equal(t, target, sk)
	keys.Remove(target)
	_, ok := keys.FindSKey(Req2(target))
	assert.False(t, ok)
}

func TestWrongInfoHash(t *testing.T) {
	a, b := pipePair(t)
	_, ierr, _, rerr := handshake(t, a, b, [20]byte{1}, nil, nil, nil, keysWith(10, ih))
	assert.ErrorIs(t, rerr, ErrUnknownSKey)
	assert.Error(t, ierr)
}

func TestNilKeys(t *testing.T) {
	a, b := pipePair(t)
	_, ierr, _, rerr := handshake(t, a, b, ih, nil, nil, nil, nil)
	assert.ErrorIs(t, rerr, ErrUnknownSKey)
	assert.Error(t, ierr)
	var nilSet *SKeys
	_, ok := nilSet.FindSKey(Req2(ih))
	assert.False(t, ok)
}

func TestNoCommonMethod(t *testing.T) {
	a, b := pipePair(t)
	_, ierr, _, rerr := handshake(t, a, b, ih, nil, &Config{Methods: Plaintext}, &Config{Methods: RC4}, keysWith(0, ih))
	assert.ErrorIs(t, rerr, ErrNoCommonMethod)
	assert.Error(t, ierr)
}

func TestPlainHandshakeIncoming(t *testing.T) {
	bt := append([]byte("\x13BitTorrent protocol"), make([]byte, 48)...)
	bt[30] = 7
	for _, p := range []Policy{Preferred, Required, PlaintextOnly} {
		t.Run(p.String(), func(t *testing.T) {
			a, b := pipePair(t)
			go a.Write(append(bytes.Clone(bt), "after"...))
			c, err := Accept(context.Background(), b, keysWith(0, ih), &Config{Policy: p})
			if p == Required {
				require.ErrorIs(t, err, ErrPlaintextRefused)
				a.Close()
				return
			}
			require.NoError(t, err)
			assert.Equal(t, CryptoMethod(0), c.Method())
			_, ok := c.SKey()
			assert.False(t, ok)
			got := make([]byte, len(bt)+5)
			_, err = io.ReadFull(c, got)
			require.NoError(t, err)
			assert.Equal(t, append(bytes.Clone(bt), "after"...), got)
		})
	}
}

func TestPlaintextOnly(t *testing.T) {
	a, b := pipePair(t)
	c, err := Initiate(context.Background(), a, ih, []byte("ignored"), &Config{Policy: PlaintextOnly})
	require.NoError(t, err)
	assert.Equal(t, CryptoMethod(0), c.Method())
	go c.Write([]byte("plain"))
	got := make([]byte, 5)
	_, err = io.ReadFull(b, got)
	require.NoError(t, err)
	assert.Equal(t, "plain", string(got))

	// A PlaintextOnly receiver refuses an MSE initiator.
	a, b = pipePair(t)
	_, ierr, _, rerr := handshake(t, a, b, ih, nil, nil, &Config{Policy: PlaintextOnly}, keysWith(0, ih))
	assert.ErrorIs(t, rerr, ErrNotPlaintext)
	assert.Error(t, ierr)
}

func TestGarbage(t *testing.T) {
	rng := mrand.New(mrand.NewPCG(1, 2))
	for i := range 20 {
		junk := make([]byte, 96+rng.IntN(1200))
		for j := range junk {
			junk[j] = byte(rng.Uint32())
		}
		_, err := Accept(context.Background(), &scriptConn{r: bytes.NewReader(junk)}, keysWith(0, ih), nil)
		require.Error(t, err, i)
		if len(junk) >= 96+syncWindowReq {
			require.True(t, errors.Is(err, ErrNoSync) || errors.Is(err, ErrBadPublicKey), "%v", err)
		} else {
			require.True(t, errors.Is(err, ErrNoSync) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, ErrBadPublicKey), "%v", err)
		}
	}
	// An initiator talking to garbage fails too.
	junk := bytes.Repeat([]byte{0x42}, 96+600)
	_, err := Initiate(context.Background(), &scriptConn{r: bytes.NewReader(junk)}, ih, nil, nil)
	assert.ErrorIs(t, err, ErrNoSync)
}

func TestBadPublicKeys(t *testing.T) {
	p := dhPrime.Bytes()
	pm1 := new(big.Int).Sub(dhPrime, big.NewInt(1)).Bytes()
	for _, y := range [][]byte{make([]byte, 96), append(make([]byte, 95), 1), pm1, p, bytes.Repeat([]byte{0xff}, 96)} {
		_, err := Accept(context.Background(), &scriptConn{r: bytes.NewReader(y)}, keysWith(0, ih), nil)
		assert.ErrorIs(t, err, ErrBadPublicKey)
		_, err = Initiate(context.Background(), &scriptConn{r: bytes.NewReader(y)}, ih, nil, nil)
		assert.ErrorIs(t, err, ErrBadPublicKey)
	}
}

// recordInitiator runs a real handshake and records every byte the
// initiator sent, so that prefixes of it can be replayed to a receiver.
func recordInitiator(t *testing.T, cfg *Config) []byte {
	a, b := pipePair(t)
	rec := &recordingConn{Conn: a}
	ic, ierr, rc, rerr := handshake(t, rec, b, ih, []byte("initial payload"), cfg, nil, keysWith(0, ih))
	require.NoError(t, ierr)
	require.NoError(t, rerr)
	_ = ic
	_ = rc
	return rec.buf.Bytes()
}

func TestTruncatedInitiatorStream(t *testing.T) {
	stream := recordInitiator(t, &Config{MaxPadding: 40, Rand: mrand.NewChaCha8([32]byte{1})})
	// Replayed to a fresh receiver (new key pair), no prefix of a real
	// initiator's stream may hang or panic; each fails cleanly.
	for cut := 0; cut < len(stream); cut += 7 {
		_, err := Accept(context.Background(), &scriptConn{r: bytes.NewReader(stream[:cut])}, keysWith(0, ih), nil)
		require.Error(t, err, cut)
	}
}

func TestContextCancel(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		a, b := net.Pipe()
		defer a.Close()
		defer b.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		// A peer that never says anything.
		_, err := Accept(ctx, b, keysWith(0, ih), nil)
		assert.ErrorIs(t, err, context.DeadlineExceeded)

		ctx2, cancel2 := context.WithCancel(context.Background())
		go func() { time.Sleep(time.Second); cancel2() }()
		_, err = Initiate(ctx2, a, ih, nil, nil)
		assert.ErrorIs(t, err, context.Canceled)

		_, err = Initiate(ctx2, a, ih, nil, nil)
		assert.ErrorIs(t, err, context.Canceled)
	})
}

// TestPublishedStructure checks an initiator's bytes against the layout of
// the MSE specification, using an independent computation of every value
// from a known receiver private key.
func TestPublishedStructure(t *testing.T) {
	a, b := pipePair(t)
	xb := big.NewInt(0x1234567890)
	yb := new(big.Int).Exp(big.NewInt(2), xb, dhPrime)
	ybBytes := make([]byte, 96)
	yb.FillBytes(ybBytes)
	ia := []byte("\x13BitTorrent protocol IA")
	done := make(chan error, 1)
	var step1, step3 []byte
	go func() {
		done <- func() error {
			// 1: Ya (96 bytes, below P) and PadA (here exactly 40 bytes).
			buf := make([]byte, 96+40)
			if _, err := io.ReadFull(b, buf); err != nil {
				return err
			}
			step1 = buf
			if _, err := b.Write(ybBytes); err != nil { // 2: Yb, no PadB
				return err
			}
			// 3: 20+20 bytes of hashes, then 8+4+2+40+2 encrypted, then IA.
			step3 = make([]byte, 40+8+4+2+40+2+len(ia))
			_, err := io.ReadFull(b, step3)
			return err
		}()
	}()
	cfg := &Config{MaxPadding: 40, Rand: &fixedPadRand{pad: 40}, Methods: Plaintext | RC4}
	go Initiate(context.Background(), a, ih, ia, cfg)
	require.NoError(t, <-done)
	a.Close()

	ya := new(big.Int).SetBytes(step1[:96])
	require.Equal(t, -1, ya.Cmp(dhPrime))
	s := make([]byte, 96)
	new(big.Int).Exp(ya, xb, dhPrime).FillBytes(s)
	sha := func(parts ...[]byte) []byte {
		h := sha1.New()
		for _, p := range parts {
			h.Write(p)
		}
		return h.Sum(nil)
	}
	assert.Equal(t, sha([]byte("req1"), s), step3[:20], "HASH('req1', S)")
	req2 := sha([]byte("req2"), ih[:])
	req3 := sha([]byte("req3"), s)
	for i := range req2 {
		req2[i] ^= req3[i]
	}
	assert.Equal(t, req2, step3[20:40], "HASH('req2', SKEY) xor HASH('req3', S)")
	c, err := rc4.NewCipher(sha([]byte("keyA"), s, ih[:]))
	require.NoError(t, err)
	discard := make([]byte, 1024)
	c.XORKeyStream(discard, discard)
	plain := make([]byte, len(step3)-40)
	c.XORKeyStream(plain, step3[40:])
	assert.Equal(t, make([]byte, 8), plain[:8], "VC")
	assert.Equal(t, []byte{0, 0, 0, 3}, plain[8:12], "crypto_provide")
	assert.Equal(t, []byte{0, 40}, plain[12:14], "len(PadC)")
	assert.Equal(t, []byte{0, byte(len(ia))}, plain[54:56], "len(IA)")
	assert.Equal(t, ia, plain[56:], "IA")
}

// fixedPadRand yields zeros, except that 2-byte padding-length draws give
// pad (so that every padding is exactly pad bytes with MaxPadding pad).
type fixedPadRand struct{ pad int }

func (r *fixedPadRand) Read(p []byte) (int, error) {
	clear(p)
	if len(p) == 2 {
		binary.BigEndian.PutUint16(p, uint16(r.pad))
	} else if len(p) == 20 {
		p[19] = 7 // a private key of 7
	}
	return len(p), nil
}

func TestConnWriteDoesNotModifyInput(t *testing.T) {
	a, b := pipePair(t)
	ic, ierr, rc, rerr := handshake(t, a, b, ih, nil, nil, nil, keysWith(0, ih))
	require.NoError(t, ierr)
	require.NoError(t, rerr)
	msg := []byte("do not touch")
	orig := bytes.Clone(msg)
	go ic.Write(msg)
	got := make([]byte, len(msg))
	_, err := io.ReadFull(rc, got)
	require.NoError(t, err)
	assert.Equal(t, orig, msg)
	assert.Equal(t, orig, got)
}

func TestStrings(t *testing.T) {
	assert.Equal(t, "rc4", RC4.String())
	assert.Equal(t, "plaintext|rc4", (RC4 | Plaintext).String())
	assert.Equal(t, "none", CryptoMethod(0).String())
	assert.Contains(t, CryptoMethod(8).String(), "0x8")
	assert.Equal(t, "required", Required.String())
	assert.Equal(t, "Policy(9)", Policy(9).String())
}

// scriptConn is a net.Conn that reads a fixed script and discards writes.
type scriptConn struct {
	r io.Reader
	net.Conn
}

func (c *scriptConn) Read(p []byte) (int, error)  { return c.r.Read(p) }
func (c *scriptConn) Write(p []byte) (int, error) { return len(p), nil }
func (c *scriptConn) SetDeadline(time.Time) error { return nil }
func (c *scriptConn) Close() error                { return nil }

type recordingConn struct {
	net.Conn
	mu  sync.Mutex
	buf bytes.Buffer
}

func (c *recordingConn) Write(p []byte) (int, error) {
	c.mu.Lock()
	c.buf.Write(p)
	c.mu.Unlock()
	return c.Conn.Write(p)
}

// replayConfig is a receiver whose key pair and padding are fixed, so that
// a recorded initiator stream replays successfully against it.
func replayConfig() *Config { return &Config{Rand: &fixedPadRand{pad: 5}, MaxPadding: 5} }

// recordAgainstReplay records an initiator's stream against a replayConfig
// receiver.
func recordAgainstReplay(tb testing.TB, icfg *Config) []byte {
	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()
	rec := &recordingConn{Conn: a}
	done := make(chan error, 1)
	go func() {
		c, err := Accept(context.Background(), b, keysWith(0, ih), replayConfig())
		if err == nil {
			_, err = io.ReadFull(c, make([]byte, len("\x13BitTorrent protocol IAmore")))
		}
		done <- err
	}()
	c, err := Initiate(context.Background(), rec, ih, []byte("\x13BitTorrent protocol IA"), icfg)
	if err != nil {
		tb.Fatal(err)
	}
	if _, err := c.Write([]byte("more")); err != nil {
		tb.Fatal(err)
	}
	if err := <-done; err != nil {
		tb.Fatal(err)
	}
	return rec.buf.Bytes()
}

func TestReplayAgainstFixedReceiver(t *testing.T) {
	stream := recordAgainstReplay(t, nil)
	c, err := Accept(context.Background(), &scriptConn{r: bytes.NewReader(stream)}, keysWith(0, ih), replayConfig())
	require.NoError(t, err)
	got, err := io.ReadAll(c)
	require.NoError(t, err)
	assert.Equal(t, "\x13BitTorrent protocol IAmore", string(got))
	// Every strict prefix fails cleanly.
	for cut := range len(stream) - len("more") {
		_, err := Accept(context.Background(), &scriptConn{r: bytes.NewReader(stream[:cut])}, keysWith(0, ih), replayConfig())
		require.Error(t, err, cut)
	}
	// A flipped bit in Ya changes S: the receiver never finds
	// HASH('req1', S) and fails.
	for i := 0; i < 96; i += 5 {
		bad := bytes.Clone(stream)
		bad[i] ^= 0x01
		_, err := Accept(context.Background(), &scriptConn{r: bytes.NewReader(bad)}, keysWith(0, ih), replayConfig())
		require.Error(t, err, i)
	}
}

func FuzzAccept(f *testing.F) {
	// Seeds: streams that complete a handshake with the fixed receiver
	// (so mutations reach every state), a plain handshake, and junk.
	f.Add(recordAgainstReplay(f, nil))
	f.Add(recordAgainstReplay(f, &Config{Methods: Plaintext}))
	f.Add(recordAgainstReplay(f, &Config{MaxPadding: -1}))
	f.Add(append([]byte("\x13BitTorrent protocol"), make([]byte, 48)...))
	f.Add(bytes.Repeat([]byte{0xff}, 700))
	f.Add(bytes.Repeat([]byte{0x01}, 96))
	f.Fuzz(func(t *testing.T, in []byte) {
		c, err := Accept(context.Background(), &scriptConn{r: bytes.NewReader(in)}, keysWith(0, ih), replayConfig())
		if err != nil {
			return
		}
		// Whatever was accepted reads back without error up to the end.
		if _, err := io.Copy(io.Discard, io.LimitReader(c, 1<<20)); err != nil {
			t.Fatal(err)
		}
	})
}

// recordReceiverAgainstReplay records a receiver's stream against an
// initiator whose key pair and padding are fixed (replayConfig), so that
// it replays successfully to a fresh replayConfig initiator.
func recordReceiverAgainstReplay(tb testing.TB, rcfg *Config) []byte {
	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()
	rec := &recordingConn{Conn: b}
	done := make(chan error, 1)
	go func() {
		c, err := Accept(context.Background(), rec, keysWith(0, ih), rcfg)
		if err == nil {
			_, err = c.Write([]byte("\x13BitTorrent protocol reply"))
		}
		done <- err
	}()
	c, err := Initiate(context.Background(), a, ih, []byte("IA"), replayConfig())
	if err != nil {
		tb.Fatal(err)
	}
	if _, err := io.ReadFull(c, make([]byte, len("\x13BitTorrent protocol reply"))); err != nil {
		tb.Fatal(err)
	}
	if err := <-done; err != nil {
		tb.Fatal(err)
	}
	return rec.buf.Bytes()
}

func TestInitiatorReplay(t *testing.T) {
	stream := recordReceiverAgainstReplay(t, nil)
	c, err := Initiate(context.Background(), &scriptConn{r: bytes.NewReader(stream)}, ih, []byte("IA"), replayConfig())
	require.NoError(t, err)
	got, err := io.ReadAll(c)
	require.NoError(t, err)
	assert.Equal(t, "\x13BitTorrent protocol reply", string(got))
	for cut := range len(stream) - len("\x13BitTorrent protocol reply") {
		_, err := Initiate(context.Background(), &scriptConn{r: bytes.NewReader(stream[:cut])}, ih, []byte("IA"), replayConfig())
		require.Error(t, err, cut)
	}
}

func FuzzInitiate(f *testing.F) {
	// Seeds: receiver streams that complete a handshake with the fixed
	// initiator, so that mutations reach every state.
	f.Add(recordReceiverAgainstReplay(f, nil))
	f.Add(recordReceiverAgainstReplay(f, &Config{PreferPlaintext: true}))
	f.Add(recordReceiverAgainstReplay(f, &Config{MaxPadding: -1}))
	f.Add(bytes.Repeat([]byte{0x02}, 700))
	f.Fuzz(func(t *testing.T, in []byte) {
		c, err := Initiate(context.Background(), &scriptConn{r: bytes.NewReader(in)}, ih, []byte("IA"), replayConfig())
		if err != nil {
			return
		}
		if _, err := io.Copy(io.Discard, io.LimitReader(c, 1<<20)); err != nil {
			t.Fatal(err)
		}
	})
}
