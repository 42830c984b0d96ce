package bittern

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/netip"
	"testing"
	"testing/synctest"
	"time"

	"github.com/bittern/bittern/metainfo"
	"github.com/bittern/bittern/peerwire"
	"github.com/bittern/bittern/storage"
)

// A peer that asks for many blocks and reads slowly gets them all, but the
// session never buffers more than uploadWatermark of them at once.
func TestUploadBufferBounded(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := newPipeNet()
		data := randomData(4<<20, 17)
		mi := makeTorrent(t, "big.bin", data, 256<<10)
		st := &storage.Memory{}
		fill(t, st, mi, data)
		s := newPipeSession(t, n, "10.0.0.1:6881", &Config{Storage: st})
		defer s.Close()
		tor, err := s.AddTorrent(context.Background(), mi, nil)
		if err != nil {
			t.Fatal(err)
		}
		p := dialRaw(t, n, "10.0.0.9", "10.0.0.1:6881", mi, rawID('i'), fastExt)
		p.next()
		p.next()
		p.send(peerwire.Interested{})
		p.next() // unchoke
		var reqs []byte
		for i := 0; i < len(data)/16384; i++ {
			reqs = peerwire.Request{Index: uint32(i / 16), Begin: uint32(i%16) * 16384, Length: 16384}.AppendTo(reqs)
		}
		if _, err := p.c.(io.Writer).Write(reqs); err != nil {
			t.Fatal(err)
		}
		// The peer reads nothing for a while: the session's buffer fills
		// to the watermark and stops there.
		time.Sleep(time.Second)
		synctest.Wait()
		type state struct {
			buffered int64
			queued   int
		}
		got := make(chan state, 1)
		tor.inbox.post(func() {
			for c := range tor.conns {
				got <- state{tor.uploadsBuffered(c), len(c.uploadQueue)}
			}
		})
		st1 := <-got
		if st1.buffered > uploadWatermark+16384 || st1.queued == 0 {
			t.Fatalf("buffered %d bytes with %d requests waiting; want at most %d buffered", st1.buffered, st1.queued, uploadWatermark+16384)
		}
		seen := map[int]bool{}
		for len(seen) < len(data)/16384 {
			m, ok := p.next().(*peerwire.Piece)
			if !ok {
				t.Fatalf("got %v, want a piece", m)
			}
			off := int(m.Index)*256<<10 + int(m.Begin)
			if seen[off] || !bytes.Equal(m.Block, data[off:off+16384]) {
				t.Fatalf("block at %d: wrong data or sent twice", off)
			}
			seen[off] = true
		}
	})
}

// The session-wide connection limit holds across torrents.
func TestSessionConnectionLimit(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := newPipeNet()
		s := newPipeSession(t, n, "10.0.0.1:6881", &Config{MaxConnections: 2})
		defer s.Close()
		var mis []*metainfo.MetaInfo
		for i := range 2 {
			data := randomData(64<<10, uint64(20+i))
			mi := makeTorrent(t, fmt.Sprintf("t%d.bin", i), data, 16<<10)
			if _, err := s.AddTorrent(context.Background(), mi, nil); err != nil {
				t.Fatal(err)
			}
			mis = append(mis, mi)
		}
		a := dialRaw(t, n, "10.0.0.8", "10.0.0.1:6881", mis[0], rawID('p'), fastExt)
		a.next()
		b := dialRaw(t, n, "10.0.0.9", "10.0.0.1:6881", mis[1], rawID('q'), fastExt)
		b.next()
		c := dialRaw(t, n, "10.0.0.10", "10.0.0.1:6881", mis[1], rawID('r'), fastExt)
		c.expectClosed()
		// One leaves: a new connection fits again.
		a.c.Close()
		time.Sleep(time.Second)
		d := dialRaw(t, n, "10.0.0.11", "10.0.0.1:6881", mis[0], rawID('s'), fastExt)
		if m, ok := d.next().(*peerwire.Extended); !ok {
			t.Fatalf("got %v, want the extended handshake", m)
		}
		if got := s.Stats().Peers; got != 2 {
			t.Fatalf("%d peers, want 2", got)
		}
	})
}

// Config.MaxPeers bounds one torrent's connections.
func TestMaxPeersPerTorrent(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := newPipeNet()
		s, mi, _ := seederSetup(t, n, &Config{MaxPeers: 1})
		defer s.Close()
		a := dialRaw(t, n, "10.0.0.8", "10.0.0.1:6881", mi, rawID('A'), fastExt)
		a.next()
		b := dialRaw(t, n, "10.0.0.9", "10.0.0.1:6881", mi, rawID('B'), fastExt)
		b.expectClosed()
		if got := s.Stats().Peers; got != 1 {
			t.Fatalf("%d peers, want 1", got)
		}
	})
}

