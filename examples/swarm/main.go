// Command swarm runs a BitTorrent swarm inside one process on loopback TCP:
// one seeder of a generated file and N leechers that download it from the
// seeder and from each other. It prints how long each leecher took and the
// aggregate throughput, as a quick end-to-end check and rough benchmark of
// the bittern Session.
//
//	go run ./examples/swarm -size 268435456 -leechers 3
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net/netip"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/bittern/bittern"
	"github.com/bittern/bittern/metainfo"
	"github.com/bittern/bittern/storage"
)

func main() {
	size := flag.Int64("size", 64<<20, "bytes in the generated file")
	leechers := flag.Int("leechers", 1, "number of leeching sessions")
	pieceLen := flag.Int64("piece", 256<<10, "piece length (a power of two, at least 16 KiB)")
	dir := flag.String("dir", "", "working directory (default: a temporary one, removed at exit)")
	mem := flag.Bool("mem", false, "keep the leechers' data in memory instead of files")
	timeout := flag.Duration("timeout", 10*time.Minute, "give up after this long")
	flag.Parse()
	if err := run(*size, *leechers, *pieceLen, *dir, *mem, *timeout); err != nil {
		fmt.Fprintln(os.Stderr, "swarm:", err)
		os.Exit(1)
	}
}

func run(size int64, leechers int, pieceLen int64, dir string, mem bool, timeout time.Duration) error {
	if size <= 0 || leechers <= 0 {
		return fmt.Errorf("-size and -leechers must be positive")
	}
	if dir == "" {
		d, err := os.MkdirTemp("", "bittern-swarm")
		if err != nil {
			return err
		}
		defer os.RemoveAll(d)
		dir = d
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()

	path := filepath.Join(dir, "seed", "swarm.bin")
	if err := writeRandom(path, size); err != nil {
		return err
	}
	start := time.Now()
	mi, err := (&metainfo.Builder{Version: metainfo.V1, PieceLength: pieceLen}).Build(ctx, path)
	if err != nil {
		return err
	}
	fmt.Printf("torrent: %d bytes, %d pieces of %d KiB, hashed in %v\n", size, mi.Info().NumPieces(), pieceLen>>10, time.Since(start).Round(time.Millisecond))

	seeder, err := bittern.NewSession(&bittern.Config{ListenAddr: "127.0.0.1:0", DataDir: filepath.Join(dir, "seed")})
	if err != nil {
		return err
	}
	defer seeder.Close()
	start = time.Now()
	if _, err := seeder.AddTorrent(ctx, mi, nil); err != nil {
		return err
	}
	fmt.Printf("seeder: checked in %v, listening on %v\n", time.Since(start).Round(time.Millisecond), seeder.Addr())

	sessions := make([]*bittern.Session, leechers)
	addrs := []netip.AddrPort{netip.MustParseAddrPort(seeder.Addr().String())}
	for i := range sessions {
		cfg := &bittern.Config{ListenAddr: "127.0.0.1:0", DataDir: filepath.Join(dir, fmt.Sprintf("leech%d", i))}
		if mem {
			cfg.Storage = &storage.Memory{}
		}
		s, err := bittern.NewSession(cfg)
		if err != nil {
			return err
		}
		defer s.Close()
		sessions[i] = s
		addrs = append(addrs, netip.MustParseAddrPort(s.Addr().String()))
	}

	start = time.Now()
	errs := make([]error, leechers)
	var wg sync.WaitGroup
	for i, s := range sessions {
		t, err := s.AddTorrent(ctx, mi, &bittern.TorrentOptions{Peers: addrs})
		if err != nil {
			return err
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			if errs[i] = t.Wait(ctx); errs[i] == nil {
				st := t.Stats()
				fmt.Printf("leecher %d: done in %v (downloaded %d, uploaded %d, wasted %d)\n",
					i, time.Since(start).Round(time.Millisecond), st.Downloaded, st.Uploaded, st.Wasted)
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	for i, err := range errs {
		if err != nil {
			return fmt.Errorf("leecher %d: %w", i, err)
		}
	}
	total := float64(size) * float64(leechers)
	fmt.Printf("all %d leechers done in %v: %.1f MiB/s delivered\n", leechers, elapsed.Round(time.Millisecond), total/(1<<20)/elapsed.Seconds())
	return nil
}

// writeRandom writes n pseudo-random bytes to path.
func writeRandom(path string, n int64) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	r := rand.NewChaCha8([32]byte{'b', 'i', 't', 't', 'e', 'r', 'n'})
	if _, err := io.CopyN(f, r, n); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
