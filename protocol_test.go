package bittern

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/bittern/bittern/bencode"
	"github.com/bittern/bittern/metainfo"
	"github.com/bittern/bittern/peerwire"
	"github.com/bittern/bittern/storage"
)

// rawPeer is a hand-driven peer speaking the wire protocol to a session.
type rawPeer struct {
	t       testing.TB
	fr      *peerwire.Framer
	hs      peerwire.Handshake // the session's reply
	c       interface{ Close() error }
	allowed []uint32 // allowed fast messages received (next skips them)
}

func dialRaw(t testing.TB, n *pipeNet, from, to string, mi *metainfo.MetaInfo, id [20]byte, reserved peerwire.Reserved) *rawPeer {
	t.Helper()
	d := pipeDialer{n: n, host: netip.MustParseAddr(from)}
	conn, err := d.DialContext(context.Background(), "tcp", to)
	if err != nil {
		t.Fatal(err)
	}
	hs, err := peerwire.Initiate(conn, peerwire.Handshake{Reserved: reserved, InfoHash: mi.InfoHash(), PeerID: id}, [20]byte{})
	if err != nil {
		t.Fatal(err)
	}
	fr := peerwire.NewFramer(conn, conn)
	fr.SetPieceCount(mi.Info().NumPieces())
	t.Cleanup(func() { conn.Close() })
	return &rawPeer{t: t, fr: fr, hs: hs, c: conn}
}

// next returns the next message other than a keep-alive.
func (p *rawPeer) next() peerwire.Message {
	p.t.Helper()
	for {
		m, err := p.fr.ReadMessage()
		if err != nil {
			p.t.Fatalf("read: %v", err)
		}
		switch m := m.(type) {
		case *peerwire.KeepAlive:
		case *peerwire.AllowedFast:
			p.allowed = append(p.allowed, m.Index)
		default:
			return m
		}
	}
}

func (p *rawPeer) send(m peerwire.Message) {
	p.t.Helper()
	if err := p.fr.WriteMessage(m); err != nil {
		p.t.Fatalf("write %v: %v", m, err)
	}
}

// expectClosed reads until the session closes the connection.
func (p *rawPeer) expectClosed() {
	p.t.Helper()
	for {
		m, err := p.fr.ReadMessage()
		if err != nil {
			if !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, io.ErrClosedPipe) {
				p.t.Fatalf("read: %v, want the connection closed", err)
			}
			return
		}
		if _, ok := m.(*peerwire.KeepAlive); !ok {
			p.t.Logf("message before close: %v", m)
		}
	}
}

var fastExt = peerwire.Reserved{}.Set(peerwire.ReservedFast).Set(peerwire.ReservedExtension)

func rawID(b byte) [20]byte {
	var id [20]byte
	copy(id[:], "-XX0000-")
	for i := 8; i < 20; i++ {
		id[i] = b
	}
	return id
}

// seederSetup starts a session seeding a fresh torrent at 10.0.0.1:6881.
func seederSetup(t *testing.T, n *pipeNet, cfg *Config) (*Session, *metainfo.MetaInfo, []byte) {
	t.Helper()
	data := randomData(1<<20+5000, 7)
	mi := makeTorrent(t, "proto.bin", data, 64<<10)
	st := &storage.Memory{}
	fill(t, st, mi, data)
	var c Config
	if cfg != nil {
		c = *cfg
	}
	c.Storage = st
	s := newPipeSession(t, n, "10.0.0.1:6881", &c)
	if _, err := s.AddTorrent(context.Background(), mi, nil); err != nil {
		t.Fatal(err)
	}
	return s, mi, data
}

func TestHandshakeAndServe(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := newPipeNet()
		s, mi, data := seederSetup(t, n, nil)
		defer s.Close()
		p := dialRaw(t, n, "10.0.0.9", "10.0.0.1:6881", mi, rawID('a'), fastExt)
		if !p.hs.Reserved.Has(peerwire.ReservedFast) || !p.hs.Reserved.Has(peerwire.ReservedExtension) {
			t.Errorf("reply reserved %x lacks Fast or Extension", p.hs.Reserved)
		}
		if p.hs.PeerID != s.PeerID() {
			t.Errorf("reply peer ID %q, want %q", p.hs.PeerID, s.PeerID())
		}
		ext, ok := p.next().(*peerwire.Extended)
		if !ok || ext.ExtendedID != 0 {
			t.Fatalf("first message %v, want the extended handshake", ext)
		}
		var eh extHandshake
		if err := bencode.Unmarshal(ext.Payload, &eh); err != nil || eh.Reqq != DefaultMaxUploadQueue {
			t.Fatalf("extended handshake %q: %v", ext.Payload, err)
		}
		if m, ok := p.next().(*peerwire.HaveAll); !ok {
			t.Fatalf("second message %v, want have all", m)
		}
		p.send(peerwire.Interested{})
		if m, ok := p.next().(*peerwire.Unchoke); !ok {
			t.Fatalf("after interested: %v, want unchoke", m)
		}
		p.send(peerwire.Request{Index: 3, Begin: 16384, Length: 16384})
		piece, ok := p.next().(*peerwire.Piece)
		if !ok || piece.Index != 3 || piece.Begin != 16384 {
			t.Fatalf("after request: %v, want piece 3/16384", piece)
		}
		off := 3*64<<10 + 16384
		if !bytes.Equal(piece.Block, data[off:off+16384]) {
			t.Fatal("served block differs from the data")
		}
		// The last piece is short: a request past its end breaks the protocol.
		last := uint32(mi.Info().NumPieces() - 1)
		p.send(peerwire.Request{Index: last, Begin: 16384, Length: 16384})
		p.expectClosed()
		time.Sleep(time.Second)
		if got := s.Stats().Peers; got != 0 {
			t.Fatalf("%d peers after the protocol violation, want 0", got)
		}
	})
}

