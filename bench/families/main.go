// Command families measures golamini's decode and training speed for the
// Llama-style families (bench/families/run.sh runs it beside
// hf_families.py): a model of a real config.json's shape with random fp32
// weights, greedy decoding at batch 1 with a KV cache, and training tokens/s
// with AdamW through the real Trainer. It prints one JSON line.
//
//	families -config testdata/families/configs/smollm2-135m.json -mode decode|train|floor [-override JSON]
//
// -mode floor prints the training step's matrix-product floor instead
// (bench/internal/floor): the step's FLOPs, each product shape's GFLOP/s
// as libtorch runs it at this thread count, and the step time and tokens/s
// no implementation on this libtorch can beat.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"syscall"
	"time"

	"github.com/rs/zerolog"

	"github.com/golamini/golamini/bench/internal/floor"
	"github.com/golamini/golamini/internal/data"
	"github.com/golamini/golamini/internal/generate"
	"github.com/golamini/golamini/internal/model"
	"github.com/golamini/golamini/internal/torch"
	"github.com/golamini/golamini/internal/train"
)

func main() {
	cfgPath := flag.String("config", "", "config.json whose shape to build (random weights)")
	override := flag.String("override", "", "JSON object of config fields to replace (smaller smoke runs)")
	mode := flag.String("mode", "decode", "decode, train or floor (the training step's matrix-product floor)")
	newTokens := flag.Int("new-tokens", 128, "decode: tokens to generate")
	promptLen := flag.Int("prompt", 16, "decode: prompt length")
	batch := flag.Int("batch", 4, "train: rows per step")
	seq := flag.Int("seq", 512, "train: tokens per row")
	steps := flag.Int("steps", 3, "train: timed steps (after one warm-up step); floor: rounds of timings over the product shapes")
	reps := flag.Int("reps", 3, "decode: repetitions (best is reported)")
	threads := flag.Int("threads", 0, "libtorch intra-op threads (0: default)")
	flag.Parse()
	if err := run(*cfgPath, *override, *mode, *newTokens, *promptLen, *batch, *seq, *steps, *reps, *threads); err != nil {
		fmt.Fprintln(os.Stderr, "families:", err)
		os.Exit(1)
	}
}

func loadConfig(path, override string) (model.Config, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return model.Config{}, err
	}
	if override != "" {
		var base, over map[string]any
		if err := json.Unmarshal(b, &base); err != nil {
			return model.Config{}, err
		}
		if err := json.Unmarshal([]byte(override), &over); err != nil {
			return model.Config{}, fmt.Errorf("-override: %w", err)
		}
		for k, v := range over {
			base[k] = v
		}
		if b, err = json.Marshal(base); err != nil {
			return model.Config{}, err
		}
	}
	return model.ParseConfig(b, path)
}

func run(cfgPath, override, mode string, newTokens, promptLen, batch, seq, steps, reps, threads int) error {
	cfg, err := loadConfig(cfgPath, override)
	if err != nil {
		return err
	}
	return torch.Do(context.Background(), func() error {
		if threads > 0 {
			if err := torch.SetNumThreads(threads); err != nil {
				return err
			}
		}
		n, err := torch.NumThreads()
		if err != nil {
			return err
		}
		if mode == "floor" {
			rep, err := floor.Measure(cfg, floor.Step{Batch: batch, Seq: seq, Mode: floor.Full}, steps)
			if err != nil {
				return err
			}
			return json.NewEncoder(os.Stdout).Encode(map[string]any{"impl": "floor", "family": cfg.Family(), "mode": "floor", "floor": rep})
		}
		m, err := model.NewRandom(cfg, model.DefaultLoadOptions(), 1)
		if err != nil {
			return err
		}
		defer m.Free()
		out := map[string]any{"impl": "golamini", "family": cfg.Family(), "parameters": cfg.NumParameters(false), "torch_threads": n}
		switch mode {
		case "decode":
			err = decode(m, newTokens, promptLen, reps, out)
		case "train":
			err = trainTokens(m, batch, seq, steps, out)
		default:
			err = fmt.Errorf("-mode %q: decode or train", mode)
		}
		if err != nil {
			return err
		}
		return json.NewEncoder(os.Stdout).Encode(out)
	})
}

func decode(m *model.Model, newTokens, promptLen, reps int, out map[string]any) error {
	prompt := make([]int, promptLen)
	for i := range prompt {
		prompt[i] = (100 + i*37) % m.Config.VocabSize
	}
	o := generate.DefaultOptions()
	o.MaxNewTokens, o.StopAtEOS = newTokens, false
	warm := o
	warm.MaxNewTokens = 8
	if _, err := generate.Generate(context.Background(), m, [][]int{prompt}, warm, nil); err != nil {
		return err
	}
	best := 0.0
	var runs []float64
	for r := 0; r < reps; r++ {
		start := time.Now()
		res, err := generate.Generate(context.Background(), m, [][]int{prompt}, o, nil)
		if err != nil {
			return err
		}
		if len(res[0].NewIDs) != newTokens {
			return fmt.Errorf("generated %d tokens, want %d", len(res[0].NewIDs), newTokens)
		}
		tps := float64(newTokens) / time.Since(start).Seconds()
		runs = append(runs, tps)
		best = max(best, tps)
	}
	out["mode"], out["new_tokens"], out["tokens_per_s"], out["runs"] = "decode", newTokens, best, runs
	return nil
}

func trainTokens(m *model.Model, batch, seq, steps int, out map[string]any) error {
	dir, err := os.MkdirTemp("", "golamini-bench-families-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	total := steps + 1
	rng := rand.New(rand.NewPCG(1, 2))
	rows := make([]data.Tokenized, total*batch)
	for i := range rows {
		ids := make([]int, seq)
		for j := range ids {
			ids[j] = 3 + rng.IntN(m.Config.VocabSize-3)
		}
		rows[i] = data.Tokenized{InputIDs: ids, Labels: ids}
	}
	a := train.DefaultArgs()
	a.OutputDir, a.Optim, a.LearningRate, a.MaxSteps = dir, "adamw", 1e-4, total
	a.PerDeviceTrainBatchSize, a.GradientAccumulationStep = batch, 1
	a.Shuffle, a.GroupByLength, a.LoggingSteps, a.SaveStrategy = false, new(bool), 1, "no"
	var stamps []time.Time
	var usage []syscall.Rusage
	tr := &train.Trainer{Args: a, Model: m, Train: rows, PadID: 0, Log: zerolog.Nop(),
		OnLog: func(e train.LogEntry) {
			if e.Loss != nil {
				stamps = append(stamps, time.Now())
				var ru syscall.Rusage
				_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
				usage = append(usage, ru)
			}
		}}
	if _, err := tr.Run(context.Background()); err != nil {
		return err
	}
	best := 0.0
	for i := 1; i < len(stamps); i++ {
		best = max(best, float64(batch*seq)/stamps[i].Sub(stamps[i-1]).Seconds())
	}
	out["mode"], out["batch"], out["seq"], out["steps"], out["tokens_per_s"] = "train", batch, seq, len(stamps)-1, best
	if n := len(usage); n > 1 {
		sec := func(t syscall.Timeval) float64 { return float64(t.Sec) + float64(t.Usec)/1e6 }
		user := sec(usage[n-1].Utime) - sec(usage[0].Utime)
		sys := sec(usage[n-1].Stime) - sec(usage[0].Stime)
		out["kernel_cpu_share"] = sys / (user + sys)
		out["peak_rss_mb"] = float64(usage[n-1].Maxrss) / 1024 // kB on Linux
	}
	return nil
}
