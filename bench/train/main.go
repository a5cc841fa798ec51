// Command train measures golamini's training speed and memory, one JSON line
// per measurement; bench/train/run.sh runs it side by side with HF
// transformers (bench/train/hf_train.py) and writes bench/RESULTS-train.md.
//
//	go run ./bench/train tokens  [-steps N] [-batch B] [-seq T]   tokens/s of a pythia-70m-shaped model
//	go run ./bench/train profile [-steps N] [-variant V]          where a step's time goes (Go-side timers)
//	go run ./bench/train epoch   [-fraction F] [-batch B]         lamini_docs train split, length-grouped
//	go run ./bench/train leak    [-steps N]                       RSS after 100 vs after N steps
//	go run ./bench/train micro   [-only gemm|head|attention]      the pieces of a step, alone
//
// Wall-clock numbers come with the process CPU seconds (getrusage, all
// threads): on a machine shared with other busy processes the CPU time is
// the steadier of the two.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"runtime"
	"runtime/debug"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/golamini/golamini/internal/torch"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: train tokens|profile|epoch|leak [flags]")
		os.Exit(2)
	}
	mode, args := os.Args[1], os.Args[2:]
	fs := flag.NewFlagSet(mode, flag.ExitOnError)
	threads := fs.Int("threads", 0, "libtorch intra-op threads (0: libtorch's default)")
	cacheMB := fs.Int("cpu-cache", 0, "torch.EnableCPUCache limit in MB (0: libtorch's default allocator)")
	var run func() error
	switch mode {
	case "tokens":
		o := tokensOptions{}
		fs.IntVar(&o.steps, "steps", 4, "timed steps (after -warmup)")
		fs.IntVar(&o.warmup, "warmup", 1, "untimed warm-up steps")
		fs.IntVar(&o.batch, "batch", 4, "rows per step")
		fs.IntVar(&o.seq, "seq", 512, "tokens per row")
		run = func() error { return runTokens(o) }
	case "profile":
		o := profileOptions{}
		fs.IntVar(&o.steps, "steps", 3, "timed steps (after one warm-up)")
		fs.IntVar(&o.batch, "batch", 4, "rows per step")
		fs.IntVar(&o.seq, "seq", 512, "tokens per row")
		fs.StringVar(&o.variant, "variant", "new", "what to time: new (fused loss head and AdamW) or old (materialised logits, op-by-op AdamW)")
		fs.StringVar(&o.trace, "trace", "", "write libtorch's operator trace of the last step to this file (chrome://tracing JSON)")
		fs.StringVar(&o.config, "config", "", "config.json of the model shape to profile (random weights; default pythia-70m)")
		run = func() error { return runProfile(o) }
	case "epoch":
		o := epochOptions{}
		fs.StringVar(&o.data, "data", "../shared/data/lamini_docs_train.jsonl", "train split (JSON lines with question/answer)")
		fs.StringVar(&o.tokenizer, "tokenizer", "../shared/data/pythia-tokenizer.json", "Pythia tokenizer.json")
		fs.Float64Var(&o.fraction, "fraction", 0.1, "share of the epoch's examples to train on (the first ones)")
		fs.IntVar(&o.batch, "batch", 8, "rows per batch, grouped by length")
		run = func() error { return runEpoch(o) }
	case "micro":
		o := microOptions{}
		fs.IntVar(&o.reps, "reps", 3, "repetitions (best is reported)")
		fs.StringVar(&o.which, "only", "", "gemm, head or attention (default: all)")
		run = func() error { return runMicro(o) }
	case "leak":
		o := leakOptions{}
		fs.IntVar(&o.steps, "steps", 1000, "steps (RSS is read after 100 and after this many)")
		fs.IntVar(&o.batch, "batch", 4, "rows per step")
		fs.IntVar(&o.seq, "seq", 64, "tokens per row")
		run = func() error { return runLeak(o) }
	default:
		fmt.Fprintf(os.Stderr, "train: unknown mode %q (tokens, profile, epoch, leak)\n", mode)
		os.Exit(2)
	}
	_ = fs.Parse(args)
	err := torch.Do(context.Background(), func() error {
		if *threads > 0 {
			if err := torch.SetNumThreads(*threads); err != nil {
				return err
			}
		}
		if *cacheMB > 0 {
			return torch.EnableCPUCache(int64(*cacheMB) << 20)
		}
		return nil
	})
	if err == nil {
		err = run()
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "train:", err)
		os.Exit(1)
	}
}

// emit prints one JSON line with the fields every measurement carries.
func emit(fields map[string]any) error {
	fields["impl"] = "golamini"
	var n int
	_ = torch.Do(context.Background(), func() error {
		n, _ = torch.NumThreads()
		return nil
	})
	fields["threads"] = n
	if c := torch.CPUCacheInfo(); c.LimitBytes > 0 {
		fields["cpu_cache"] = c
	}
	if _, ok := fields["peak_rss_mb"]; !ok {
		fields["peak_rss_mb"] = procStatusMB("VmHWM")
	}
	fields["load"] = loadAvg()
	return json.NewEncoder(os.Stdout).Encode(fields)
}

// cpuTime returns the CPU seconds (user + system) of the whole process so far.
func cpuTime() float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()).Seconds()
}

// procStatusMB reads a kB field of /proc/self/status (VmRSS, VmHWM) in MB.
func procStatusMB(field string) float64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, field+":") {
			f := strings.Fields(line[len(field)+1:])
			if len(f) > 0 {
				kb, _ := strconv.ParseFloat(f[0], 64)
				return kb / 1024
			}
		}
	}
	return 0
}

// resetPeakRSS starts VmHWM over from the current RSS (Linux ≥ 4.0), so that
// a later reading covers only what follows (not a warm-up's checkpoint write).
func resetPeakRSS() {
	runtime.GC()
	debug.FreeOSMemory()
	_ = os.WriteFile("/proc/self/clear_refs", []byte("5"), 0)
}

// loadAvg returns the 1-minute load average.
func loadAvg() float64 {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return 0
	}
	f := strings.Fields(string(b))
	v, _ := strconv.ParseFloat(f[0], 64)
	return v
}

func minOf(v []float64) float64 {
	m := v[0]
	for _, x := range v {
		m = min(m, x)
	}
	return m
}

func median(v []float64) float64 {
	s := append([]float64(nil), v...)
	sort.Float64s(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}
