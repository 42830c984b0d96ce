package storage_test

import (
	"bufio"
	"context"
	"crypto/sha1"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"strconv"
	"testing"
	"time"

	"github.com/bittern/bittern/metainfo"
	"github.com/bittern/bittern/storage"
	"github.com/bittern/bittern/storage/storagetest"
)

// killInfo is the torrent the kill -9 test downloads: 48 pieces over
// three files, with real SHA-1 piece hashes of killData.
func killInfo() (*metainfo.Info, []byte) {
	info := storagetest.NewInfo("k9", 16<<10,
		storagetest.FileSpec{Path: []string{"one"}, Length: 300000},
		storagetest.FileSpec{Path: []string{"two", "three"}, Length: 200000},
		storagetest.FileSpec{Path: []string{"four"}, Length: 286432},
	)
	data := make([]byte, 786432)
	r := rand.New(rand.NewPCG(9, 9))
	for i := range data {
		data[i] = byte(r.Uint32())
	}
	for off := 0; off < len(data); off += 16 << 10 {
		h := sha1.Sum(data[off:min(len(data), off+16<<10)])
		info.Pieces = append(info.Pieces, h[:]...)
	}
	return info, data
}

var killIH = metainfo.Hash{0x99}

// TestKill9Child is the process the kill -9 test kills. It downloads the
// torrent piece by piece in random order, writing garbage first (a bad
// peer) and then the right data, verifying each piece before it marks it,
// and saving the completion record after every piece. In odd rounds one
// file is deselected, so its bytes live in the part file.
func TestKill9Child(t *testing.T) {
	dir := os.Getenv("BITTERN_KILL9_DIR")
	if dir == "" {
		return // only runs as the child of TestKill9
	}
	seed, _ := strconv.ParseUint(os.Getenv("BITTERN_KILL9_SEED"), 10, 64)
	info, data := killInfo()
	ctx := context.Background()
	tor, err := (&storage.Dir{Root: dir}).Open(ctx, info, killIH)
	if err != nil {
		t.Fatal(err)
	}
	if seed%2 == 1 {
		// Odd rounds keep "two/three" deselected: its bytes go to the
		// part file, whose crash safety this then covers too.
		if err := tor.(storage.FileSelector).SetWantedFiles([]bool{true, false, true}); err != nil {
			t.Fatal(err)
		}
	}
	v, err := storage.NewVerifier(info, nil)
	if err != nil {
		t.Fatal(err)
	}
	cs := tor.(storage.CompletionStore)
	res, err := cs.LoadCompletion(ctx)
	if err != nil {
		t.Fatal(err)
	}
	ok, err := v.Recheck(ctx, tor, &storage.RecheckOptions{Only: res.Recheck})
	if err != nil {
		t.Fatal(err)
	}
	have := res.Verified
	for p := range have {
		have[p] = have[p] || ok[p]
	}
	fmt.Println("started")
	r := rand.New(rand.NewPCG(seed, 1))
	const pl = 16 << 10
	for {
		p := r.IntN(len(have))
		if have[p] {
			continue
		}
		off := int64(p) * pl
		end := min(int64(len(data)), off+pl)
		junk := make([]byte, end-off)
		for i := range junk {
			junk[i] = byte(r.Uint32())
		}
		if _, err := tor.WriteAt(junk, off); err != nil {
			t.Fatal(err)
		}
		for b := off; b < end; b += 4096 {
			if _, err := tor.WriteAt(data[b:min(end, b+4096)], b); err != nil {
				t.Fatal(err)
			}
		}
		buf := make([]byte, end-off)
		if _, err := tor.ReadAt(buf, off); err != nil {
			t.Fatal(err)
		}
		if v.Check(p, buf) {
			have[p] = true
		}
		if err := cs.SaveCompletion(ctx, have); err != nil {
			t.Fatal(err)
		}
		if countTrue(have) == len(have) {
			// Start over on a fresh download of the same data: clear
			// everything and keep going until killed.
			clear(have)
			if err := cs.SaveCompletion(ctx, have); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// TestKill9 kills a downloading process with SIGKILL at random moments,
// then checks that every piece the completion record trusts is good, and
// that the record is never torn. (SIGKILL keeps the page cache, so this
// checks the ordering of writes, saves and renames; fsync covers power
// loss, which a test cannot simulate.)
func TestKill9(t *testing.T) {
	dir := t.TempDir()
	info, _ := killInfo()
	v, err := storage.NewVerifier(info, nil)
	if err != nil {
		t.Fatal(err)
	}
	seed := uint64(time.Now().UnixNano())
	t.Logf("kill timing seed %d", seed)
	r := rand.New(rand.NewPCG(seed, 2))
	trustedSeen := 0
	for round := range 8 {
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^TestKill9Child$", "-test.count=1")
		cmd.Env = append(os.Environ(), "BITTERN_KILL9_DIR="+dir, fmt.Sprintf("BITTERN_KILL9_SEED=%d", round))
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		cmd.Stderr = os.Stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(out)
		started := false
		for sc.Scan() {
			if sc.Text() == "started" {
				started = true
				break
			}
		}
		if !started {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
			cancel()
			t.Fatalf("round %d: child did not start", round)
		}
		time.Sleep(time.Duration(50+r.IntN(350)) * time.Millisecond)
		_ = cmd.Process.Signal(os.Kill)
		_ = cmd.Wait()
		cancel()

		tor := openDir(t, dir, info, killIH)
		res, err := load(t, tor)
		if err != nil {
			tor.Close()
			t.Fatalf("round %d: LoadCompletion after kill -9: %v", round, err)
		}
		for p, trusted := range res.Verified {
			if !trusted {
				continue
			}
			trustedSeen++
			buf := make([]byte, v.PieceSize(p))
			if _, err := tor.ReadAt(buf, int64(p)*info.PieceLength); err != nil {
				t.Fatal(err)
			}
			if !v.Check(p, buf) {
				t.Errorf("round %d: piece %d trusted by the record but bad on disk", round, p)
			}
		}
		t.Logf("round %d: %d pieces trusted, %d to recheck", round, countTrue(res.Verified), countTrue(res.Recheck))
		tor.Close()
	}
	if trustedSeen == 0 {
		t.Error("no round left any trusted piece: the test exercised nothing")
	}
}
