package main

import (
	"bufio"
	"bytes"
	"context"
	_ "embed"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"
)

// result is one measurement, printed as JSON with -json.
type result struct {
	Impl       string  `json:"impl"`
	Bytes      int64   `json:"bytes"`
	Seconds    float64 `json:"seconds"`
	MiBPerS    float64 `json:"mib_per_s"`
	SeederCPU  float64 `json:"seeder_cpu_s"`
	LeecherCPU float64 `json:"leecher_cpu_s"`
	SeederRSS  float64 `json:"seeder_rss_mib"`
	LeecherRSS float64 `json:"leecher_rss_mib"`
}

//go:embed libtorrent_bench.py
var libtorrentScript string

// python is the interpreter that can import python3-libtorrent.
const python = "/usr/bin/python3"

// impls build the command line of a child: role is "seed" or "leech",
// peer is empty for the seeder.
var impls = map[string]func(o *options, role, torrent, data, peer string) (*exec.Cmd, error){
	"bittern": func(o *options, role, torrent, data, peer string) (*exec.Cmd, error) {
		self, err := os.Executable()
		if err != nil {
			return nil, err
		}
		args := []string{role, "-torrent", torrent, "-data", data, "-timeout", o.timeout.String()}
		if peer != "" {
			args = append(args, "-peer", peer)
		}
		if o.prealloc && role == "leech" {
			args = append(args, "-preallocate")
		}
		if o.wb && role == "leech" {
			args = append(args, "-writebehind")
		}
		if o.profDir != "" {
			args = append(args, "-cpuprofile", filepath.Join(o.profDir, role+".pprof"))
		}
		return exec.Command(self, args...), nil
	},
	"libtorrent": func(o *options, role, torrent, data, peer string) (*exec.Cmd, error) {
		// -I: isolated mode, so no file in the working directory can shadow the libtorrent module.
		args := []string{"-I", "-c", libtorrentScript, role, torrent, data}
		if peer != "" {
			args = append(args, peer)
		}
		return exec.Command(python, args...), nil
	},
	"anacrolix": func(o *options, role, torrent, data, peer string) (*exec.Cmd, error) {
		bin, err := anacrolixBinary(o)
		if err != nil {
			return nil, err
		}
		args := []string{role, "-torrent", torrent, "-data", data, "-timeout", o.timeout.String()}
		if peer != "" {
			args = append(args, "-peer", peer)
		}
		return exec.Command(bin, args...), nil
	},
}

var anacrolixBuild struct {
	once sync.Once
	bin  string
	err  error
}

// anacrolixBinary returns o.anacrolix, or builds the comparator module that
// sits beside this file's source into o.dir.
func anacrolixBinary(o *options) (string, error) {
	if o.anacrolix != "" {
		return o.anacrolix, nil
	}
	b := &anacrolixBuild
	b.once.Do(func() {
		_, file, _, ok := runtime.Caller(0)
		if !ok {
			b.err = errors.New("cannot locate the anacrolix comparator's source; pass -anacrolix-bin")
			return
		}
		bin := filepath.Join(o.dir, "anacrolix-bench")
		cmd := exec.Command("go", "build", "-o", bin, ".")
		cmd.Dir = filepath.Join(filepath.Dir(file), "anacrolix")
		cmd.Env = append(os.Environ(), "GOWORK=off")
		if out, err := cmd.CombinedOutput(); err != nil {
			b.err = fmt.Errorf("building the anacrolix comparator in %s: %v\n%s", cmd.Dir, err, out)
			return
		}
		b.bin = bin
	})
	return b.bin, b.err
}

