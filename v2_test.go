package bittern

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/bittern/bittern/metainfo"
	"github.com/bittern/bittern/peerwire"
	"github.com/bittern/bittern/storage"
)

// testFile is one file of a torrent built by buildTorrent.
type testFile struct {
	path string // slash-separated, relative to the torrent's directory
	data []byte
}

// buildTorrent writes files under a temporary directory and builds a
// torrent of them with metainfo.Builder: a single-file torrent when there
// is one file, else one of the directory "multi". It returns the torrent
// and its byte space, pad bytes as zeros.
func buildTorrent(t testing.TB, v metainfo.Version, pieceLen int64, files ...testFile) (*metainfo.MetaInfo, []byte) {
	t.Helper()
	root := filepath.Join(t.TempDir(), "multi")
	for _, f := range files {
		p := filepath.Join(root, filepath.FromSlash(f.path))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, f.data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	path := root
	if len(files) == 1 {
		path = filepath.Join(root, filepath.FromSlash(files[0].path))
	}
	b := metainfo.Builder{Version: v, PieceLength: pieceLen, NoCreationDate: true, Workers: 1}
	mi, err := b.Build(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	// Round-trip through the encoded form, as a peer would read it.
	var buf bytes.Buffer
	if err := mi.Write(&buf); err != nil {
		t.Fatal(err)
	}
	mi, err = metainfo.Parse(buf.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	byName := make(map[string][]byte)
	for _, f := range files {
		byName[f.path] = f.data
	}
	var space []byte
	for _, f := range mi.Info().Files {
		if f.Pad {
			space = append(space, make([]byte, f.Length)...)
			continue
		}
		d, ok := byName[filepath.ToSlash(filepath.Join(f.Path...))]
		if len(files) == 1 {
			d, ok = files[0].data, true
		}
		if !ok || int64(len(d)) != f.Length {
			t.Fatalf("file %q of the torrent is not one written", f.Path)
		}
		space = append(space, d...)
	}
	return mi, space
}

// v1View returns a copy of the hybrid torrent mi as a client that knows
// only BEP 3 sees it: the same v1 info-hash and SHA-1 pieces, no v2.
func v1View(t testing.TB, mi *metainfo.MetaInfo) *metainfo.MetaInfo {
	t.Helper()
	var buf bytes.Buffer
	if err := mi.Write(&buf); err != nil {
		t.Fatal(err)
	}
	v1, err := metainfo.Parse(buf.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	info := v1.Info()
	info.MetaVersion = 1
	for i := range info.Files {
		info.Files[i].PiecesRoot = metainfo.HashV2{}
	}
	return v1
}

// fillSpace writes data, the torrent's byte space, to st under the
// torrent's swarm hash (the one the session opens it with).
func fillSpace(t testing.TB, st storage.Storage, mi *metainfo.MetaInfo, data []byte) {
	t.Helper()
	tor, err := st.Open(context.Background(), mi.Info(), mi.SwarmHash())
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

// spaceOf reads the torrent's byte space back from st.
func spaceOf(t testing.TB, st storage.Storage, mi *metainfo.MetaInfo) []byte {
	t.Helper()
	tor, err := st.Open(context.Background(), mi.Info(), mi.SwarmHash())
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

// connHashes returns the info-hashes of the torrent's connections.
func connHashes(tor *Torrent) [][20]byte {
	ch := make(chan [][20]byte, 1)
	tor.inbox.post(func() {
		var hs [][20]byte
		for c := range tor.conns {
			hs = append(hs, c.ih)
		}
		ch <- hs
	})
	select {
	case hs := <-ch:
		return hs
	case <-tor.closed:
		return nil
	}
}

// v2Files is a multi-file layout with files smaller than a piece, one of
// exactly a piece, multi-piece files with short last pieces and an empty
// file, for pieces of 64 KiB.
func v2Files() []testFile {
	const pl = 64 << 10
	return []testFile{
		{"a/small.txt", randomData(1000, 1)},
		{"a/tiny.bin", randomData(17, 2)},
		{"b/big.bin", randomData(3*pl+5000, 3)},
		{"b/empty", nil},
		{"c/exact.bin", randomData(pl, 4)},
		{"c/two.bin", randomData(pl+pl/2, 5)},
		{"z.bin", randomData(20<<10, 6)},
	}
}

// seedAndLeech seeds mi (byte space data) at 10.0.0.1 and has count
// leechers download it; it checks their bytes and returns them.
func seedAndLeech(t *testing.T, mi *metainfo.MetaInfo, data []byte, count int) *leecherSet {
	t.Helper()
	n := newPipeNet()
	n.rate = 4 << 20
	st := &storage.Memory{}
	fillSpace(t, st, mi, data)
	seeder := newPipeSession(t, n, "10.0.0.1:6881", &Config{Storage: st})
	t.Cleanup(func() { seeder.Close() })
	seed, err := seeder.AddTorrent(context.Background(), mi, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !seed.Stats().Complete {
		t.Fatalf("seeder incomplete after its recheck: %+v", seed.Stats())
	}
	if seed.InfoHash() != mi.SwarmHash() {
		t.Fatalf("InfoHash = %v, want the swarm hash %v", seed.InfoHash(), mi.SwarmHash())
	}
	ls := startLeechers(t, n, mi, count)
	t.Cleanup(ls.close)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
	defer cancel()
	for i, tor := range ls.torrents {
		if err := tor.Wait(ctx); err != nil {
			t.Fatalf("leecher %d: %v; %+v", i, err, tor.Stats())
		}
		if s := tor.Stats(); s.HashFailures != 0 {
			t.Errorf("leecher %d: %d hash failures", i, s.HashFailures)
		}
	}
	for i, st := range ls.stores {
		if !bytes.Equal(spaceOf(t, st, mi), data) {
			t.Fatalf("leecher %d: data differs", i)
		}
	}
	return ls
}

func TestV2SingleFileSwarm(t *testing.T) {
	mi, data := buildTorrent(t, metainfo.V2, 64<<10, testFile{"one.bin", randomData(5*(64<<10)+12345, 7)})
	if mi.Info().IsV1() || !mi.Info().IsV2() {
		t.Fatal("not a v2-only torrent")
	}
	synctest.Test(t, func(t *testing.T) {
		seedAndLeech(t, mi, data, 3)
	})
}

func TestV2MultiFileSwarm(t *testing.T) {
	mi, data := buildTorrent(t, metainfo.V2, 64<<10, v2Files()...)
	synctest.Test(t, func(t *testing.T) {
		seedAndLeech(t, mi, data, 2)
	})
}

// A hybrid seeder serves a v1-only peer (v1 hash, no v2 bit, SHA-1) and a
// v2-aware peer that found it in the v2 swarm (dials with the truncated v2
// hash); both complete, and the seeder sees one connection per hash.
func TestHybridBothSwarms(t *testing.T) {
	mi, data := buildTorrent(t, metainfo.Hybrid, 64<<10, v2Files()...)
	if !mi.Info().IsHybrid() {
		t.Fatal("not a hybrid torrent")
	}
	old := v1View(t, mi)
	ih1, ih2 := mi.InfoHash(), mi.InfoHashV2().Truncate()
	synctest.Test(t, func(t *testing.T) {
		n := newPipeNet()
		n.rate = 4 << 20
		ctx := context.Background()
		st := &storage.Memory{}
		fillSpace(t, st, mi, data)
		seeder := newPipeSession(t, n, "10.0.0.1:6881", &Config{Storage: st})
		defer seeder.Close()
		seed, err := seeder.AddTorrent(ctx, mi, nil)
		if err != nil {
			t.Fatal(err)
		}
		if seeder.Torrent(ih2) != seed || seeder.Torrent(ih1) != seed || len(seeder.Torrents()) != 1 {
			t.Fatal("the hybrid torrent is not found by both hashes exactly once")
		}
		if _, err := seeder.AddTorrent(ctx, mi, nil); !errors.Is(err, ErrDuplicateTorrent) {
			t.Fatalf("second AddTorrent = %v, want ErrDuplicateTorrent", err)
		}
		seedAddr := netip.MustParseAddrPort("10.0.0.1:6881")

		v1Store := &storage.Memory{}
		v1s := newPipeSession(t, n, "10.0.1.1:6881", &Config{Storage: v1Store})
		defer v1s.Close()
		v1t, err := v1s.AddTorrent(ctx, old, &TorrentOptions{Peers: []netip.AddrPort{seedAddr}})
		if err != nil {
			t.Fatal(err)
		}
		if v1t.reserved().Has(peerwire.ReservedV2) || !v1t.ih2.IsZero() {
			t.Fatal("the v1 view still looks v2-aware")
		}

		v2Store := &storage.Memory{}
		v2s := newPipeSession(t, n, "10.0.1.2:6881", &Config{Storage: v2Store})
		defer v2s.Close()
		v2t, err := v2s.AddTorrent(ctx, mi, nil)
		if err != nil {
			t.Fatal(err)
		}
		v2t.addPeersFrom(ih2, seedAddr) // as if the tracker or DHT found it under the v2 hash

		// While they download (the connections between seeds close once
		// both are complete), the seeder holds one connection per hash.
		for len(connHashes(seed)) < 2 && !v1t.Stats().Complete && !v2t.Stats().Complete {
			time.Sleep(time.Millisecond)
		}
		hs := connHashes(seed)
		if !slices.Contains(hs, [20]byte(ih1)) || !slices.Contains(hs, [20]byte(ih2)) {
			t.Fatalf("seeder connections use hashes %x, want both %v and %v", hs, ih1, ih2)
		}
		if got := connHashes(v2t); !slices.Contains(got, [20]byte(ih2)) {
			t.Fatalf("the v2-aware peer's connections use %x, want %v", got, ih2)
		}
		wctx, cancel := context.WithTimeout(ctx, 30*time.Minute)
		defer cancel()
		for _, tor := range []*Torrent{v1t, v2t} {
			if err := tor.Wait(wctx); err != nil {
				t.Fatalf("%v; %+v", err, tor.Stats())
			}
		}
		if !bytes.Equal(spaceOf(t, v1Store, mi), data) || !bytes.Equal(spaceOf(t, v2Store, mi), data) {
			t.Fatal("data differs")
		}
		// Remove forgets both hashes: the torrent can be added again.
		seeder.Remove(seed)
		if seeder.Torrent(ih1) != nil || seeder.Torrent(ih2) != nil {
			t.Fatal("a removed hybrid torrent is still found")
		}
		if _, err := seeder.AddTorrent(ctx, mi, nil); err != nil {
			t.Fatalf("AddTorrent after Remove: %v", err)
		}
	})
}

// A v2 torrent resumes: pieces already stored are found by the merkle
// recheck (a whole small file, the pieces of a big one), the rest is
// downloaded, and a session added again after Close is complete at once
// from its completion record, without peers.
func TestV2Resume(t *testing.T) {
	const pl = 64 << 10
	mi, data := buildTorrent(t, metainfo.V2, pl, v2Files()...)
	info := mi.Info()
	synctest.Test(t, func(t *testing.T) {
		n := newPipeNet()
		ctx := context.Background()
		st := &storage.Memory{}
		// Store b/big.bin's first two pieces and a/small.txt; garble the
		// third piece of big.bin.
		var big, small *metainfo.File
		for i := range info.Files {
			switch filepath.ToSlash(filepath.Join(info.Files[i].Path...)) {
			case "b/big.bin":
				big = &info.Files[i]
			case "a/small.txt":
				small = &info.Files[i]
			}
		}
		part := make([]byte, len(data))
		copy(part[big.Offset:], data[big.Offset:big.Offset+3*pl])
		part[big.Offset+2*pl+7] ^= 1
		copy(part[small.Offset:], data[small.Offset:small.Offset+small.Length])
		fillSpace(t, st, mi, part)

		leech := newPipeSession(t, n, "10.0.1.1:6881", &Config{Storage: st})
		defer leech.Close()
		lt, err := leech.AddTorrent(ctx, mi, nil)
		if err != nil {
			t.Fatal(err)
		}
		want := make([]bool, info.NumPieces())
		want[big.Offset/pl], want[big.Offset/pl+1], want[small.Offset/pl] = true, true, true
		if got := havePieces(lt); !slices.Equal(got, want) {
			t.Fatalf("pieces after recheck %v, want %v", got, want)
		}

		seedStore := &storage.Memory{}
		fillSpace(t, seedStore, mi, data)
		seeder := newPipeSession(t, n, "10.0.0.1:6881", &Config{Storage: seedStore})
		defer seeder.Close()
		if _, err := seeder.AddTorrent(ctx, mi, nil); err != nil {
			t.Fatal(err)
		}
		lt.AddPeers(netip.MustParseAddrPort("10.0.0.1:6881"))
		wctx, cancel := context.WithTimeout(ctx, 10*time.Minute)
		defer cancel()
		if err := lt.Wait(wctx); err != nil {
			t.Fatalf("%v; %+v", err, lt.Stats())
		}
		if got := lt.Stats().Downloaded; got >= int64(len(data)) {
			t.Errorf("downloaded %d bytes of %d: the stored pieces were fetched again", got, len(data))
		}
		seeder.Close()
		leech.Close()
		if !bytes.Equal(spaceOf(t, st, mi), data) {
			t.Fatal("data differs")
		}

		again := newPipeSession(t, n, "10.0.1.1:6881", &Config{Storage: st})
		defer again.Close()
		at, err := again.AddTorrent(ctx, mi, nil)
		if err != nil {
			t.Fatal(err)
		}
		if s := at.Stats(); !s.Complete {
			t.Fatalf("resumed torrent incomplete: %+v", s)
		}
	})
}

// A peer serving corrupt data of a v2 torrent is caught by the merkle
// check and banned; the piece then completes from an honest peer.
func TestV2CorruptPeerBanned(t *testing.T) {
	const pl = 64 << 10
	mi, data := buildTorrent(t, metainfo.V2, pl, v2Files()...)
	synctest.Test(t, func(t *testing.T) {
		n := newPipeNet()
		n.rate = 8 << 20
		ctx := context.Background()
		mem := &storage.Memory{}
		fillSpace(t, mem, mi, data)
		var on atomic.Bool
		bad := int64(len(data)) - 10 // in the last file, a short piece
		liar := newPipeSession(t, n, "10.0.0.1:6881", &Config{Storage: lyingStorage{mem, bad, bad + 1, &on}})
		defer liar.Close()
		if _, err := liar.AddTorrent(ctx, mi, nil); err != nil {
			t.Fatal(err)
		}
		on.Store(true)

		leechStore := &storage.Memory{}
		leecher := newPipeSession(t, n, "10.0.0.2:6881", &Config{Storage: leechStore})
		defer leecher.Close()
		lt, err := leecher.AddTorrent(ctx, mi, &TorrentOptions{Peers: []netip.AddrPort{netip.MustParseAddrPort("10.0.0.1:6881")}})
		if err != nil {
			t.Fatal(err)
		}
		wctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
		defer cancel()
		if err := lt.Wait(wctx); !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("Wait = %v, want the deadline: the corrupt piece can never verify", err)
		}
		if st := lt.Stats(); st.Complete || st.HashFailures != 1 || st.BannedPeers != 1 || st.Peers != 0 {
			t.Fatalf("stats %+v: want one hash failure, the liar banned and gone", st)
		}

		honestStore := &storage.Memory{}
		fillSpace(t, honestStore, mi, data)
		honest := newPipeSession(t, n, "10.0.0.3:6881", &Config{Storage: honestStore})
		defer honest.Close()
		if _, err := honest.AddTorrent(ctx, mi, nil); err != nil {
			t.Fatal(err)
		}
		liar.Close()
		lt.AddPeers(netip.MustParseAddrPort("10.0.0.3:6881"))
		wctx2, cancel2 := context.WithTimeout(ctx, 10*time.Minute)
		defer cancel2()
		if err := lt.Wait(wctx2); err != nil {
			t.Fatalf("Wait = %v; %+v", err, lt.Stats())
		}
		leecher.Close()
		if !bytes.Equal(spaceOf(t, leechStore, mi), data) {
			t.Fatal("data differs")
		}
	})
}

// A v2-aware raw peer: the session answers the truncated v2 hash with the
// v2 bit, serves the tail pad of the last piece as zeros (libtorrent asks
// for it: it pads the last file of a v2 torrent to a whole piece too), and
// serves piece-layer and leaf hashes with their proof.
func TestV2WireTailPadAndHashRequest(t *testing.T) {
	const pl = 64 << 10
	mi, data := buildTorrent(t, metainfo.V2, pl, testFile{"one.bin", randomData(2*pl+20000, 8)})
	synctest.Test(t, func(t *testing.T) {
		n := newPipeNet()
		st := &storage.Memory{}
		fillSpace(t, st, mi, data)
		s := newPipeSession(t, n, "10.0.0.1:6881", &Config{Storage: st})
		defer s.Close()
		if _, err := s.AddTorrent(context.Background(), mi, nil); err != nil {
			t.Fatal(err)
		}
		d := pipeDialer{n: n, host: netip.MustParseAddr("10.0.0.9")}
		conn, err := d.DialContext(context.Background(), "tcp", "10.0.0.1:6881")
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		ours := peerwire.Handshake{Reserved: fastExt.Set(peerwire.ReservedV2), InfoHash: mi.SwarmHash(), PeerID: rawID('v')}
		hs, err := peerwire.Initiate(conn, ours, [20]byte{})
		if err != nil {
			t.Fatal(err)
		}
		if !hs.Reserved.Has(peerwire.ReservedV2) {
			t.Errorf("reply reserved %x lacks the v2 bit", hs.Reserved)
		}
		fr := peerwire.NewFramer(conn, conn)
		fr.SetPieceCount(mi.Info().NumPieces())
		p := &rawPeer{t: t, fr: fr, hs: hs, c: conn}
		if _, ok := p.next().(*peerwire.Extended); !ok {
			t.Fatal("first message is not the extended handshake")
		}
		if m, ok := p.next().(*peerwire.HaveAll); !ok {
			t.Fatalf("second message %v, want have all", m)
		}
		root := mi.Info().Files[0].PiecesRoot
		layer := mi.PieceLayers[root]
		pair := func(a, b []byte) []byte { s := sha256.Sum256(append(append([]byte(nil), a...), b...)); return s[:] }
		// Leaf hashes past the tree are refused.
		past := peerwire.HashRequest{PiecesRoot: root, BaseLayer: 0, Index: 0, Length: 32, ProofLayers: 0}
		p.send(past)
		if m, ok := p.next().(*peerwire.HashReject); !ok || peerwire.HashRequest(*m) != past {
			t.Fatalf("after a leaf hash request past the tree: %v, want its hash reject", m)
		}
		// The leaves of piece 2 (its last block is short, then one of
		// padding), read from the data, with the uncle on the piece level.
		leaves := peerwire.HashRequest{PiecesRoot: root, BaseLayer: 0, Index: 8, Length: 4, ProofLayers: 3}
		p.send(leaves)
		lm, ok := p.next().(*peerwire.Hashes)
		if !ok || lm.HashRequest != leaves || len(lm.Hashes) != 6*32 {
			t.Fatalf("after a leaf hash request: %v, want 4 hashes and 2 uncles", lm)
		}
		var wantLeaves []byte
		for _, b := range [][]byte{data[2*pl : 2*pl+16384], data[2*pl+16384:], nil, nil} {
			if b == nil {
				wantLeaves = append(wantLeaves, make([]byte, 32)...)
				continue
			}
			h := sha256.Sum256(b)
			wantLeaves = append(wantLeaves, h[:]...)
		}
		pad := metainfo.MerkleRoot(nil, pl/metainfo.BlockSize)
		if !bytes.Equal(lm.Hashes[:4*32], wantLeaves) || !bytes.Equal(lm.Hashes[4*32:5*32], pad[:]) ||
			!bytes.Equal(lm.Hashes[5*32:], pair(layer[:32], layer[32:64])) {
			t.Fatal("leaf hashes or their uncles differ")
		}
		// The whole piece layer (3 pieces, padded to 4) needs no proof.
		whole := peerwire.HashRequest{PiecesRoot: root, BaseLayer: 2, Index: 0, Length: 4, ProofLayers: 2}
		p.send(whole)
		m, ok := p.next().(*peerwire.Hashes)
		if !ok || m.HashRequest != whole || len(m.Hashes) != 4*32 || !bytes.Equal(m.Hashes[:3*32], layer) {
			t.Fatalf("after a piece layer request: %v, want its 4 hashes", m)
		}
		// Half of it, with the uncle that proves it against the root.
		half := peerwire.HashRequest{PiecesRoot: root, BaseLayer: 2, Index: 2, Length: 2, ProofLayers: 2}
		p.send(half)
		m, ok = p.next().(*peerwire.Hashes)
		if !ok || m.HashRequest != half || len(m.Hashes) != 3*32 || !bytes.Equal(m.Hashes[:32], layer[64:96]) {
			t.Fatalf("after a half layer request: %v, want 2 hashes and an uncle", m)
		}
		if got := pair(pair(layer[:32], layer[32:64]), pair(m.Hashes[:32], m.Hashes[32:64])); !bytes.Equal(got, root[:]) || !bytes.Equal(m.Hashes[64:], pair(layer[:32], layer[32:64])) {
			t.Fatal("the proof does not lead to the pieces root")
		}
		// Two leaves inside piece 0, with every uncle up to the root:
		// folding them must give the pieces root.
		two := peerwire.HashRequest{PiecesRoot: root, BaseLayer: 0, Index: 2, Length: 2, ProofLayers: 10}
		p.send(two)
		tm, ok := p.next().(*peerwire.Hashes)
		if !ok || tm.HashRequest != two || len(tm.Hashes) != 5*32 {
			t.Fatalf("after a two-leaf request: %v, want 2 hashes and 3 uncles", tm)
		}
		node, idx := pair(tm.Hashes[:32], tm.Hashes[32:64]), 1 // the pair's parent, at level 1
		for u := 2; u < 5; u++ {
			uncle := tm.Hashes[32*u : 32*u+32]
			if idx%2 == 0 {
				node = pair(node, uncle)
			} else {
				node = pair(uncle, node)
			}
			idx /= 2
		}
		if !bytes.Equal(node, root[:]) {
			t.Fatal("the two leaves and their uncles do not lead to the pieces root")
		}
		p.send(peerwire.Interested{})
		if m, ok := p.next().(*peerwire.Unchoke); !ok {
			t.Fatalf("after interested: %v, want unchoke", m)
		}
		p.send(peerwire.Request{Index: 2, Begin: 16384, Length: 16384})
		piece, ok := p.next().(*peerwire.Piece)
		if !ok || piece.Index != 2 || piece.Begin != 16384 {
			t.Fatalf("after request: %v, want piece 2/16384", piece)
		}
		want := append(append([]byte(nil), data[2*pl+16384:]...), make([]byte, 2*16384-20000)...)
		if !bytes.Equal(piece.Block, want) {
			t.Fatal("served block is not the data followed by zeros")
		}
	})
}

// A v2-only magnet link ("btmh"): the info dictionary comes over
// ut_metadata under the truncated hash, checked with SHA-256, the piece
// layers with hash requests, then the data. A hybrid torrent's btmh link
// needs no piece layers (SHA-1 verifies it).
func TestV2Magnet(t *testing.T) {
	v2mi, v2data := buildTorrent(t, metainfo.V2, 16<<10, v2Files()...) // 16 KiB pieces: layers of many hashes
	hymi, hydata := buildTorrent(t, metainfo.Hybrid, 64<<10, v2Files()...)
	for _, tc := range []struct {
		name string
		mi   *metainfo.MetaInfo
		data []byte
	}{{"v2", v2mi, v2data}, {"hybrid", hymi, hydata}} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				mi, data := tc.mi, tc.data
				n := newPipeNet()
				seedStore := &storage.Memory{}
				fillSpace(t, seedStore, mi, data)
				seeder := newPipeSession(t, n, "10.0.0.1:6881", &Config{Storage: seedStore})
				defer seeder.Close()
				if _, err := seeder.AddTorrent(context.Background(), mi, nil); err != nil {
					t.Fatal(err)
				}
				st := &storage.Memory{}
				leecher := newPipeSession(t, n, "10.0.1.1:6881", &Config{Storage: st})
				defer leecher.Close()
				ctx, cancel := context.WithTimeout(context.Background(), time.Hour)
				defer cancel()
				uri := "magnet:?xt=urn:btmh:1220" + mi.InfoHashV2().String() + "&x.pe=10.0.0.1:6881"
				tor, err := leecher.AddMagnet(ctx, uri, nil)
				if err != nil {
					t.Fatal(err)
				}
				got := tor.MetaInfo()
				if !bytes.Equal(got.InfoBytes, mi.InfoBytes) {
					t.Fatal("fetched metadata differs")
				}
				if tc.name == "v2" {
					if len(got.PieceLayers) != len(mi.PieceLayers) || len(got.PieceLayers) == 0 {
						t.Fatalf("%d piece layers, want %d", len(got.PieceLayers), len(mi.PieceLayers))
					}
					for root, l := range mi.PieceLayers {
						if !bytes.Equal(got.PieceLayers[root], l) {
							t.Fatalf("piece layer %v differs", root)
						}
					}
				}
				if err := tor.Wait(ctx); err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(spaceOf(t, st, mi), data) {
					t.Fatal("data differs")
				}
				if tc.name == "hybrid" {
					// Kept under the v1 hash, as AddTorrent of its .torrent
					// keeps it: adding the file later finds the data.
					if tor.InfoHash() != mi.InfoHash() {
						t.Errorf("hybrid from btmh: info-hash %v, want the v1 %v", tor.InfoHash(), mi.InfoHash())
					}
				}
				if _, err := leecher.AddMagnet(ctx, uri, nil); !errors.Is(err, ErrDuplicateTorrent) {
					t.Errorf("second AddMagnet = %v, want ErrDuplicateTorrent", err)
				}
			})
		})
	}
}

// A hybrid started from its btmh link without waiting (StartMagnet) keeps
// its data under its v1 hash, where AddTorrent of its .torrent finds it,
// and RemoveAndDelete deletes it from there.
func TestHybridStartMagnetStorageKey(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		mi, data := buildTorrent(t, metainfo.Hybrid, 64<<10, v2Files()...)
		n := newPipeNet()
		seedStore := &storage.Memory{}
		fillSpace(t, seedStore, mi, data)
		seeder := newPipeSession(t, n, "10.0.0.1:6881", &Config{Storage: seedStore})
		defer seeder.Close()
		if _, err := seeder.AddTorrent(context.Background(), mi, nil); err != nil {
			t.Fatal(err)
		}
		dir := t.TempDir()
		st := &storage.Dir{Root: dir}
		leecher := newPipeSession(t, n, "10.0.1.1:6881", &Config{Storage: st})
		defer leecher.Close()
		ctx, cancel := context.WithTimeout(context.Background(), time.Hour)
		defer cancel()
		tor, err := leecher.StartMagnet("magnet:?xt=urn:btmh:1220"+mi.InfoHashV2().String()+"&x.pe=10.0.0.1:6881", nil)
		if err != nil {
			t.Fatal(err)
		}
		if err := tor.WaitInfo(ctx); err != nil {
			t.Fatal(err)
		}
		if err := tor.Wait(ctx); err != nil {
			t.Fatal(err)
		}
		synctest.Wait() // the completion record is saved after Wait returns
		// spaceOf opens it under mi.SwarmHash(), the v1 hash.
		if !bytes.Equal(spaceOf(t, st, mi), data) {
			t.Fatal("data not found under the v1 hash")
		}
		resume := filepath.Join(dir, "."+mi.InfoHash().String()+".resume")
		if _, err := os.Stat(resume); err != nil {
			t.Errorf("completion record not under the v1 hash: %v", err)
		}
		if err := leecher.RemoveAndDelete(ctx, tor); err != nil {
			t.Fatal(err)
		}
		if _, err := os.Stat(resume); !os.IsNotExist(err) {
			t.Errorf("completion record left after RemoveAndDelete: %v", err)
		}
	})
}