func TestLeecherRequestsAndRejects(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := newPipeNet()
		data := randomData(256<<10, 8)
		mi := makeTorrent(t, "leech.bin", data, 64<<10)
		s := newPipeSession(t, n, "10.0.0.1:6881", nil)
		defer s.Close()
		tor, err := s.AddTorrent(context.Background(), mi, nil)
		if err != nil {
			t.Fatal(err)
		}
		p := dialRaw(t, n, "10.0.0.9", "10.0.0.1:6881", mi, rawID('b'), fastExt)
		p.next() // extended handshake
		if m, ok := p.next().(*peerwire.HaveNone); !ok {
			t.Fatalf("got %v, want have none", m)
		}
		// A request for a piece the session lacks is rejected (BEP 6).
		p.send(peerwire.Interested{})
		if m, ok := p.next().(*peerwire.Unchoke); !ok {
			t.Fatalf("got %v, want unchoke", m)
		}
		p.send(peerwire.Request{Index: 0, Begin: 0, Length: 16384})
		if m, ok := p.next().(*peerwire.Reject); !ok || *m != (peerwire.Reject{Index: 0, Begin: 0, Length: 16384}) {
			t.Fatalf("got %v, want reject 0/0/16384", m)
		}
		// We get everything (have all is only valid as the first
		// message): the session becomes interested, and once unchoked
		// requests the whole torrent; serve it.
		p.send(peerwire.Have{Index: 0})
		if m, ok := p.next().(*peerwire.Interested); !ok {
			t.Fatalf("got %v, want interested", m)
		}
		for i := uint32(1); i < 4; i++ {
			p.send(peerwire.Have{Index: i})
		}
		p.send(peerwire.Unchoke{})
		served := 0
		for served < len(data)/16384 {
			switch m := p.next().(type) {
			case *peerwire.Request:
				off := int(m.Index)*64<<10 + int(m.Begin)
				p.send(peerwire.Piece{Index: m.Index, Begin: m.Begin, Block: data[off : off+int(m.Length)]})
				served++
			case *peerwire.Have, *peerwire.NotInterested:
			default:
				t.Fatalf("unexpected %v", m)
			}
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := tor.Wait(ctx); err != nil {
			t.Fatalf("wait: %v", err)
		}
		// A seed talking to a seed: the session hangs up.
		p.expectClosed()
	})
}

func TestFastMessagesNeedFastExtension(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := newPipeNet()
		s, mi, _ := seederSetup(t, n, nil)
		defer s.Close()
		p := dialRaw(t, n, "10.0.0.9", "10.0.0.1:6881", mi, rawID('c'), peerwire.Reserved{})
		if _, ok := p.next().(*peerwire.Bitfield); !ok {
			t.Fatal("a peer without BEP 6 must get a bitfield")
		}
		p.send(peerwire.HaveNone{})
		p.expectClosed()
	})
}

func TestDuplicateConnectionRefused(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := newPipeNet()
		s, mi, _ := seederSetup(t, n, nil)
		defer s.Close()
		a := dialRaw(t, n, "10.0.0.9", "10.0.0.1:6881", mi, rawID('d'), fastExt)
		a.next()
		a.next()
		b := dialRaw(t, n, "10.0.0.9", "10.0.0.1:6881", mi, rawID('d'), fastExt)
		b.expectClosed()
		a.send(peerwire.Interested{})
		if m, ok := a.next().(*peerwire.Unchoke); !ok {
			t.Fatalf("first connection: %v, want unchoke", m)
		}
		if got := s.Stats().Peers; got != 1 {
			t.Fatalf("%d peers, want 1", got)
		}
	})
}

// countingDialer counts dials.
type countingDialer struct {
	Dialer
	n atomic.Int32
}