// measure runs one seeder and one leecher of implementation name on w.
func measure(ctx context.Context, o *options, w *workload, name string, log io.Writer) (*result, error) {
	ctx, cancel := context.WithTimeout(ctx, o.timeout)
	defer cancel()
	leechDir := filepath.Join(o.dir, "leech-"+name)
	if err := os.RemoveAll(leechDir); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(leechDir, 0o755); err != nil {
		return nil, err
	}
	defer os.RemoveAll(leechDir)

	seedCmd, err := impls[name](o, "seed", w.torrent, w.seedDir, "")
	if err != nil {
		return nil, err
	}
	seeder, err := startChild(ctx, seedCmd, true)
	if err != nil {
		return nil, fmt.Errorf("seeder: %w", err)
	}
	defer seeder.kill()
	line, err := seeder.line(ctx, "listening ")
	if err != nil {
		return nil, fmt.Errorf("seeder: %w", err)
	}
	if _, err := strconv.ParseUint(line, 10, 16); err != nil {
		return nil, fmt.Errorf("seeder: bad port %q", line)
	}
	peer := "127.0.0.1:" + line
	// The seeder's CPU time is counted from here: its start-up and the
	// check of its data are not part of the transfer. Where this is not
	// known, the whole run is counted.
	seedBase, err := processCPU(seeder.cmd.Process.Pid)
	if err != nil {
		seedBase = 0
	}

	leechCmd, err := impls[name](o, "leech", w.torrent, leechDir, peer)
	if err != nil {
		return nil, err
	}
	leecher, err := startChild(ctx, leechCmd, false)
	if err != nil {
		return nil, fmt.Errorf("leecher: %w", err)
	}
	defer leecher.kill()
	line, err = leecher.line(ctx, "done ")
	if err != nil {
		return nil, fmt.Errorf("leecher: %w", err)
	}
	nanos, err := strconv.ParseInt(line, 10, 64)
	if err != nil || nanos <= 0 {
		return nil, fmt.Errorf("leecher: bad duration %q", line)
	}
	lu, err := leecher.wait()
	if err != nil {
		return nil, fmt.Errorf("leecher: %w", err)
	}
	seeder.stdin.Close() // the seeder's signal to stop
	su, err := seeder.wait()
	if err != nil {
		return nil, fmt.Errorf("seeder: %w", err)
	}
	same, err := sameFile(filepath.Join(w.seedDir, w.name), filepath.Join(leechDir, w.name))
	if err != nil {
		return nil, err
	}
	if !same {
		return nil, errors.New("the leecher's file differs from the seeder's")
	}
	secs := time.Duration(nanos).Seconds()
	return &result{
		Impl:       name,
		Bytes:      w.size,
		Seconds:    round(secs, 3),
		MiBPerS:    round(float64(w.size)/(1<<20)/secs, 1),
		SeederCPU:  round((su.cpu - seedBase).Seconds(), 2),
		LeecherCPU: round(lu.cpu.Seconds(), 2),
		SeederRSS:  round(float64(su.maxRSS)/(1<<20), 1),
		LeecherRSS: round(float64(lu.maxRSS)/(1<<20), 1),
	}, nil
}

func round(f float64, digits int) float64 {
	p := 1.0
	for range digits {
		p *= 10
	}
	return float64(int64(f*p+0.5)) / p
}

// proc is a running child.
type proc struct {
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	lines  chan string   // stdout lines
	stderr *bytes.Buffer // the child's stderr, for error messages
	done   chan struct{} // closed when stdout reaches EOF
	waited bool
}

// usage is what a finished child used.
type usage struct {
	cpu    time.Duration // user + system
	maxRSS int64         // bytes
}

func startChild(ctx context.Context, cmd *exec.Cmd, withStdin bool) (*proc, error) {
	p := &proc{cmd: cmd, lines: make(chan string, 16), stderr: new(bytes.Buffer), done: make(chan struct{})}
	cmd.Stderr = &limitedWriter{w: p.stderr, n: 64 << 10}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if withStdin {
		if p.stdin, err = cmd.StdinPipe(); err != nil {
			return nil, err
		}
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	go func() {
		defer close(p.done)
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			select {
			case p.lines <- sc.Text():
			default: // nobody is waiting for more lines
			}
		}
	}()
	go func() {
		select {
		case <-ctx.Done():
			cmd.Process.Kill()
		case <-p.done:
		}
	}()
	return p, nil
}

// line waits for a stdout line starting with prefix and returns the rest.
func (p *proc) line(ctx context.Context, prefix string) (string, error) {
	for {
		select {
		case l := <-p.lines:
			if rest, ok := strings.CutPrefix(l, prefix); ok {
				return strings.TrimSpace(rest), nil
			}
		case <-p.done:
			select {
			case l := <-p.lines:
				if rest, ok := strings.CutPrefix(l, prefix); ok {
					return strings.TrimSpace(rest), nil
				}
				continue
			default:
			}
			_, err := p.wait()
			return "", fmt.Errorf("exited before printing %q: %v\n%s", strings.TrimSpace(prefix), err, p.stderr)
		case <-ctx.Done():
			p.kill()
			return "", fmt.Errorf("waiting for %q: %w\n%s", strings.TrimSpace(prefix), ctx.Err(), p.stderr)
		}
	}
}

// wait waits for the child to exit and returns its resource usage.
func (p *proc) wait() (usage, error) {
	if p.waited {
		return usage{}, errors.New("already waited for")
	}
	p.waited = true
	<-p.done // Wait must follow the last read of stdout
	err := p.cmd.Wait()
	if err != nil {
		return usage{}, fmt.Errorf("%v\n%s", err, p.stderr)
	}
	ps := p.cmd.ProcessState
	return usage{cpu: ps.UserTime() + ps.SystemTime(), maxRSS: maxRSS(ps)}, nil
}

// kill stops the child if it still runs and reaps it.
func (p *proc) kill() {
	if p.waited {
		return
	}
	p.cmd.Process.Kill()
	p.wait()
}

// limitedWriter keeps the first n bytes written to it.
type limitedWriter struct {
	w io.Writer
	n int
}

func (l *limitedWriter) Write(b []byte) (int, error) {
	if l.n > 0 {
		k := min(len(b), l.n)
		l.w.Write(b[:k])
		l.n -= k
	}
	return len(b), nil
}