// A v2 magnet whose peers cannot give the piece layers fails with an
// error saying so, rather than adding a torrent it cannot verify.
func TestV2MagnetNoPieceLayers(t *testing.T) {
	mi, data := buildTorrent(t, metainfo.V2, 16<<10, v2Files()...)
	synctest.Test(t, func(t *testing.T) {
		n := newPipeNet()
		// The seeder's copy lacks the layers (as if it got a magnet and
		// only the metadata): it rejects the hash requests.
		var buf bytes.Buffer
		if err := mi.Write(&buf); err != nil {
			t.Fatal(err)
		}
		bare, err := metainfo.Parse(buf.Bytes())
		if err != nil {
			t.Fatal(err)
		}
		seedStore := &storage.Memory{}
		fillSpace(t, seedStore, mi, data)
		seeder := newPipeSession(t, n, "10.0.0.1:6881", &Config{Storage: seedStore})
		defer seeder.Close()
		if _, err := seeder.AddTorrent(context.Background(), bare, nil); err != nil {
			t.Fatal(err)
		}
		bare.PieceLayers = nil // after AddTorrent checked them: hash requests now fail
		leecher := newPipeSession(t, n, "10.0.1.1:6881", &Config{Storage: &storage.Memory{}})
		defer leecher.Close()
		uri := "magnet:?xt=urn:btmh:1220" + mi.InfoHashV2().String() + "&x.pe=10.0.0.1:6881"
		if _, err := leecher.AddMagnet(context.Background(), uri, nil); !errors.Is(err, errNoPieceLayers) {
			t.Fatalf("AddMagnet = %v, want errNoPieceLayers", err)
		}
	})
}

