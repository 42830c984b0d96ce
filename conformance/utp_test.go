//go:build interop

package conformance

import (
	"bytes"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/bittern/bittern/peerwire"
	"github.com/bittern/bittern/utp"
)

// TestUTPDownloadFromLibtorrent: we dial a libtorrent seeder over uTP (its
// TCP is off), shake hands with the peerwire package and download the
// whole torrent, every block checked against the file.
func TestUTPDownloadFromLibtorrent(t *testing.T) {
	const size = 8 << 20
	lt := startUTPPeer(t, "seed", size, 0)
	s := newUTPSocket(t)
	conn, err := s.Dial(boundedContext(t, 20*time.Second), fmt.Sprintf("127.0.0.1:%d", lt.port))
	pwMust(t, err)
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(60 * time.Second))
	ours := peerwire.Handshake{Reserved: peerwire.DefaultReserved, InfoHash: lt.infoHash, PeerID: peerwire.NewPeerID(peerwire.PeerIDPrefix)}
	theirs, err := peerwire.Initiate(conn, ours, [20]byte{})
	pwMust(t, err)
	if name := peerwire.ClientName(theirs.PeerID); !strings.HasPrefix(name, "libtorrent") {
		t.Errorf("peer is %q", name)
	}
	f := peerwire.NewFramer(conn, conn)
	f.SetExtensions(ours.Reserved.Intersect(theirs.Reserved))
	f.SetPieceCount(lt.numPieces)
	f.SetPieceLength(utpPieceLen, size)
	pwMust(t, f.WriteHaveNone())
	pwMust(t, f.WriteInterested())

	type block struct{ index, begin, length uint32 }
	var queue []block
	for off := 0; off < size; off += peerwire.BlockSize {
		queue = append(queue, block{uint32(off / utpPieceLen), uint32(off % utpPieceLen), uint32(min(peerwire.BlockSize, size-off))})
	}
	total := len(queue)
	got, outstanding := 0, 0
	unchoked := false
	start := time.Now()
	for got < total {
		for unchoked && outstanding < 64 && len(queue) > 0 {
			b := queue[0]
			queue = queue[1:]
			pwMust(t, f.WriteRequest(b.index, b.begin, b.length))
			outstanding++
		}
		m, err := f.ReadMessage()
		if err != nil {
			t.Fatalf("reading from libtorrent after %d of %d blocks: %v", got, total, err)
		}
		switch m := m.(type) {
		case *peerwire.Unchoke:
			unchoked = true
		case *peerwire.Choke:
			t.Fatal("libtorrent choked us")
		case *peerwire.Piece:
			off := int(m.Index)*utpPieceLen + int(m.Begin)
			if off+len(m.Block) > size || !bytes.Equal(m.Block, lt.data[off:off+len(m.Block)]) {
				t.Fatalf("block %d+%d differs from the file", m.Index, m.Begin)
			}
			peerwire.PutBlock(m.Block)
			got++
			outstanding--
		case *peerwire.Reject:
			t.Fatalf("libtorrent rejected %v", m)
		}
	}
	d := time.Since(start)
	t.Logf("downloaded %d MiB from libtorrent over uTP in %v (%.1f MiB/s); socket %+v", size>>20, d.Round(time.Millisecond), float64(size)/(1<<20)/d.Seconds(), s.Stats())
}

// TestUTPSeedToLibtorrent: libtorrent (TCP off) connects to us over uTP
// (we are its only peer, added with connect_peer), we serve the torrent as
// a minimal seeder with the peerwire package, and it completes, checking
// every piece hash; the file it wrote equals ours.
func TestUTPSeedToLibtorrent(t *testing.T) {
	const size = 8 << 20
	s := newUTPSocket(t)
	port := s.Addr().(interface{ AddrPort() netip.AddrPort }).AddrPort().Port()
	lt := startUTPPeer(t, "leech", size, int(port))
	type accepted struct {
		c   *utp.Conn
		err error
	}
	ch := make(chan accepted, 1)
	go func() {
		c, err := s.Accept()
		ch <- accepted{c, err}
	}()
	var a accepted
	select {
	case a = <-ch:
	case <-time.After(30 * time.Second):
		t.Fatalf("libtorrent did not connect within 30s")
	}
	pwMust(t, a.err)
	conn := a.c
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(60 * time.Second))
	theirs, err := peerwire.Answer(conn, func(h peerwire.Handshake) (peerwire.Handshake, bool) {
		return peerwire.Handshake{Reserved: peerwire.DefaultReserved, InfoHash: h.InfoHash, PeerID: peerwire.NewPeerID(peerwire.PeerIDPrefix)}, h.InfoHash == lt.infoHash
	})
	pwMust(t, err)
	f := peerwire.NewFramer(conn, conn)
	f.SetExtensions(peerwire.DefaultReserved.Intersect(theirs.Reserved))
	f.SetPieceCount(lt.numPieces)
	f.SetPieceLength(utpPieceLen, size)
	bits := make([]byte, (lt.numPieces+7)/8)
	for i := range lt.numPieces {
		bits[i/8] |= 0x80 >> (i % 8)
	}
	pwMust(t, f.WriteBitfield(bits))
	pwMust(t, f.WriteUnchoke())
	start := time.Now()
	served := 0
	for !strings.Contains(lt.proc.Log(), "DONE") {
		m, err := f.ReadMessage()
		if err != nil {
			// libtorrent leaves a seed once it is one itself.
			waitFor(t, 10*time.Second, "libtorrent to finish", func() bool { return strings.Contains(lt.proc.Log(), "DONE") })
			break
		}
		if r, ok := m.(*peerwire.Request); ok {
			off := int(r.Index)*utpPieceLen + int(r.Begin)
			pwMust(t, f.WritePiece(r.Index, r.Begin, lt.data[off:off+int(r.Length)]))
			served += int(r.Length)
		}
	}
	d := time.Since(start)
	t.Logf("served %d MiB to libtorrent over uTP in %v (%.1f MiB/s); socket %+v", served>>20, d.Round(time.Millisecond), float64(served)/(1<<20)/d.Seconds(), s.Stats())
	var written []byte
	waitFor(t, 10*time.Second, "libtorrent's file", func() bool {
		written, _ = os.ReadFile(filepath.Join(lt.dir, "out", "data.bin"))
		return bytes.Equal(written, lt.data)
	})
}
