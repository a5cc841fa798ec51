// Command dist measures c10d all-reduce throughput from golamini: a
// gradient of -numel float32 values (default pythia-70m's 70,426,624)
// summed over loopback Gloo in torch DDP's 25 MB buckets, -iters times after
// one warm-up. Without RANK in the environment it launches -nproc copies of
// itself (internal/dist.Launch) and rank 0 prints one JSON line.
//
//	go run ./bench/dist -nproc 2 -numel 70426624 -iters 5
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/golamini/golamini/internal/dist"
	"github.com/golamini/golamini/internal/torch"
)

func main() {
	nproc := flag.Int("nproc", 2, "ranks to launch")
	numel := flag.Int("numel", 70426624, "float32 values per all-reduce")
	iters := flag.Int("iters", 5, "timed all-reduces")
	flag.Parse()
	if !dist.InEnvironment() {
		exe, err := os.Executable()
		if err == nil {
			err = dist.Launch(context.Background(), dist.LaunchOptions{NProc: *nproc, Command: append([]string{exe}, os.Args[1:]...),
				Stdout: os.Stdout, Stderr: os.Stderr})
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "bench/dist:", err)
			os.Exit(1)
		}
		return
	}
	if err := rank(*numel, *iters); err != nil {
		fmt.Fprintln(os.Stderr, "bench/dist:", err)
		os.Exit(1)
	}
}

func rank(numel, iters int) error {
	g, err := dist.Join(dist.Config{}, torch.CPU)
	if err != nil {
		return err
	}
	defer g.Close()
	// Several tensors, as a model's gradients are: 1M values each, the rest last.
	var ts []*torch.Tensor
	for left := numel; left > 0; left -= 1 << 20 {
		n := min(left, 1<<20)
		t, err := torch.FromFloat32(make([]float32, n), int64(n))
		if err != nil {
			return err
		}
		defer t.Free()
		ts = append(ts, t)
	}
	if err := g.AllReduce(ts, torch.ReduceSum); err != nil { // warm-up: connections, buffers
		return err
	}
	start := time.Now()
	for range iters {
		if err := g.AllReduce(ts, torch.ReduceSum); err != nil {
			return err
		}
	}
	sec := time.Since(start).Seconds() / float64(iters)
	if g.IsMain() {
		bytes := float64(numel) * 4
		return json.NewEncoder(os.Stdout).Encode(map[string]any{"impl": "golamini", "backend": g.Backend(), "world_size": g.Size(),
			"numel": numel, "seconds": sec, "algbw_gb_s": bytes / sec / 1e9, "busbw_gb_s": bytes / sec / 1e9 * 2 * float64(g.Size()-1) / float64(g.Size())})
	}
	return nil
}