// Incoming MSE connections find a v2-only torrent by its truncated hash
// and a hybrid torrent by either hash (the session's stream keys).
func TestV2EncryptedRouting(t *testing.T) {
	v2mi, v2data := buildTorrent(t, metainfo.V2, 64<<10, v2Files()...)
	hymi, hydata := buildTorrent(t, metainfo.Hybrid, 64<<10, v2Files()...)
	synctest.Test(t, func(t *testing.T) {
		n := newPipeNet()
		ctx := context.Background()
		cfg := func(st storage.Storage) *Config { return &Config{Storage: st, Encryption: EncryptionRequired} }
		seedStore := &storage.Memory{}
		fillSpace(t, seedStore, v2mi, v2data)
		fillSpace(t, seedStore, hymi, hydata)
		seeder := newPipeSession(t, n, "10.0.0.1:6881", cfg(seedStore))
		defer seeder.Close()
		for _, mi := range []*metainfo.MetaInfo{v2mi, hymi} {
			if _, err := seeder.AddTorrent(ctx, mi, nil); err != nil {
				t.Fatal(err)
			}
		}
		st := &storage.Memory{}
		leecher := newPipeSession(t, n, "10.0.1.1:6881", cfg(st))
		defer leecher.Close()
		seedAddr := netip.MustParseAddrPort("10.0.0.1:6881")
		a, err := leecher.AddTorrent(ctx, v2mi, &TorrentOptions{Peers: []netip.AddrPort{seedAddr}})
		if err != nil {
			t.Fatal(err)
		}
		b, err := leecher.AddTorrent(ctx, hymi, nil)
		if err != nil {
			t.Fatal(err)
		}
		b.addPeersFrom(hymi.InfoHashV2().Truncate(), seedAddr)
		wctx, cancel := context.WithTimeout(ctx, 30*time.Minute)
		defer cancel()
		for _, tor := range []*Torrent{a, b} {
			if err := tor.Wait(wctx); err != nil {
				t.Fatalf("%v; %+v", err, tor.Stats())
			}
			if s := tor.Stats(); s.Downloaded == 0 {
				t.Fatalf("nothing downloaded: %+v", s)
			}
		}
		if !bytes.Equal(spaceOf(t, st, v2mi), v2data) || !bytes.Equal(spaceOf(t, st, hymi), hydata) {
			t.Fatal("data differs")
		}
	})
}

