package bittern

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bittern/bittern/internal/cputime"
	"github.com/bittern/bittern/metainfo"
	"github.com/bittern/bittern/peerwire"
	"github.com/bittern/bittern/storage"
)

// Scale tests. By default (and in CI, under -race) they run at a tenth of
// their size; BITTERN_SCALE=1 runs the full figures the project quotes:
//
//	BITTERN_SCALE=1 go test -run 'TestScale' -v -count=1 .
//
// They log what they measure (memory, CPU, latency percentiles) and fail
// only on a broken limit: a connection that got no answer, or memory over
// the stated budget. Timing is logged, never asserted.

// fullScale reports whether BITTERN_SCALE=1 asks for the full-size runs.
func fullScale() bool { return os.Getenv("BITTERN_SCALE") == "1" }

// scaleSizes picks the full or the reduced size of a scale test.
func scaleSizes(t *testing.T, full, reduced int) int {
	if testing.Short() {
		t.Skip("scale test skipped in -short mode")
	}
	if fullScale() {
		return full
	}
	return reduced
}

// idleTorrentBudget is the memory one session may use for 1,000 idle
// seeding torrents (Go heap in use plus goroutine stacks).
const idleTorrentBudget = 100 << 20

// One session seeds many small torrents that no peer asks for: their
// memory (Go heap in use + stacks, after a GC; and the process's VmRSS,
// which also counts the test binary) stays within idleTorrentBudget
// scaled to their number, and idling costs little CPU.
func TestScaleIdleTorrents(t *testing.T) {
	n := scaleSizes(t, 1000, 100)
	dir := t.TempDir()
	const size = 48 << 10 // three pieces of 16 KiB
	s, err := NewSession(&Config{ListenAddr: "127.0.0.1:0", DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	before := memNow()
	ctx := context.Background()
	for i := range n {
		data := randomData(size, uint64(i)+1000)
		name := fmt.Sprintf("idle-%04d.bin", i)
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			t.Fatal(err)
		}
		mi := makeTorrent(t, name, data, 16<<10)
		tor, err := s.AddTorrent(ctx, mi, nil)
		if err != nil {
			t.Fatal(err)
		}
		if !tor.Stats().Complete {
			t.Fatalf("torrent %d is not complete", i)
		}
	}
	// Let every torrent tick and settle, then measure.
	settle, idle := time.Second, 2*time.Second
	if fullScale() {
		settle, idle = 3*time.Second, 5*time.Second
	}
	time.Sleep(settle)
	c0 := cputime.Process()
	time.Sleep(idle)
	idleCPU := (cputime.Process() - c0) * time.Second / idle
	after := memNow()
	used := after.goBytes - before.goBytes
	t.Logf("%d idle torrents: Go heap+stacks %.1f MiB (%.1f KiB per torrent), VmRSS %.1f MiB (was %.1f before adding), %d goroutines, %v CPU per second idle",
		n, mib(used), float64(used)/1024/float64(n), mib(after.rss), mib(before.rss), runtime.NumGoroutine(), idleCPU)
	if budget := int64(idleTorrentBudget) * int64(n) / 1000; used > budget {
		t.Errorf("%d idle torrents use %.1f MiB, budget %.1f MiB", n, mib(used), mib(budget))
	}
}

// memSample is the memory in use at one moment.
type memSample struct {
	goBytes int64 // Go heap in use + goroutine stacks, after a GC
	rss     int64 // the process's resident set (Linux; else 0)
}

func memNow() memSample {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return memSample{goBytes: int64(ms.HeapInuse + ms.StackInuse), rss: vmRSS()}
}

// vmRSS reads VmRSS from /proc/self/status; 0 where there is none.
func vmRSS() int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			if err == nil {
				return kb << 10
			}
		}
	}
	return 0
}

func mib(n int64) float64 { return float64(n) / (1 << 20) }

