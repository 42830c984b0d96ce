package bittern

import (
	"context"
	"testing"
	"testing/synctest"

	"github.com/bittern/bittern/bencode"
	"github.com/bittern/bittern/peerwire"
	"github.com/bittern/bittern/storage"
)

// extUploadOnly parses an extended handshake message's upload_only.
func extUploadOnly(t *testing.T, m peerwire.Message) int {
	t.Helper()
	ext, ok := m.(*peerwire.Extended)
	if !ok || ext.ExtendedID != 0 {
		t.Fatalf("got %v, want an extended handshake", m)
	}
	var h extHandshake
	if err := bencode.Unmarshal(ext.Payload, &h); err != nil {
		t.Fatal(err)
	}
	return h.UploadOnly
}

// A seed says upload_only, and hangs up on a peer that says it too: neither
// wants anything from the other (BEP 21).
func TestUploadOnlyBothSeedsHangUp(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := newPipeNet()
		s, mi, _ := seederSetup(t, n, nil)
		defer s.Close()
		p := dialRaw(t, n, "10.0.0.9", "10.0.0.1:6881", mi, rawID('u'), fastExt)
		if got := extUploadOnly(t, p.next()); got != 1 {
			t.Fatalf("seed's upload_only = %d, want 1", got)
		}
		p.next() // have all
		payload, _ := bencode.Marshal(map[string]any{"m": map[string]int{}, "upload_only": 1})
		p.send(&peerwire.Extended{ExtendedID: 0, Payload: payload})
		p.expectClosed()
	})
}

// A partial seed: once the selected file is complete, the session tells
// its peers upload_only: 1 in a new extended handshake, and hangs up on the
// seed it downloaded from.
func TestUploadOnlyPartialSeed(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := newPipeNet()
		const pieceLen = 32 << 10
		mi, data := makeMultiTorrent(t, []int{4 * pieceLen, 4 * pieceLen}, pieceLen, 21)
		l := newPipeSession(t, n, "10.0.0.1:6881", &Config{Storage: &storage.Memory{}})
		defer l.Close()
		if _, err := l.AddTorrent(context.Background(), mi, &TorrentOptions{FilePriorities: []Priority{PriorityNormal, PrioritySkip}}); err != nil {
			t.Fatal(err)
		}
		p := dialRaw(t, n, "10.0.0.9", "10.0.0.1:6881", mi, rawID('v'), fastExt)
		if got := extUploadOnly(t, p.next()); got != 0 {
			t.Fatalf("leecher's upload_only = %d, want 0", got)
		}
		p.send(peerwire.HaveAll{})
		for {
			switch m := p.next().(type) {
			case *peerwire.Interested:
				p.send(peerwire.Unchoke{})
			case *peerwire.Request:
				off := int(m.Index)*pieceLen + int(m.Begin)
				p.send(peerwire.Piece{Index: m.Index, Begin: m.Begin, Block: data[off : off+int(m.Length)]})
			case *peerwire.Extended:
				if got := extUploadOnly(t, m); got != 1 {
					t.Fatalf("new upload_only = %d, want 1", got)
				}
				p.expectClosed()
				return
			}
		}
	})
}