// On disk (storage.Dir): a v2 torrent's files written by its creator are
// found complete by the recheck; a leecher's copy resumes from its
// completion record after a restart.
func TestV2DirRecheckAndResume(t *testing.T) {
	mi, data := buildTorrent(t, metainfo.V2, 64<<10, v2Files()...)
	// The creator's copy: the files under <src>/<name>.
	src := t.TempDir()
	for _, f := range v2Files() {
		p := filepath.Join(src, mi.Info().Name, filepath.FromSlash(f.path))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, f.data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	leechDir := t.TempDir()
	synctest.Test(t, func(t *testing.T) {
		n := newPipeNet()
		ctx := context.Background()
		seeder := newPipeSession(t, n, "10.0.0.1:6881", &Config{Storage: &storage.Dir{Root: src}})
		defer seeder.Close()
		seed, err := seeder.AddTorrent(ctx, mi, nil)
		if err != nil {
			t.Fatal(err)
		}
		if s := seed.Stats(); !s.Complete {
			t.Fatalf("the creator's files are not complete after the recheck: %+v", s)
		}
		leecher := newPipeSession(t, n, "10.0.1.1:6881", &Config{Storage: &storage.Dir{Root: leechDir}})
		lt, err := leecher.AddTorrent(ctx, mi, &TorrentOptions{Peers: []netip.AddrPort{netip.MustParseAddrPort("10.0.0.1:6881")}})
		if err != nil {
			t.Fatal(err)
		}
		wctx, cancel := context.WithTimeout(ctx, 10*time.Minute)
		defer cancel()
		if err := lt.Wait(wctx); err != nil {
			t.Fatalf("%v; %+v", err, lt.Stats())
		}
		leecher.Close()
		seeder.Close()
		for _, f := range v2Files() {
			if len(f.data) == 0 {
				continue // storage.Dir does not create empty files
			}
			got, err := os.ReadFile(filepath.Join(leechDir, mi.Info().Name, filepath.FromSlash(f.path)))
			if err != nil || !bytes.Equal(got, f.data) {
				t.Fatalf("%s: differs (%v)", f.path, err)
			}
		}
		again := newPipeSession(t, n, "10.0.1.1:6881", &Config{Storage: &storage.Dir{Root: leechDir}})
		defer again.Close()
		at, err := again.AddTorrent(ctx, mi, nil)
		if err != nil {
			t.Fatal(err)
		}
		if s := at.Stats(); !s.Complete || s.BytesHave != int64(len(data)) {
			t.Fatalf("resumed from disk: %+v", s)
		}
	})
}

// BenchmarkLoopbackTransferV2 is BenchmarkLoopbackTransfer for a v2-only
// torrent: the same 64 MiB, 256 KiB pieces, storage and transport, each
// piece checked against its merkle hash (read back from the leecher's
// files) instead of SHA-1 on arrival. Run both in one go to compare.
func BenchmarkLoopbackTransferV2(b *testing.B) {
	const size = 64 << 20
	mi, data := buildTorrent(b, metainfo.V2, 256<<10, testFile{"tcp.bin", randomData(size, 14)})
	st := &storage.Memory{}
	fillSpace(b, st, mi, data)
	seeder, err := NewSession(&Config{ListenAddr: "127.0.0.1:0", Storage: st})
	if err != nil {
		b.Fatal(err)
	}
	defer seeder.Close()
	if _, err := seeder.AddTorrent(context.Background(), mi, nil); err != nil {
		b.Fatal(err)
	}
	peers := []netip.AddrPort{addrOf(b, seeder)}
	benchLeech(b, mi, size, peers, func(dir string) *Config { return &Config{NoListen: true, Storage: &storage.Dir{Root: dir}} })
}

// File selection and streaming readers work on a v2 torrent: a skipped
// file is not fetched, a file read through its Reader arrives intact.
func TestV2FileSelectionAndReader(t *testing.T) {
	mi, data := buildTorrent(t, metainfo.V2, 64<<10, v2Files()...)
	synctest.Test(t, func(t *testing.T) {
		n := newPipeNet()
		n.rate = 4 << 20
		ctx := context.Background()
		seedStore := &storage.Memory{}
		fillSpace(t, seedStore, mi, data)
		seeder := newPipeSession(t, n, "10.0.0.1:6881", &Config{Storage: seedStore})
		defer seeder.Close()
		if _, err := seeder.AddTorrent(ctx, mi, nil); err != nil {
			t.Fatal(err)
		}
		info := mi.Info()
		prios := make([]Priority, len(info.Files))
		skip := -1
		for i, f := range info.Files {
			prios[i] = PriorityNormal
			if filepath.ToSlash(filepath.Join(f.Path...)) == "b/big.bin" {
				prios[i], skip = PrioritySkip, i
			}
		}
		leecher := newPipeSession(t, n, "10.0.1.1:6881", &Config{Storage: &storage.Memory{}})
		defer leecher.Close()
		lt, err := leecher.AddTorrent(ctx, mi, &TorrentOptions{FilePriorities: prios, Peers: []netip.AddrPort{netip.MustParseAddrPort("10.0.0.1:6881")}})
		if err != nil {
			t.Fatal(err)
		}
		var two *File
		for _, f := range lt.Files() {
			if strings.HasSuffix(f.Path(), "c/two.bin") {
				two = f
			}
		}
		got, err := io.ReadAll(two.NewReader())
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, data[two.Offset():two.Offset()+two.Length()]) {
			t.Fatal("c/two.bin read through its Reader differs")
		}
		wctx, cancel := context.WithTimeout(ctx, 10*time.Minute)
		defer cancel()
		if err := lt.Wait(wctx); err != nil {
			t.Fatalf("%v; %+v", err, lt.Stats())
		}
		big := info.Files[skip]
		if s := lt.Stats(); s.Downloaded >= int64(len(data))-big.Length+big.Length/2 {
			t.Fatalf("downloaded %d bytes: the skipped file (%d bytes) was fetched", s.Downloaded, big.Length)
		}
		if b := lt.Files()[skip].BytesCompleted(); b != 0 {
			t.Fatalf("the skipped file has %d bytes; pieces %v; file %+v", b, havePieces(lt), big)
		}
	})
}

