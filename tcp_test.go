package bittern

import (
	"bytes"
	"context"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/bittern/bittern/internal/cputime"
	"github.com/bittern/bittern/metainfo"
	"github.com/bittern/bittern/storage"
)

// loopbackPair starts a seeder of data and returns it with the torrent.
func loopbackSeeder(t testing.TB, data []byte, pieceLen int) (*Session, *metainfo.MetaInfo) {
	return loopbackSeederEnc(t, data, pieceLen, EncryptionAccept)
}

// loopbackSeederEnc is loopbackSeeder with an encryption policy.
func loopbackSeederEnc(t testing.TB, data []byte, pieceLen int, enc Encryption) (*Session, *metainfo.MetaInfo) {
	t.Helper()
	mi := makeTorrent(t, "tcp.bin", data, pieceLen)
	st := &storage.Memory{}
	fill(t, st, mi, data)
	s, err := NewSession(&Config{ListenAddr: "127.0.0.1:0", Storage: st, Encryption: enc})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.AddTorrent(context.Background(), mi, nil); err != nil {
		s.Close()
		t.Fatal(err)
	}
	return s, mi
}

func addrOf(t testing.TB, s *Session) netip.AddrPort {
	t.Helper()
	ap, err := netip.ParseAddrPort(s.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	return ap
}

// The same transfer over real TCP sockets on loopback, where pieces go
// out with writev.
func TestLoopbackTCP(t *testing.T) {
	data := randomData(8<<20+3, 13)
	seeder, mi := loopbackSeeder(t, data, 256<<10)
	defer seeder.Close()
	if _, ok := seeder.Addr().(*net.TCPAddr); !ok {
		t.Fatalf("listening on %v, want TCP", seeder.Addr())
	}
	st := &storage.Memory{}
	leecher, err := NewSession(&Config{ListenAddr: "127.0.0.1:0", Storage: st})
	if err != nil {
		t.Fatal(err)
	}
	defer leecher.Close()
	lt, err := leecher.AddTorrent(context.Background(), mi, &TorrentOptions{Peers: []netip.AddrPort{addrOf(t, seeder)}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := lt.Wait(ctx); err != nil {
		t.Fatalf("wait: %v; %+v", err, lt.Stats())
	}
	leecher.Close()
	seeder.Close()
	if !bytes.Equal(contents(t, st, mi), data) {
		t.Fatal("data differs")
	}
	if s := seeder.Stats(); s.Uploaded < int64(len(data)) || s.Torrents != 1 {
		t.Fatalf("seeder stats %+v", s)
	}
}

// BenchmarkLoopbackTransfer measures one seeder → one leecher in this
// process over TCP on loopback: a 64 MiB torrent with 256 KiB pieces, the
// seeder's data in memory, the leecher's written to files (storage.Dir in
// a temporary directory), SHA-1 verified on arrival.
func BenchmarkLoopbackTransfer(b *testing.B) { benchLoopback(b, EncryptionAccept) }

// BenchmarkLoopbackTransferMSE is BenchmarkLoopbackTransfer with both
// sides requiring MSE (RC4 payload).
func BenchmarkLoopbackTransferMSE(b *testing.B) { benchLoopback(b, EncryptionRequired) }

func benchLoopback(b *testing.B, enc Encryption) {
	const size = 64 << 20
	data := randomData(size, 14)
	seeder, mi := loopbackSeederEnc(b, data, 256<<10, enc)
	defer seeder.Close()
	peers := []netip.AddrPort{addrOf(b, seeder)}
	benchLeech(b, mi, size, peers, func(dir string) *Config {
		return &Config{NoListen: true, Storage: &storage.Dir{Root: dir}, Encryption: enc}
	})
}

// benchLeech downloads mi (size bytes) from peers once per iteration with
// a fresh leecher configured by newCfg (its data under dir), and reports
// MiB/s and the CPU of both sides (one process) per GiB moved.
func benchLeech(b *testing.B, mi *metainfo.MetaInfo, size int64, peers []netip.AddrPort, newCfg func(dir string) *Config) {
	b.SetBytes(size)
	cpu0 := cputime.Process()
	for b.Loop() {
		leecher, err := NewSession(newCfg(b.TempDir()))
		if err != nil {
			b.Fatal(err)
		}
		lt, err := leecher.AddTorrent(context.Background(), mi, &TorrentOptions{Peers: peers})
		if err != nil {
			b.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		err = lt.Wait(ctx)
		cancel()
		leecher.Close()
		if err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(size)*float64(b.N)/(1<<20)/b.Elapsed().Seconds(), "MiB/s")
	b.ReportMetric((cputime.Process()-cpu0).Seconds()/(float64(size)*float64(b.N)/(1<<30)), "cpu-s/GiB")
}
