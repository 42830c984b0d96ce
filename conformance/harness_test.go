//go:build interop

package conformance

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// The interop suite drives real, independent BitTorrent implementations on
// loopback. Every process a test starts is stopped by PID at cleanup, every
// wait is bounded, and a missing peer fails the test: it never skips.

// pythonPath is the interpreter that can import libtorrent (Debian's
// python3-libtorrent); another python3 earlier on PATH cannot.
const pythonPath = "/usr/bin/python3"

// freePort returns a port on 127.0.0.1 that was free a moment ago, for
// "tcp" or "udp".
func freePort(t testing.TB, network string) int {
	t.Helper()
	switch network {
	case "tcp":
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		return l.Addr().(*net.TCPAddr).Port
	case "udp":
		c, err := net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		return c.LocalAddr().(*net.UDPAddr).Port
	}
	t.Fatalf("freePort: unknown network %q", network)
	return 0
}

// requireBinary fails the test loudly when a peer implementation is missing:
// .ci/run installs them all, so a missing one is a broken environment.
func requireBinary(t testing.TB, path string) {
	t.Helper()
	if _, err := exec.LookPath(path); err != nil {
		t.Fatalf("required peer implementation %s is not installed (run .ci/run or see ../shared/INTEROP.md): %v", path, err)
	}
}

// syncBuffer is a bytes.Buffer safe for a process writing while a test reads.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// proc is a running peer process.
type proc struct {
	name string
	cmd  *exec.Cmd
	log  *syncBuffer
	done chan struct{}
	err  error // set when done is closed
}

// startProc starts name with args, capturing stdout and stderr. At cleanup
// the process (and its process group) is killed and waited for; if the test
// failed, the tail of its log is printed.
func startProc(t testing.TB, name string, args ...string) *proc {
	t.Helper()
	requireBinary(t, name)
	p := &proc{name: name, log: &syncBuffer{}, done: make(chan struct{})}
	p.cmd = exec.Command(name, args...)
	p.cmd.Stdout = p.log
	p.cmd.Stderr = p.log
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	go func() {
		p.err = p.cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		p.stop()
		if t.Failed() {
			t.Logf("--- %s %s (pid %d) log tail:\n%s", name, strings.Join(args, " "), p.cmd.Process.Pid, tail(p.Log(), 4000))
		}
	})
	return p
}

// stop kills the process group and waits for the process to exit.
func (p *proc) stop() {
	select {
	case <-p.done:
		return
	default:
	}
	_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(3 * time.Second):
		_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
		<-p.done
	}
}

// Log returns everything the process has written so far.
func (p *proc) Log() string { return p.log.String() }

// Wait waits for the process to exit, or for ctx to end.
func (p *proc) Wait(ctx context.Context) error {
	select {
	case <-p.done:
		return p.err
	case <-ctx.Done():
		return fmt.Errorf("%s still running: %w", p.name, ctx.Err())
	}
}

func tail(s string, n int) string {
	if len(s) > n {
		return "…" + s[len(s)-n:]
	}
	return s
}

// runPython runs a Python script with the libtorrent-capable interpreter and
// returns its stdout. A non-zero exit fails the test with the output.
func runPython(t testing.TB, ctx context.Context, script string, args ...string) []byte {
	t.Helper()
	requireBinary(t, pythonPath)
	cmd := exec.CommandContext(ctx, pythonPath, append([]string{"-c", script}, args...)...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Run(); err != nil {
		t.Fatalf("python: %v\nstdout:\n%s\nstderr:\n%s", err, tail(stdout.String(), 4000), tail(stderr.String(), 4000))
	}
	return stdout.Bytes()
}

// runBounded runs a short command (a peer's control tool such as
// transmission-remote) for at most timeout and returns its combined
// output. The process is killed when the time is up.
func runBounded(timeout time.Duration, name string, args ...string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	cmd.WaitDelay = time.Second
	return cmd.CombinedOutput()
}

// startPython starts a long-running Python script (a libtorrent peer).
func startPython(t testing.TB, script string, args ...string) *proc {
	t.Helper()
	return startProc(t, pythonPath, append([]string{"-u", "-c", script}, args...)...)
}

// waitFor polls cond until it holds, failing the test after timeout.
func waitFor(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestMain checks that the peers are installed before anything runs.
func TestMain(m *testing.M) {
	missing := []string{}
	for _, bin := range []string{pythonPath, "transmission-daemon", "transmission-remote", "transmission-create", "aria2c", "opentracker"} {
		if _, err := exec.LookPath(bin); err != nil {
			missing = append(missing, bin)
		}
	}
	if len(missing) > 0 {
		fmt.Fprintf(os.Stderr, "conformance: peers not installed: %s (run .ci/run, or see ../shared/INTEROP.md)\n", strings.Join(missing, ", "))
		os.Exit(1)
	}
	if out, err := exec.Command(pythonPath, "-c", "import libtorrent; print(libtorrent.__version__)").CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "conformance: python3-libtorrent does not import: %v\n%s", err, out)
		os.Exit(1)
	}
	os.Exit(m.Run())
}

// runQuiet is runBounded for a command whose output does not matter.
func runQuiet(timeout time.Duration, name string, args ...string) error {
	_, err := runBounded(timeout, name, args...)
	return err
}