// A peer that floods hash requests without reading the answers gets
// rejects once our queue for it is long, not an ever-growing queue of
// hashes; a request for more than 512 hashes is rejected.
func TestV2HashRequestFlood(t *testing.T) {
	const pl = 16 << 10 // the piece layer is the leaf layer: 40+ hashes
	mi, data := buildTorrent(t, metainfo.V2, pl, testFile{"flood.bin", randomData(40*pl+1, 9)})
	synctest.Test(t, func(t *testing.T) {
		n := newPipeNet()
		st := &storage.Memory{}
		fillSpace(t, st, mi, data)
		s := newPipeSession(t, n, "10.0.0.1:6881", &Config{Storage: st})
		defer s.Close()
		tor, err := s.AddTorrent(context.Background(), mi, nil)
		if err != nil {
			t.Fatal(err)
		}
		d := pipeDialer{n: n, host: netip.MustParseAddr("10.0.0.9")}
		conn, err := d.DialContext(context.Background(), "tcp", "10.0.0.1:6881")
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		ours := peerwire.Handshake{Reserved: fastExt.Set(peerwire.ReservedV2), InfoHash: mi.SwarmHash(), PeerID: rawID('f')}
		if _, err := peerwire.Initiate(conn, ours, [20]byte{}); err != nil {
			t.Fatal(err)
		}
		root := mi.Info().Files[0].PiecesRoot
		fr := peerwire.NewFramer(conn, conn)
		big := peerwire.HashRequest{PiecesRoot: root, BaseLayer: 0, Index: 0, Length: 1024}
		req := peerwire.HashRequest{PiecesRoot: root, BaseLayer: 0, Index: 0, Length: 64, ProofLayers: 6}
		if err := fr.WriteMessage(big); err != nil {
			t.Fatal(err)
		}
		for range 2000 { // net.Pipe: each write waits for the session's reader
			if err := fr.WriteMessage(req); err != nil {
				t.Fatal(err)
			}
		}
		ch := make(chan *peerConn, 1)
		tor.inbox.post(func() {
			for pc := range tor.conns {
				ch <- pc
			}
		})
		c := <-ch
		if q := c.queueLen(); q > maxQueuedForHashes+2000 || q == 0 {
			t.Fatalf("queue of %d items", q)
		}
		var hashes, rejects int
		c.mu.Lock()
		for _, it := range c.queue {
			if len(it.msg) > 5 && peerwire.ID(it.msg[4]) == peerwire.IDHashes {
				hashes++
			} else if len(it.msg) > 5 && peerwire.ID(it.msg[4]) == peerwire.IDHashReject {
				rejects++
			}
		}
		c.mu.Unlock()
		if hashes > maxQueuedForHashes || rejects == 0 {
			t.Fatalf("%d hashes and %d rejects queued: want the hashes bounded", hashes, rejects)
		}
		// Reading drains it: the first answer is the reject of the long request.
		var m peerwire.Message
		for err == nil {
			m, err = fr.ReadMessage()
			if _, ok := m.(*peerwire.HashReject); ok {
				break
			}
			if _, ok := m.(*peerwire.Hashes); ok {
				break
			}
		}
		if r, ok := m.(*peerwire.HashReject); !ok || peerwire.HashRequest(*r) != big {
			t.Fatalf("first answer %v (%v), want the reject of the 1024-hash request", m, err)
		}
	})
}

