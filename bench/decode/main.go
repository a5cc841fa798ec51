// Command decode measures greedy decoding speed of a pythia-70m-shaped model
// (random weights, fp32, batch 1, KV cache) and the time to load a
// checkpoint. It prints one JSON line per measurement; bench/run.sh puts it
// next to HF transformers' generate (bench/decode/hf_decode.py).
//
// Besides wall-clock tokens/s it reports process CPU seconds per token
// (getrusage, all threads), which on a machine shared with other busy
// processes is the steadier of the two.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"syscall"
	"time"

	"github.com/golamini/golamini/internal/generate"
	"github.com/golamini/golamini/internal/model"
	"github.com/golamini/golamini/internal/torch"
)

func main() {
	newTokens := flag.Int("new-tokens", 128, "tokens to generate")
	promptLen := flag.Int("prompt", 16, "prompt length in tokens")
	reps := flag.Int("reps", 3, "repetitions (best is reported)")
	threads := flag.Int("threads", 0, "libtorch intra-op threads (0: libtorch's default)")
	rowThreads := flag.Int("row-threads", 0, "RowLinear threads (0: default)")
	loadDir := flag.String("load", "", "only time loading this checkpoint directory (best of -reps)")
	probe := flag.Bool("probe-bandwidth", false, "only measure memory read bandwidth (libtorch sum over 179 MB, best of -reps)")
	flag.Parse()
	err := torch.Do(context.Background(), func() error {
		if *threads > 0 {
			if err := torch.SetNumThreads(*threads); err != nil {
				return err
			}
		}
		if *rowThreads > 0 {
			torch.SetRowLinearThreads(*rowThreads)
		}
		n, err := torch.NumThreads()
		if err != nil {
			return err
		}
		if *loadDir != "" {
			return timeLoad(*loadDir, *reps)
		}
		if *probe {
			return probeBandwidth(*reps, n)
		}
		return timeDecode(*newTokens, *promptLen, *reps, n)
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, "decode:", err)
		os.Exit(1)
	}
}

func timeDecode(newTokens, promptLen, reps, threads int) error {
	m, err := model.NewRandom(model.Pythia70M(), model.DefaultLoadOptions(), 1)
	if err != nil {
		return err
	}
	defer m.Free()
	// The same prompt as hf_decode.py: 100, 137, 174, …
	prompt := make([]int, promptLen)
	for i := range prompt {
		prompt[i] = 100 + i*37
	}
	o := generate.DefaultOptions()
	o.MaxNewTokens, o.StopAtEOS = newTokens, false
	warm := o
	warm.MaxNewTokens = 8
	if _, err := generate.Generate(context.Background(), m, [][]int{prompt}, warm, nil); err != nil {
		return err
	}
	var runs, cpuPerTok []float64
	for r := 0; r < reps; r++ {
		c0, start := cpuTime(), time.Now()
		res, err := generate.Generate(context.Background(), m, [][]int{prompt}, o, nil)
		if err != nil {
			return err
		}
		wall, cpu := time.Since(start).Seconds(), cpuTime()-c0
		n := len(res[0].NewIDs)
		if n != newTokens {
			return fmt.Errorf("generated %d tokens, want %d", n, newTokens)
		}
		runs = append(runs, float64(n)/wall)
		cpuPerTok = append(cpuPerTok, cpu/float64(n))
	}
	return json.NewEncoder(os.Stdout).Encode(map[string]any{
		"impl": "golamini", "threads": torch.RowLinearThreads(), "torch_threads_decoding": 1,
		"torch_threads": threads, "new_tokens": newTokens,
		"tokens_per_s": maxOf(runs), "runs": runs, "cpu_s_per_token": minOf(cpuPerTok),
	})
}

func timeLoad(dir string, reps int) error {
	var runs []float64
	for r := 0; r < reps; r++ {
		start := time.Now()
		m, err := model.Load(context.Background(), dir, model.DefaultLoadOptions())
		if err != nil {
			return err
		}
		runs = append(runs, time.Since(start).Seconds())
		m.Free()
	}
	return json.NewEncoder(os.Stdout).Encode(map[string]any{"impl": "golamini", "load_s": minOf(runs), "runs": runs})
}

// probeBandwidth measures how fast this process can read memory right now:
// a sum over a float32 tensor the size of pythia-70m's per-token weights
// (179 MB, on huge pages like the weights), with libtorch's threads. On a
// machine shared with other busy processes this moves a lot; decoding speed
// is bounded by it (tokens/s ≤ bandwidth / 179 MB).
func probeBandwidth(reps, threads int) error {
	const n = 179 << 20 / 4
	s := torch.NewScope()
	defer s.Close()
	x := s.Ones([]int64{n}, torch.Float32, torch.CPU)
	if err := s.Err(); err != nil {
		return err
	}
	x.AdviseHugePages()
	best := 0.0
	for r := 0; r < max(reps, 5); r++ {
		start := time.Now()
		sum := s.Sum(x, torch.Float32)
		if err := s.Err(); err != nil {
			return err
		}
		v, err := sum.Item()
		if err != nil {
			return err
		}
		if v != n {
			return fmt.Errorf("bandwidth probe: sum %v, want %v", v, float64(n))
		}
		best = max(best, float64(n*4)/time.Since(start).Seconds()/1e9)
		s.Drop(sum)
	}
	return json.NewEncoder(os.Stdout).Encode(map[string]any{
		"probe": "bandwidth", "threads": threads, "gb_per_s": best,
		"bound_tokens_per_s": best * 1e9 / (179e6),
	})
}

// cpuTime returns the CPU seconds (user + system) of the whole process so far.
func cpuTime() float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()).Seconds()
}

func maxOf(v []float64) float64 {
	m := v[0]
	for _, x := range v {
		m = max(m, x)
	}
	return m
}

func minOf(v []float64) float64 {
	m := v[0]
	for _, x := range v {
		m = min(m, x)
	}
	return m
}
