package bittern

import (
	"net/netip"
	"testing"

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
	benchLeech(b, mi, size, peers, func(dir string) *Config {
		return &Config{NoListen: true, UTP: true, Dialer: &tcpDialer{refuse: true},
			Storage: &storage.Dir{Root: dir}, Encryption: enc}
	})
}
