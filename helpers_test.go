package bittern

import (
	"context"
	"crypto/sha1"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/bittern/bittern/bencode"
	"github.com/bittern/bittern/metainfo"
	"github.com/bittern/bittern/storage"
)

// pipeNet is an in-memory stream network for tests: listeners bound to
// addresses, dialers that connect to them with net.Pipe. It runs inside a
// synctest bubble.
type pipeNet struct {
	mu        sync.Mutex
	listeners map[string]*pipeListener
	nextPort  int
	// rate, if not zero, limits each connection's writes to rate bytes
	// per second of virtual time, so that transfers take time.
	rate int
}

func newPipeNet() *pipeNet {
	return &pipeNet{listeners: make(map[string]*pipeListener), nextPort: 40000}
}

var errRefused = errors.New("pipenet: connection refused")

type pipeListener struct {
	n      *pipeNet
	addr   *net.TCPAddr
	conns  chan net.Conn
	done   chan struct{}
	closed sync.Once
}

func (n *pipeNet) listen(addr string) *pipeListener {
	ap := netip.MustParseAddrPort(addr)
	l := &pipeListener{n: n, addr: net.TCPAddrFromAddrPort(ap), conns: make(chan net.Conn), done: make(chan struct{})}
	n.mu.Lock()
	n.listeners[addr] = l
	n.mu.Unlock()
	return l
}

func (l *pipeListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.done:
		return nil, net.ErrClosed
	}
}

func (l *pipeListener) Close() error {
	l.closed.Do(func() {
		close(l.done)
		l.n.mu.Lock()
		delete(l.n.listeners, l.addr.String())
		l.n.mu.Unlock()
	})
	return nil
}

func (l *pipeListener) Addr() net.Addr { return l.addr }

// pipeDialer dials from one host of a pipeNet.
type pipeDialer struct {
	n    *pipeNet
	host netip.Addr
}

func (d pipeDialer) DialContext(ctx context.Context, network, address string) (net.Conn, error) {
	d.n.mu.Lock()
	l := d.n.listeners[address]
	d.n.nextPort++
	local := net.TCPAddrFromAddrPort(netip.AddrPortFrom(d.host, uint16(d.n.nextPort)))
	d.n.mu.Unlock()
	if l == nil {
		return nil, fmt.Errorf("dial %s: %w", address, errRefused)
	}
	a, b := net.Pipe()
	select {
	case l.conns <- &addrConn{Conn: b, local: l.addr, remote: local, rate: d.n.rate}:
		return &addrConn{Conn: a, local: local, remote: l.addr, rate: d.n.rate}, nil
	case <-l.done:
		return nil, fmt.Errorf("dial %s: %w", address, errRefused)
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

type addrConn struct {
	net.Conn
	local, remote net.Addr
	rate          int
}

func (c *addrConn) Write(p []byte) (int, error) {
	if c.rate > 0 {
		time.Sleep(time.Duration(len(p)) * time.Second / time.Duration(c.rate))
	}
	return c.Conn.Write(p)
}

func (c *addrConn) LocalAddr() net.Addr  { return c.local }
func (c *addrConn) RemoteAddr() net.Addr { return c.remote }

// newPipeSession starts a session listening at addr on n.
func newPipeSession(t testing.TB, n *pipeNet, addr string, cfg *Config) *Session {
	t.Helper()
	var c Config
	if cfg != nil {
		c = *cfg
	}
	ap := netip.MustParseAddrPort(addr)
	c.Listener = n.listen(addr)
	c.Dialer = pipeDialer{n: n, host: ap.Addr()}
	if c.Storage == nil {
		c.Storage = &storage.Memory{}
	}
	s, err := NewSession(&c)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// randomData returns n reproducible pseudo-random bytes.
func randomData(n int, seed uint64) []byte {
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	b := make([]byte, n)
	for i := 0; i < n; i += 8 {
		v := r.Uint64()
		for j := 0; j < 8 && i+j < n; j++ {
			b[i+j] = byte(v >> (8 * j))
		}
	}
	return b
}

// makeTorrent builds a single-file v1 torrent of data.
func makeTorrent(t testing.TB, name string, data []byte, pieceLen int) *metainfo.MetaInfo {
	t.Helper()
	var pieces []byte
	for off := 0; off < len(data); off += pieceLen {
		sum := sha1.Sum(data[off:min(off+pieceLen, len(data))])
		pieces = append(pieces, sum[:]...)
	}
	info := map[string]any{"name": name, "piece length": pieceLen, "pieces": pieces, "length": len(data)}
	ib, err := bencode.Marshal(info)
	if err != nil {
		t.Fatal(err)
	}
	tb, err := bencode.Marshal(map[string]any{"info": bencode.RawMessage(ib)})
	if err != nil {
		t.Fatal(err)
	}
	mi, err := metainfo.Parse(tb)
	if err != nil {
		t.Fatal(err)
	}
	return mi
}

// fill writes data into st's copy of the torrent.
func fill(t testing.TB, st storage.Storage, mi *metainfo.MetaInfo, data []byte) {
	t.Helper()
	tor, err := st.Open(context.Background(), mi.Info(), mi.InfoHash())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tor.WriteAt(data, 0); err != nil {
		t.Fatal(err)
	}
	if err := tor.Close(); err != nil {
		t.Fatal(err)
	}
}

// contents reads the torrent's bytes back from st.
func contents(t testing.TB, st storage.Storage, mi *metainfo.MetaInfo) []byte {
	t.Helper()
	tor, err := st.Open(context.Background(), mi.Info(), mi.InfoHash())
	if err != nil {
		t.Fatal(err)
	}
	defer tor.Close()
	b := make([]byte, mi.Info().TotalLength())
	if n, err := tor.ReadAt(b, 0); n != len(b) {
		t.Fatalf("read %d of %d bytes: %v", n, len(b), err)
	}
	return b
}