// One seeding session serves many concurrent connections on loopback TCP:
// raw peer-wire clients connect (at most 32 handshakes at a time, under
// the session's MaxPendingHandshakes), and once all are up every one of
// them asks for a block at the same moment. Each must get its handshake,
// its have-all and its block; latency percentiles are logged.
func TestScaleManyConnections(t *testing.T) {
	n := scaleSizes(t, 500, 50)
	const pieceLen = 64 << 10
	data := randomData(64*pieceLen, 99)
	mi := makeTorrent(t, "conns.bin", data, pieceLen)
	st := &storage.Memory{}
	fill(t, st, mi, data)
	s, err := NewSession(&Config{
		ListenAddr:     "127.0.0.1:0",
		Storage:        st,
		MaxPeers:       n + 10,
		MaxConnections: n + 10,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := s.AddTorrent(context.Background(), mi, nil); err != nil {
		t.Fatal(err)
	}
	addr := s.Addr().String()
	before := memNow()

	clients := make([]*scaleClient, n)
	var wg sync.WaitGroup
	sem := make(chan struct{}, 32)
	errs := make(chan error, n)
	for i := range clients {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			c, err := dialScaleClient(addr, mi, i)
			if err != nil {
				errs <- fmt.Errorf("client %d: %w", i, err)
				return
			}
			clients[i] = c
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	defer func() {
		for _, c := range clients {
			if c != nil {
				c.conn.Close()
			}
		}
	}()
	if t.Failed() {
		return
	}
	connected := memNow()
	// Every client asks for one block at once.
	start := make(chan struct{})
	blockLat := make([]time.Duration, n)
	errs = make(chan error, n)
	for i, c := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			d, err := c.fetchBlock(data, pieceLen)
			if err != nil {
				errs <- fmt.Errorf("client %d: %w", i, err)
			}
			blockLat[i] = d
		}()
	}
	close(start)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	hs := make([]time.Duration, n)
	first := make([]time.Duration, n)
	for i, c := range clients {
		hs[i], first[i] = c.handshake, c.firstMsg
	}
	t.Logf("%d connections: handshake %s; have-all after handshake %s; block (all at once) %s",
		n, percentiles(hs), percentiles(first), percentiles(blockLat))
	t.Logf("%d connections: Go heap+stacks %.1f MiB more than before (%.1f KiB per connection), VmRSS %.1f MiB, %d goroutines, %d peers",
		n, mib(connected.goBytes-before.goBytes), float64(connected.goBytes-before.goBytes)/1024/float64(n),
		mib(connected.rss), runtime.NumGoroutine(), s.Stats().Peers)
}

// percentiles formats the 50th, 90th, 99th percentiles and the maximum.
func percentiles(d []time.Duration) string {
	s := slices.Clone(d)
	slices.Sort(s)
	p := func(q float64) time.Duration {
		return s[min(len(s)-1, int(q*float64(len(s))))].Round(10 * time.Microsecond)
	}
	return fmt.Sprintf("p50 %v p90 %v p99 %v max %v", p(0.5), p(0.9), p(0.99), s[len(s)-1].Round(10*time.Microsecond))
}

// scaleClient is a raw peer-wire client of TestScaleManyConnections.
type scaleClient struct {
	conn      net.Conn
	fr        *peerwire.Framer
	handshake time.Duration // dial to the seeder's handshake
	firstMsg  time.Duration // the seeder's handshake to its have-all
	fast      []uint32      // allowed-fast pieces, while choked
	unchoked  bool
}

// scaleTimeout bounds each step of a scale client: a hang fails the test
// instead of blocking it.
const scaleTimeout = time.Minute

func dialScaleClient(addr string, mi *metainfo.MetaInfo, i int) (*scaleClient, error) {
	t0 := time.Now()
	conn, err := net.DialTimeout("tcp", addr, scaleTimeout)
	if err != nil {
		return nil, err
	}
	c := &scaleClient{conn: conn}
	conn.SetDeadline(time.Now().Add(scaleTimeout))
	id := [20]byte{'-', 'S', 'C', '0', '0', '0', '1', '-'}
	copy(id[8:], fmt.Sprintf("%012d", i))
	ours := peerwire.Handshake{Reserved: peerwire.Reserved{}.Set(peerwire.ReservedFast), InfoHash: mi.InfoHash(), PeerID: id}
	if _, err := peerwire.Initiate(conn, ours, [20]byte{}); err != nil {
		conn.Close()
		return nil, fmt.Errorf("handshake: %w", err)
	}
	t1 := time.Now()
	c.handshake = t1.Sub(t0)
	c.fr = peerwire.NewFramer(conn, conn)
	c.fr.SetPieceCount(mi.Info().NumPieces())
	for {
		m, err := c.fr.ReadMessage()
		if err != nil {
			conn.Close()
			return nil, fmt.Errorf("waiting for have-all: %w", err)
		}
		if _, ok := m.(*peerwire.HaveAll); ok {
			break
		}
		c.note(m)
	}
	c.firstMsg = time.Since(t1)
	if err := c.fr.WriteMessage(peerwire.Interested{}); err != nil {
		conn.Close()
		return nil, err
	}
	return c, nil
}

// note records the choke state and allowed-fast pieces a message tells.
func (c *scaleClient) note(m peerwire.Message) {
	switch m := m.(type) {
	case *peerwire.Unchoke:
		c.unchoked = true
	case *peerwire.Choke:
		c.unchoked = false
	case *peerwire.AllowedFast:
		c.fast = append(c.fast, m.Index)
	}
}

// fetchBlock waits until it may request (unchoked, or an allowed-fast
// piece), requests one block and reads until it arrives, checking it. A
// request rejected because a choke crossed it is made again.
func (c *scaleClient) fetchBlock(data []byte, pieceLen int) (time.Duration, error) {
	c.conn.SetDeadline(time.Now().Add(scaleTimeout))
	t0 := time.Now()
	for range 5 {
		for !c.unchoked && len(c.fast) == 0 {
			m, err := c.fr.ReadMessage()
			if err != nil {
				return 0, fmt.Errorf("waiting to be unchoked: %w", err)
			}
			c.note(m)
		}
		piece := uint32(0)
		if !c.unchoked {
			piece = c.fast[0]
		}
		req := peerwire.Request{Index: piece, Begin: 16 << 10, Length: 16 << 10}
		if err := c.fr.WriteMessage(req); err != nil {
			return 0, err
		}
		for answered := false; !answered; {
			m, err := c.fr.ReadMessage()
			if err != nil {
				return 0, fmt.Errorf("waiting for the block: %w", err)
			}
			switch m := m.(type) {
			case *peerwire.Piece:
				d := time.Since(t0)
				off := int(piece)*pieceLen + int(req.Begin)
				ok := m.Index == req.Index && m.Begin == req.Begin && string(m.Block) == string(data[off:off+int(req.Length)])
				peerwire.PutBlock(m.Block)
				if !ok {
					return 0, fmt.Errorf("wrong block %d/%d", m.Index, m.Begin)
				}
				return d, nil
			case *peerwire.Reject:
				answered = true
			default:
				c.note(m)
			}
		}
	}
	return 0, fmt.Errorf("every request was rejected")
}