// Every piece of a v2 torrent is verified from the hashes of its blocks
// as written, in any order, padding included; a changed byte fails it.
func TestV2LeafSums(t *testing.T) {
	for _, pl := range []int64{16 << 10, 64 << 10} {
		mi, data := buildTorrent(t, metainfo.V2, pl, v2Files()...)
		s, err := NewSession(&Config{NoListen: true, Storage: &storage.Memory{}})
		if err != nil {
			t.Fatal(err)
		}
		tor, err := s.AddTorrent(context.Background(), mi, nil)
		if err != nil {
			t.Fatal(err)
		}
		for p := range mi.Info().NumPieces() {
			piece := data[int64(p)*pl : int64(p)*pl+mi.Info().PieceSize(p)]
			for _, bad := range []bool{false, true} {
				ls := tor.newLeafSums(p)
				if ls == nil {
					t.Fatalf("piece length %d: piece %d would be read back", pl, p)
				}
				for b := (len(piece) - 1) / metainfo.BlockSize; b >= 0; b-- {
					blk := append([]byte(nil), piece[b*metainfo.BlockSize:min(len(piece), (b+1)*metainfo.BlockSize)]...)
					if bad && b == 0 {
						blk[0] ^= 1
					}
					if done, _ := ls.verdict(); done && b > 0 {
						t.Fatalf("piece %d: done before its last block", p)
					}
					ls.add(int64(b*metainfo.BlockSize), blk)
				}
				if done, match := ls.verdict(); !done || match == bad {
					t.Fatalf("piece length %d, piece %d (corrupt %v): done %v, match %v", pl, p, bad, done, match)
				}
			}
		}
		s.Close()
	}
}

