package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/golamini/golamini/internal/dist"
	"github.com/golamini/golamini/internal/torch"
	"github.com/golamini/golamini/runner"
)

// distFlags are train's data-parallel flags.
type distFlags struct {
	nproc      int
	masterAddr string
	masterPort int
	timeout    time.Duration
	backend    string
}

func addDistFlags(fs *flag.FlagSet) *distFlags {
	d := &distFlags{}
	fs.IntVar(&d.nproc, "nproc-per-node", 0, "start N processes of golamini on this machine and train data-parallel (as torchrun --nproc-per-node N)")
	fs.StringVar(&d.masterAddr, "master-addr", "127.0.0.1", "with --nproc-per-node: address rank 0 serves the rendezvous store on")
	fs.IntVar(&d.masterPort, "master-port", 0, "with --nproc-per-node: port of the rendezvous store (0 = a free one)")
	fs.DurationVar(&d.timeout, "ddp-timeout", dist.DefaultTimeout, "data-parallel runs: how long to wait for the master, the other ranks and each collective")
	fs.StringVar(&d.backend, "ddp-backend", "", "data-parallel backend: gloo or nccl (default: nccl on CUDA, gloo on CPU)")
	return d
}

// launch runs `golamini train` (args without the launcher's own flags) in
// d.nproc processes and waits for them.
func (d *distFlags) launch(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if dist.InEnvironment() {
		return fmt.Errorf("%w: --nproc-per-node inside a distributed run (WORLD_SIZE is set): launch once, with torchrun or with --nproc-per-node", errUsage)
	}
	exe, err := os.Executable()
	if err != nil {
		return fmt.Errorf("find the golamini executable: %w", err)
	}
	cmd := append([]string{exe, "train"}, withoutFlags(args, "nproc-per-node", "master-addr", "master-port")...)
	return dist.Launch(ctx, dist.LaunchOptions{NProc: d.nproc, Command: cmd, MasterAddr: d.masterAddr, MasterPort: d.masterPort,
		Stdout: stdout, Stderr: stderr})
}

// config returns the group to train in: nil outside a distributed run.
func (d *distFlags) config() (*runner.DistributedConfig, error) {
	if !dist.InEnvironment() {
		return nil, nil
	}
	e, err := dist.EnvFromOS()
	if err != nil {
		return nil, err
	}
	return &runner.DistributedConfig{Env: e, Backend: d.backend, Timeout: d.timeout}, nil
}

// rankDevice maps --device auto/cuda to this rank's GPU (cuda:LOCAL_RANK),
// as torchrun users expect.
func rankDevice(device string, e *runner.DistributedConfig) string {
	if e == nil || (device != "auto" && device != "cuda") || !torch.CUDAAvailable() {
		return device
	}
	return fmt.Sprintf("cuda:%d", e.Env.LocalRank)
}

// withoutFlags drops the named flags (and their values) from args.
func withoutFlags(args []string, names ...string) []string {
	drop := map[string]bool{}
	for _, n := range names {
		drop[n] = true
	}
	var out []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			return append(out, args[i:]...)
		}
		name := strings.TrimLeft(a, "-")
		if !strings.HasPrefix(a, "-") || !drop[strings.SplitN(name, "=", 2)[0]] {
			out = append(out, a)
			continue
		}
		if !strings.Contains(name, "=") {
			i++ // the value follows
		}
	}
	return out
}