func (d *countingDialer) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	d.n.Add(1)
	return d.Dialer.DialContext(ctx, network, addr)
}

func TestSelfConnectionDetected(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := newPipeNet()
		data := randomData(64<<10, 9)
		mi := makeTorrent(t, "self.bin", data, 16<<10)
		s := newPipeSession(t, n, "10.0.0.1:6881", &Config{RetryBackoff: time.Second})
		defer s.Close()
		cd := &countingDialer{Dialer: s.cfg.Dialer}
		s.cfg.Dialer = cd
		tor, err := s.AddTorrent(context.Background(), mi, nil)
		if err != nil {
			t.Fatal(err)
		}
		tor.AddPeers(netip.MustParseAddrPort("10.0.0.1:6881"))
		time.Sleep(time.Hour)
		if got := cd.n.Load(); got != 1 {
			t.Errorf("dialled ourselves %d times, want once", got)
		}
		if got := tor.Stats().Peers; got != 0 {
			t.Errorf("%d peers, want 0", got)
		}
	})
}

func TestKeepAliveAndIdleTimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := newPipeNet()
		s, mi, _ := seederSetup(t, n, &Config{KeepAliveInterval: 30 * time.Second, IdleTimeout: 95 * time.Second})
		defer s.Close()
		start := time.Now()
		p := dialRaw(t, n, "10.0.0.9", "10.0.0.1:6881", mi, rawID('e'), fastExt)
		var keepAlives []time.Duration
		for {
			m, err := p.fr.ReadMessage()
			if err != nil {
				break
			}
			if _, ok := m.(*peerwire.KeepAlive); ok {
				keepAlives = append(keepAlives, time.Since(start))
			}
		}
		closed := time.Since(start)
		if len(keepAlives) < 2 || keepAlives[0] < 30*time.Second || keepAlives[0] > 31*time.Second || keepAlives[1]-keepAlives[0] != 30*time.Second {
			t.Errorf("keep-alives at %v, want one about every 30 s", keepAlives)
		}
		if closed < 95*time.Second || closed > 100*time.Second {
			t.Errorf("silent peer closed after %v, want just after 95 s", closed)
		}
	})
}

// A peer that lets requests time out is snubbed: they are cancelled and it
// gets one request at a time.
func TestRequestTimeoutSnubs(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := newPipeNet()
		data := randomData(1<<20, 11)
		mi := makeTorrent(t, "snub.bin", data, 64<<10)
		s := newPipeSession(t, n, "10.0.0.1:6881", &Config{RequestQueueDepth: 8})
		defer s.Close()
		if _, err := s.AddTorrent(context.Background(), mi, nil); err != nil {
			t.Fatal(err)
		}
		p := dialRaw(t, n, "10.0.0.9", "10.0.0.1:6881", mi, rawID('f'), fastExt)
		p.next()
		p.next()
		p.send(peerwire.HaveAll{})
		p.next() // interested
		start := time.Now()
		p.send(peerwire.Unchoke{})
		// A new connection's pipeline starts at initialPipeline requests.
		requested := map[peerwire.Request]bool{}
		for len(requested) < initialPipeline {
			if m, ok := p.next().(*peerwire.Request); ok {
				requested[*m] = true
			} else {
				t.Fatalf("got %v, want requests", m)
			}
		}
		for cancelled := 0; cancelled < initialPipeline; cancelled++ {
			m, ok := p.next().(*peerwire.Cancel)
			if !ok || !requested[peerwire.Request(*m)] {
				t.Fatalf("got %v, want a cancel of one of the requests", m)
			}
		}
		if d := time.Since(start); d < DefaultRequestTimeout || d > DefaultRequestTimeout+2*time.Second {
			t.Errorf("cancelled after %v, want about %v", d, DefaultRequestTimeout)
		}
		m, ok := p.next().(*peerwire.Request)
		if !ok {
			t.Fatalf("got %v, want one request", m)
		}
		// Answering it lifts the snub: the pipeline refills, one deeper for
		// the block received (still in slow start: no rate was seen).
		off := int(m.Index)*64<<10 + int(m.Begin)
		p.send(peerwire.Piece{Index: m.Index, Begin: m.Begin, Block: data[off : off+int(m.Length)]})
		for range initialPipeline + 1 {
			if m, ok := p.next().(*peerwire.Request); !ok {
				t.Fatalf("got %v, want the pipeline refilled", m)
			}
		}
	})
}