// The start-up recheck of a v2 torrent skips hashing pieces that read as
// zeros unless zeros are their data: files of zeros are found complete,
// the rest of an empty download is not.
func TestV2RecheckZeros(t *testing.T) {
	const pl = 64 << 10
	files := append(v2Files(), testFile{"zeros/big.bin", make([]byte, 3*pl+100)}, testFile{"zeros/small.bin", make([]byte, 5000)})
	mi, data := buildTorrent(t, metainfo.V2, pl, files...)
	for _, full := range []bool{true, false} {
		st := &storage.Memory{}
		if full {
			fillSpace(t, st, mi, data)
		}
		s, err := NewSession(&Config{NoListen: true, Storage: st})
		if err != nil {
			t.Fatal(err)
		}
		tor, err := s.AddTorrent(context.Background(), mi, nil)
		if err != nil {
			t.Fatal(err)
		}
		have := havePieces(tor)
		s.Close()
		for p, ok := range have {
			off := int64(p) * pl
			zero := bytes.Equal(data[off:off+mi.Info().PieceSize(p)], make([]byte, mi.Info().PieceSize(p)))
			if ok != (full || zero) {
				t.Fatalf("full %v: piece %d verified %v (zeros %v)", full, p, ok, zero)
			}
		}
	}
}

