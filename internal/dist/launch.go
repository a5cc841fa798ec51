package dist

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"sync"
	"syscall"
	"time"
)

// LaunchOptions configure Launch.
type LaunchOptions struct {
	// NProc is the number of processes (ranks) to start on this machine.
	NProc int
	// Command is the program and its arguments; each rank runs it with the
	// torchrun variables added to the environment.
	Command []string
	// MasterAddr and MasterPort are where rank 0 serves the store;
	// defaults 127.0.0.1 and a free port.
	MasterAddr string
	MasterPort int
	// Grace is how long the other ranks get after SIGTERM, once one has
	// failed, before SIGKILL (default 10 s).
	Grace time.Duration
	// Stdout and Stderr receive the ranks' output, each line prefixed with
	// "[rank N] " (rank 0's stdout unprefixed).
	Stdout, Stderr io.Writer
}

// ErrRankFailed is returned (wrapped) by Launch when a rank fails.
var ErrRankFailed = errors.New("rank failed")

// Launch runs NProc copies of Command as one data-parallel group and waits
// for them. When one exits non-zero (or ctx ends), the others get SIGTERM,
// then SIGKILL after Grace, and Launch returns an error naming the first
// rank that failed. Children die with the launcher (Linux PDEATHSIG), so
// none is left behind.
func Launch(ctx context.Context, o LaunchOptions) error {
	if o.NProc < 1 {
		return fmt.Errorf("dist: launch: --nproc-per-node %d must be ≥ 1", o.NProc)
	}
	if len(o.Command) == 0 {
		return errors.New("dist: launch: no command")
	}
	if o.MasterAddr == "" {
		o.MasterAddr = "127.0.0.1"
	}
	if o.MasterPort == 0 {
		l, err := net.Listen("tcp", net.JoinHostPort(o.MasterAddr, "0"))
		if err != nil {
			return fmt.Errorf("dist: launch: find a free port on %s: %w", o.MasterAddr, err)
		}
		o.MasterPort = l.Addr().(*net.TCPAddr).Port
		l.Close()
	}
	if o.Grace <= 0 {
		o.Grace = 10 * time.Second
	}
	if o.Stdout == nil {
		o.Stdout = io.Discard
	}
	if o.Stderr == nil {
		o.Stderr = io.Discard
	}
	// PDEATHSIG fires when the starting thread exits: keep this goroutine
	// on one thread until every rank has ended.
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	var outMu sync.Mutex // one line at a time from all ranks
	type exit struct {
		rank int
		err  error
	}
	exits := make(chan exit, o.NProc)
	cmds := make([]*exec.Cmd, 0, o.NProc)
	var copies sync.WaitGroup
	killAll := func(sig syscall.Signal) {
		for _, c := range cmds {
			if c.Process != nil {
				_ = c.Process.Signal(sig)
			}
		}
	}
	for r := 0; r < o.NProc; r++ {
		e := Env{Rank: r, WorldSize: o.NProc, LocalRank: r, LocalWorldSize: o.NProc, MasterAddr: o.MasterAddr, MasterPort: o.MasterPort}
		c := exec.Command(o.Command[0], o.Command[1:]...)
		c.Env = append(os.Environ(), e.Vars()...)
		c.SysProcAttr = launchAttr()
		stdout := prefixed(&outMu, o.Stdout, r, r != 0, &copies)
		stderr := prefixed(&outMu, o.Stderr, r, true, &copies)
		c.Stdout, c.Stderr = stdout, stderr
		if err := c.Start(); err != nil {
			stdout.Close()
			stderr.Close()
			killAll(syscall.SIGKILL)
			for range cmds {
				<-exits
			}
			return fmt.Errorf("dist: launch rank %d: %w", r, err)
		}
		cmds = append(cmds, c)
		outMu.Lock()
		fmt.Fprintf(o.Stderr, "golamini: started rank %d of %d (pid %d), master %s:%d\n", r, o.NProc, c.Process.Pid, o.MasterAddr, o.MasterPort)
		outMu.Unlock()
		go func() {
			err := c.Wait()
			stdout.Close()
			stderr.Close()
			exits <- exit{r, err}
		}()
	}
	var first error
	var timer <-chan time.Time
	done := ctx.Done()
	for left := o.NProc; left > 0; {
		select {
		case x := <-exits:
			left--
			if x.err != nil && first == nil {
				first = fmt.Errorf("dist: %w: rank %d (pid %d) %v; stopping the other ranks", ErrRankFailed, x.rank, cmds[x.rank].Process.Pid, x.err)
				fmt.Fprintf(o.Stderr, "golamini: %v\n", first)
				killAll(syscall.SIGTERM)
				timer = time.After(o.Grace)
			}
		case <-done:
			done = nil
			if first == nil {
				first = fmt.Errorf("dist: launch: %w", ctx.Err())
				killAll(syscall.SIGTERM)
				timer = time.After(o.Grace)
			}
		case <-timer:
			killAll(syscall.SIGKILL)
		}
	}
	copies.Wait()
	return first
}

// prefixWriter copies a child's output line by line, each line prefixed.
type prefixWriter struct {
	pw *io.PipeWriter
}

func (p *prefixWriter) Write(b []byte) (int, error) { return p.pw.Write(b) }
func (p *prefixWriter) Close() error                { return p.pw.Close() }

func prefixed(mu *sync.Mutex, w io.Writer, rank int, prefix bool, wg *sync.WaitGroup) *prefixWriter {
	pr, pw := io.Pipe()
	p := &prefixWriter{pw: pw}
	tag := ""
	if prefix {
		tag = "[rank " + strconv.Itoa(rank) + "] "
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		sc := bufio.NewScanner(pr)
		sc.Buffer(make([]byte, 64<<10), 16<<20)
		for sc.Scan() {
			mu.Lock()
			fmt.Fprintf(w, "%s%s\n", tag, sc.Bytes())
			mu.Unlock()
		}
		_, _ = io.Copy(io.Discard, pr) // a line over 16 MB: drain the rest
	}()
	return p
}