// A slot freed between choker rounds goes to a waiting peer at once.
func TestFreedSlotGoesToWaitingPeer(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := newPipeNet()
		s, mi, _ := seederSetup(t, n, &Config{UploadSlots: 1})
		defer s.Close()
		a := dialRaw(t, n, "10.0.0.8", "10.0.0.1:6881", mi, rawID('g'), fastExt)
		a.next()
		a.next()
		b := dialRaw(t, n, "10.0.0.9", "10.0.0.1:6881", mi, rawID('h'), fastExt)
		b.next()
		b.next()
		a.send(peerwire.Interested{})
		if m, ok := a.next().(*peerwire.Unchoke); !ok {
			t.Fatalf("a: %v, want unchoke", m)
		}
		b.send(peerwire.Interested{})
		synctest.Wait()
		a.send(peerwire.NotInterested{})
		if m, ok := a.next().(*peerwire.Choke); !ok {
			t.Fatalf("a: %v, want choke", m)
		}
		start := time.Now()
		if m, ok := b.next().(*peerwire.Unchoke); !ok {
			t.Fatalf("b: %v, want unchoke", m)
		}
		if d := time.Since(start); d != 0 {
			t.Errorf("b waited %v for the free slot", d)
		}
	})
}

// With more interested peers than upload slots, the seeding choker rotates
// the slots so that every peer is unchoked in turn.
func TestChokerRotatesSlots(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := newPipeNet()
		s, mi, _ := seederSetup(t, n, &Config{UploadSlots: 2})
		var unchokes [4]atomic.Int32
		var wg sync.WaitGroup
		for i := range unchokes {
			p := dialRaw(t, n, fmt.Sprintf("10.0.0.%d", 10+i), "10.0.0.1:6881", mi, rawID(byte('j'+i)), fastExt)
			p.next()
			p.next()
			p.send(peerwire.Interested{})
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					m, err := p.fr.ReadMessage()
					if err != nil {
						return
					}
					if _, ok := m.(*peerwire.Unchoke); ok {
						unchokes[i].Add(1)
					}
				}
			}()
		}
		time.Sleep(2 * time.Minute)
		s.Close()
		wg.Wait()
		for i := range unchokes {
			if unchokes[i].Load() == 0 {
				t.Errorf("peer %d was never unchoked in 2 minutes", i)
			}
		}
	})
}

// An incoming handshake for a torrent the session does not have gets no
// reply; one port serves every torrent by info-hash.
func TestIncomingRoutedByInfoHash(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := newPipeNet()
		s, mi, _ := seederSetup(t, n, nil)
		defer s.Close()
		other := makeTorrent(t, "other.bin", randomData(50000, 41), 16<<10)
		d := pipeDialer{n: n, host: netip.MustParseAddr("10.0.0.9")}
		conn, err := d.DialContext(context.Background(), "tcp", "10.0.0.1:6881")
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		_, err = peerwire.Initiate(conn, peerwire.Handshake{Reserved: fastExt, InfoHash: other.InfoHash(), PeerID: rawID('u')}, [20]byte{})
		if err == nil {
			t.Fatal("handshake for an unknown torrent was answered")
		}
		// The same port answers for the torrent it has.
		p := dialRaw(t, n, "10.0.0.9", "10.0.0.1:6881", mi, rawID('v'), fastExt)
		if p.hs.InfoHash != mi.InfoHash() {
			t.Fatalf("answered for %x", p.hs.InfoHash)
		}
	})
}

// A fast-extension peer is granted its BEP 6 allowed fast set and served
// from it while choked; other requests are rejected.
func TestAllowedFastServedWhileChoked(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := newPipeNet()
		s, mi, data := seederSetup(t, n, nil)
		defer s.Close()
		p := dialRaw(t, n, "10.0.0.9", "10.0.0.1:6881", mi, rawID('w'), fastExt)
		p.next() // extended handshake
		if m, ok := p.next().(*peerwire.HaveAll); !ok {
			t.Fatalf("got %v, want have all", m)
		}
		want := peerwire.AllowedFastSet(allowedFastCount, mi.Info().NumPieces(), mi.InfoHash(), netip.MustParseAddr("10.0.0.9"))
		first := want[0]
		p.send(peerwire.Request{Index: first, Begin: 0, Length: 16384})
		m, ok := p.next().(*peerwire.Piece)
		if !ok || m.Index != first || m.Begin != 0 {
			t.Fatalf("got %v, want piece %d served while choked", m, first)
		}
		off := int(first) * 64 << 10
		if !bytes.Equal(m.Block, data[off:off+16384]) {
			t.Fatal("wrong data")
		}
		if !slices.Equal(p.allowed, want) {
			t.Fatalf("allowed fast %v, want %v", p.allowed, want)
		}
		other := uint32(0)
		for slices.Contains(want, other) {
			other++
		}
		p.send(peerwire.Request{Index: other, Begin: 0, Length: 16384})
		if r, ok := p.next().(*peerwire.Reject); !ok || r.Index != other {
			t.Fatalf("got %v, want reject of piece %d", r, other)
		}
	})
}