// StartMagnet takes v2 links too: the piece layers are fetched in the
// background with the metadata; a hybrid torrent started from its v2
// link is then reached by its v1 hash as well.
func TestV2StartMagnet(t *testing.T) {
	v2mi, v2data := buildTorrent(t, metainfo.V2, 16<<10, v2Files()...)
	hymi, hydata := buildTorrent(t, metainfo.Hybrid, 64<<10, v2Files()...)
	for _, tc := range []struct {
		name string
		mi   *metainfo.MetaInfo
		data []byte
	}{{"v2", v2mi, v2data}, {"hybrid", hymi, hydata}} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				mi, data := tc.mi, tc.data
				n := newPipeNet()
				seedStore := &storage.Memory{}
				fillSpace(t, seedStore, mi, data)
				seeder := newPipeSession(t, n, "10.0.0.1:6881", &Config{Storage: seedStore})
				defer seeder.Close()
				if _, err := seeder.AddTorrent(context.Background(), mi, nil); err != nil {
					t.Fatal(err)
				}
				st := &storage.Memory{}
				leecher := newPipeSession(t, n, "10.0.1.1:6881", &Config{Storage: st})
				defer leecher.Close()
				ctx, cancel := context.WithTimeout(context.Background(), time.Hour)
				defer cancel()
				ih2 := mi.InfoHashV2().Truncate()
				tor, err := leecher.StartMagnet("magnet:?xt=urn:btmh:1220"+mi.InfoHashV2().String()+"&x.pe=10.0.0.1:6881", nil)
				if err != nil {
					t.Fatal(err)
				}
				if err := tor.WaitInfo(ctx); err != nil {
					t.Fatal(err)
				}
				if err := tor.Wait(ctx); err != nil {
					t.Fatal(err)
				}
				if leecher.Torrent(ih2) != tor {
					t.Fatal("not found by its truncated v2 hash")
				}
				if tc.name == "hybrid" && leecher.Torrent(mi.InfoHash()) != tor {
					t.Fatal("the hybrid torrent is not found by its v1 hash")
				}
				leecher.Close()
				tr, err := st.Open(context.Background(), mi.Info(), mi.SwarmHash()) // as AddTorrent stores it: a hybrid under its v1 hash
				if err != nil {
					t.Fatal(err)
				}
				got := make([]byte, len(data))
				tr.ReadAt(got, 0)
				tr.Close()
				if !bytes.Equal(got, data) {
					t.Fatal("data differs")
				}
			})
		})
	}
}
