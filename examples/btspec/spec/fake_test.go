package spec

import (
	"context"
	"errors"
	"net"
	"regexp"
	"sync"
	"testing"
	"time"

	"github.com/bittern/bittern/metainfo"
	"github.com/bittern/bittern/peerwire"
)

// badPeer is a peer that breaks the protocol on purpose: it answers any
// info-hash, unchokes everyone at once, serves zeros of any length and
// never closes a connection.
type badPeer struct {
	ln     net.Listener
	pieces int
	wg     sync.WaitGroup
	mu     sync.Mutex
	conns  []net.Conn
}

func startBadPeer(t *testing.T, pieces int) *badPeer {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &badPeer{ln: ln, pieces: pieces}
	p.wg.Add(1)
	go p.accept()
	t.Cleanup(p.close)
	return p
}

func (p *badPeer) accept() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		p.conns = append(p.conns, c)
		p.mu.Unlock()
		p.wg.Add(1)
		go p.serve(c)
	}
}

func (p *badPeer) serve(c net.Conn) {
	defer p.wg.Done()
	theirs, err := peerwire.Answer(c, func(h peerwire.Handshake) (peerwire.Handshake, bool) {
		return peerwire.Handshake{Reserved: peerwire.DefaultReserved, InfoHash: h.InfoHash, PeerID: peerwire.NewPeerID("-XX0001-")}, true
	})
	if err != nil {
		return
	}
	f := peerwire.NewFramer(c, c)
	f.SetExtensions(peerwire.DefaultReserved.Intersect(theirs.Reserved))
	bits := make([]byte, peerwire.BitfieldLength(p.pieces))
	for i := range p.pieces {
		bits[i/8] |= 0x80 >> (i % 8)
	}
	if f.WriteBitfield(bits) != nil || f.WriteUnchoke() != nil {
		return
	}
	for {
		m, err := f.ReadMessage()
		var pe *peerwire.ProtocolError
		if errors.As(err, &pe) {
			continue // a bad peer reads on regardless
		}
		if err != nil {
			return
		}
		if r, ok := m.(*peerwire.Request); ok {
			if f.WritePiece(r.Index, r.Begin, make([]byte, r.Length)) != nil {
				return
			}
		}
	}
}

func (p *badPeer) close() {
	p.ln.Close()
	p.mu.Lock()
	for _, c := range p.conns {
		c.Close()
	}
	p.mu.Unlock()
	p.wg.Wait()
}

// TestBadPeerFails checks that the cases catch a peer that breaks them.
func TestBadPeerFails(t *testing.T) {
	target := seed(t, metainfo.V1, 10*32<<10+5000) // only for its metainfo
	p := startBadPeer(t, target.MetaInfo.Info().NumPieces())
	target.Addr = p.ln.Addr().String()
	target.Timeout = 2 * time.Second
	target.Quiet = 300 * time.Millisecond
	rep, err := Run(context.Background(), target, regexp.MustCompile(`^(1\.2|3\.1|3\.3|3\.4|7\.1|7\.6)$`))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]Result{"1.2": Fail, "3.1": Fail, "3.3": NotApplicable, "3.4": Fail, "7.1": Fail, "7.6": Fail}
	if len(rep.Cases) != len(want) {
		t.Fatalf("ran %d cases, want %d", len(rep.Cases), len(want))
	}
	for _, c := range rep.Cases {
		if c.Result != want[c.ID] {
			t.Errorf("case %s: %s (%s), want %s", c.ID, c.Result, c.Detail, want[c.ID])
		}
	}
	if got := len(rep.Failed()); got != 5 {
		t.Errorf("Failed() has %d cases, want 5", got)
	}
}

// TestRunNoTorrent checks the setup error.
func TestRunNoTorrent(t *testing.T) {
	if _, err := Run(context.Background(), &Target{Addr: "127.0.0.1:1"}, nil); !errors.Is(err, ErrNoInfo) {
		t.Fatalf("err %v, want ErrNoInfo", err)
	}
}

// TestRunCanceled checks that a canceled context stops the run.
func TestRunCanceled(t *testing.T) {
	target := seed(t, metainfo.V1, 3*32<<10)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	rep, err := Run(ctx, target, nil)
	if !errors.Is(err, context.Canceled) || len(rep.Cases) != 0 {
		t.Fatalf("Run on a canceled context: %v, %d cases", err, len(rep.Cases))
	}
}