// Requests beyond Config.MaxUploadQueue are rejected.
func TestMaxUploadQueue(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := newPipeNet()
		s, mi, _ := seederSetup(t, n, &Config{MaxUploadQueue: 4})
		defer s.Close()
		p := dialRaw(t, n, "10.0.0.9", "10.0.0.1:6881", mi, rawID('C'), fastExt)
		p.next()
		p.next()
		p.send(peerwire.Interested{})
		p.next() // unchoke
		// Ten requests at once (the session's writer is blocked until we
		// read, so the queue cannot drain meanwhile): four are accepted.
		var reqs []byte
		for i := range 10 {
			reqs = peerwire.Request{Index: uint32(i), Begin: 0, Length: 16384}.AppendTo(reqs)
		}
		if _, err := p.c.(io.Writer).Write(reqs); err != nil {
			t.Fatal(err)
		}
		pieces, rejects := 0, 0
		for pieces+rejects < 10 {
			switch m := p.next().(type) {
			case *peerwire.Piece:
				pieces++
			case *peerwire.Reject:
				rejects++
			default:
				t.Fatalf("unexpected %v", m)
			}
		}
		if pieces < 4 || rejects == 0 {
			t.Fatalf("%d served, %d rejected; want at least 4 served and some rejected", pieces, rejects)
		}
	})
}

// A peer that connects and never completes its handshake is dropped after
// Config.HandshakeTimeout.
func TestHandshakeTimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := newPipeNet()
		s, _, _ := seederSetup(t, n, &Config{HandshakeTimeout: 5 * time.Second})
		defer s.Close()
		d := pipeDialer{n: n, host: netip.MustParseAddr("10.0.0.9")}
		conn, err := d.DialContext(context.Background(), "tcp", "10.0.0.1:6881")
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		start := time.Now()
		conn.Write([]byte("\x13BitTorrent"))
		if _, err := conn.Read(make([]byte, 1)); err == nil {
			t.Fatal("got a reply to half a handshake")
		}
		if d := time.Since(start); d != 5*time.Second {
			t.Fatalf("closed after %v, want 5s", d)
		}
	})
}

// Config.MaxHalfOpen bounds the dials in progress.
func TestMaxHalfOpen(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := newPipeNet()
		data := randomData(64<<10, 70)
		mi := makeTorrent(t, "halfopen.bin", data, 16<<10)
		s := newPipeSession(t, n, "10.0.0.1:6881", &Config{MaxHalfOpen: 2})
		defer s.Close()
		hd := &hangingDialer{started: make(chan struct{}, 10)}
		s.cfg.Dialer = hd
		tor, err := s.AddTorrent(context.Background(), mi, nil)
		if err != nil {
			t.Fatal(err)
		}
		var peers []netip.AddrPort
		for i := range 6 {
			peers = append(peers, netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, 0, 2, byte(i + 1)}), 6881))
		}
		tor.AddPeers(peers...)
		time.Sleep(time.Second)
		if got := len(hd.started); got != 2 {
			t.Fatalf("%d dials in progress, want 2", got)
		}
	})
}

// hangingDialer never connects: its dials wait for their context.
type hangingDialer struct{ started chan struct{} }

func (d *hangingDialer) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	d.started <- struct{}{}
	<-ctx.Done()
	return nil, fmt.Errorf("dial %s: %w", addr, ctx.Err())
}

// Beyond Config.MaxPendingHandshakes, new connections are closed at once.
func TestMaxPendingHandshakes(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := newPipeNet()
		s, mi, _ := seederSetup(t, n, &Config{MaxPendingHandshakes: 1})
		defer s.Close()
		d := pipeDialer{n: n, host: netip.MustParseAddr("10.0.0.9")}
		silent, err := d.DialContext(context.Background(), "tcp", "10.0.0.1:6881")
		if err != nil {
			t.Fatal(err)
		}
		defer silent.Close()
		synctest.Wait()
		second, err := d.DialContext(context.Background(), "tcp", "10.0.0.1:6881")
		if err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		if _, err := second.Read(make([]byte, 1)); err == nil || time.Since(start) != 0 {
			t.Fatalf("second connection: err %v after %v, want closed at once", err, time.Since(start))
		}
		silent.Close()
		synctest.Wait()
		p := dialRaw(t, n, "10.0.0.9", "10.0.0.1:6881", mi, rawID('D'), fastExt)
		if _, ok := p.next().(*peerwire.Extended); !ok {
			t.Fatal("a handshake after the slot freed was not answered")
		}
	})
}
