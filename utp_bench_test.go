package bittern

import (
	"context"
	"net/netip"
	"testing"
	"time"

	"github.com/bittern/bittern/internal/cputime"
	"github.com/bittern/bittern/storage"
)

// BenchmarkLoopbackTransferUTP is BenchmarkLoopbackTransfer over uTP:
// one seeder → one leecher in this process on loopback UDP (TCP dials
// refused), 64 MiB in 256 KiB pieces, the leecher writing files. Run it
// beside BenchmarkLoopbackTransfer for the TCP baseline:
//
//	go test -run '^$' -bench 'LoopbackTransfer(UTP)?$' -benchtime 3x .
func BenchmarkLoopbackTransferUTP(b *testing.B) { benchUTP(b, EncryptionAccept) }

// BenchmarkLoopbackTransferUTPMSE is BenchmarkLoopbackTransferUTP with
// both sides requiring MSE (RC4 payload).
func BenchmarkLoopbackTransferUTPMSE(b *testing.B) { benchUTP(b, EncryptionRequired) }

func benchUTP(b *testing.B, enc Encryption) {
	const size = 64 << 20
	data := randomData(size, 14)
	seeder, mi := utpSeeder(b, data, &Config{Encryption: enc})
	defer seeder.Close()
	peers := []netip.AddrPort{addrOf(b, seeder)}
	b.SetBytes(size)
	cpu0 := cputime.Process()
	for b.Loop() {
		leecher, err := NewSession(&Config{NoListen: true, UTP: true, Dialer: &tcpDialer{refuse: true},
			Storage: &storage.Dir{Root: b.TempDir()}, Encryption: enc})
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
	// CPU of both sides together (one process), per GiB moved.
	b.ReportMetric((cputime.Process()-cpu0).Seconds()/(float64(size)*float64(b.N)/(1<<30)), "cpu-s/GiB")
}
