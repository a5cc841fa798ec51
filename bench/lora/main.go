// Command lora measures golamini's LoRA training speed and memory, one JSON
// line per run; bench/lora/run.sh runs it side by side with HF transformers
// + PEFT (bench/lora/hf_lora.py) and prints the table.
//
//	go run ./bench/lora [-shape pythia-410m|qwen2.5-0.5b|tiny] [-r 16] [-batch 4] [-seq 512] [-steps 3] [-warmup 1] [-threads N]
//
// The model has random weights (float32) and the shape of the named model;
// the adapter has rank r, lora_alpha 2r, on the attention projections
// (query_key_value and dense for GPT-NeoX; q, k, v and o_proj for Qwen2),
// as PEFT's side. Training is the
// real Trainer: AdamW over the adapter only, clipping at 1.0, fixed order.
// Reported: tokens/s of the best timed step (and the median), process CPU
// seconds per step, and peak resident memory (VmHWM) up to the last step.
//
// With -frozen there is no adapter: the same rows go forward and backward
// through the frozen model with only layer 0's input norm weight requiring
// a gradient, so backward carries the activations' gradients through every
// layer (as LoRA's must) but computes no weight gradient and no optimizer
// step. LoRA's step time minus this one is what the adapter path costs.
//
// With -floor nothing trains: it prints the matrix-product floor of both
// steps (bench/internal/floor): each step's FLOPs, each product shape's
// GFLOP/s as libtorch runs it at this thread count, and the step time and
// tokens/s no implementation on this libtorch can beat.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/rs/zerolog"

	"github.com/golamini/golamini/bench/internal/floor"
	"github.com/golamini/golamini/internal/data"
	"github.com/golamini/golamini/internal/lora"
	"github.com/golamini/golamini/internal/model"
	"github.com/golamini/golamini/internal/torch"
	"github.com/golamini/golamini/internal/train"
)

// shape returns the model configuration benchmarked (HF config.json
// values) and the adapter's targets: the attention projections.
func shape(name string) (model.Config, []string, error) {
	switch name {
	case "pythia-410m", "tiny": // EleutherAI/pythia-410m; tiny for smoke runs
		c := model.DefaultConfig()
		c.Architectures = []string{"GPTNeoXForCausalLM"}
		bos := 0
		c.BOSTokenID, c.EOSTokenID = &bos, model.IDsOf(0)
		if name == "tiny" {
			c.VocabSize, c.HiddenSize, c.NumHiddenLayers, c.NumAttentionHeads, c.IntermediateSize = 1024, 64, 2, 4, 256
			c.MaxPositionEmbeddings = 512
		} else {
			c.VocabSize, c.HiddenSize, c.NumHiddenLayers, c.NumAttentionHeads, c.IntermediateSize = 50304, 1024, 24, 16, 4096
			c.MaxPositionEmbeddings = 2048
		}
		c.RotaryPct = 0.25
		return c, []string{"query_key_value", "dense"}, c.Validate()
	case "qwen2.5-0.5b": // Qwen/Qwen2.5-0.5B's config.json
		c, err := model.DefaultConfigFor("qwen2")
		if err != nil {
			return c, nil, err
		}
		c.Architectures = []string{"Qwen2ForCausalLM"}
		c.VocabSize, c.HiddenSize, c.NumHiddenLayers, c.NumAttentionHeads, c.NumKeyValueHeads = 151936, 896, 24, 14, 2
		c.IntermediateSize, c.MaxPositionEmbeddings, c.RMSNormEps, c.TieWordEmbeddings = 4864, 32768, 1e-6, true
		theta := 1000000.0
		c.RopeTheta = &theta
		return c, []string{"q_proj", "k_proj", "v_proj", "o_proj"}, c.Validate()
	}
	return model.Config{}, nil, fmt.Errorf("unknown shape %q (pythia-410m, qwen2.5-0.5b, tiny)", name)
}

func main() {
	name := flag.String("shape", "pythia-410m", "model shape: pythia-410m, qwen2.5-0.5b or tiny")
	r := flag.Int("r", 16, "LoRA rank (lora_alpha = 2r)")
	batch := flag.Int("batch", 4, "rows per step")
	seq := flag.Int("seq", 512, "tokens per row")
	steps := flag.Int("steps", 3, "timed steps")
	warmup := flag.Int("warmup", 1, "untimed warm-up steps")
	threads := flag.Int("threads", 0, "libtorch intra-op threads (0: libtorch's default)")
	ckpt := flag.Bool("gradient-checkpointing", false, "recompute each block in backward")
	frozen := flag.Bool("frozen", false, "time forward and backward through the frozen model without an adapter")
	floorOnly := flag.Bool("floor", false, "print the matrix-product floor of the LoRA and the -frozen step (-steps rounds of timings over the shapes)")
	flag.Parse()
	if *threads > 0 {
		if err := torch.SetNumThreads(*threads); err != nil {
			fmt.Fprintln(os.Stderr, "bench/lora:", err)
			os.Exit(1)
		}
	}
	do := func() error { return run(*name, *r, *batch, *seq, *steps, *warmup, *ckpt) }
	if *frozen {
		do = func() error { return runFrozen(*name, *batch, *seq, *steps, *warmup) }
	}
	if *floorOnly {
		do = func() error { return runFloor(*name, *r, *batch, *seq, *steps) }
	}
	if err := do(); err != nil {
		fmt.Fprintln(os.Stderr, "bench/lora:", err)
		os.Exit(1)
	}
}

// randomRows returns n rows of seq random token ids, each its own labels.
func randomRows(n, seq, vocab int) []data.Tokenized {
	rng := rand.New(rand.NewPCG(1, 7))
	rows := make([]data.Tokenized, n)
	for i := range rows {
		ids := make([]int, seq)
		for j := range ids {
			ids[j] = rng.IntN(vocab)
		}
		rows[i] = data.Tokenized{InputIDs: ids, Labels: ids}
	}
	return rows
}

func run(name string, r, batch, seq, steps, warmup int, ckpt bool) error {
	cfg, targets, err := shape(name)
	if err != nil {
		return err
	}
	dir, err := os.MkdirTemp("", "golamini-bench-lora-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	total := warmup + steps
	rows := randomRows(total*batch, seq, cfg.VocabSize)
	a := train.DefaultArgs()
	a.OutputDir, a.Optim, a.LearningRate = dir, "adamw", 1e-4
	a.PerDeviceTrainBatchSize, a.MaxSteps = batch, total
	a.Shuffle, a.GroupByLength = false, new(bool)
	a.LoggingSteps, a.SaveStrategy = 1, "no"
	a.GradientCheckpointing = ckpt
	lc := lora.NewConfig(r, float64(2*r), 0, targets)
	var wall []time.Time
	var cpu []float64
	var hwm float64
	var trainable int64
	err = torch.Do(context.Background(), func() error {
		m, err := model.NewRandom(cfg, model.DefaultLoadOptions(), 1)
		if err != nil {
			return err
		}
		defer m.Free()
		tr := &train.Trainer{Args: a, Model: m, Train: rows, Log: zerolog.Nop(), LoRA: &lc, OnLog: func(e train.LogEntry) {
			if e.Loss != nil {
				wall = append(wall, time.Now())
				cpu = append(cpu, cpuSeconds())
				hwm = procStatusMB("VmHWM")
			}
		}}
		res, err := tr.Run(context.Background())
		if res.Adapter != nil {
			trainable = res.Adapter.NumParameters()
			res.Adapter.Detach(m)
			res.Adapter.Free()
		}
		return err
	})
	if err != nil {
		return err
	}
	return report(map[string]any{"impl": "golamini", "shape": name, "r": r, "batch": batch, "seq": seq,
		"gradient_checkpointing": ckpt, "trainable_parameters": trainable, "peak_rss_mb": hwm}, wall, cpu, warmup, steps)
}

// report writes one JSON line: fields plus the step times between the
// timestamps wall (and CPU seconds cpu) after the warm-up.
func report(fields map[string]any, wall []time.Time, cpu []float64, warmup, steps int) error {
	var stepS, cpuS []float64
	for i := max(warmup, 1); i < len(wall); i++ {
		stepS = append(stepS, wall[i].Sub(wall[i-1]).Seconds())
		cpuS = append(cpuS, cpu[i]-cpu[i-1])
	}
	if len(stepS) == 0 {
		return fmt.Errorf("no timed steps (steps %d, warmup %d)", steps, warmup)
	}
	sorted := append([]float64(nil), stepS...)
	sort.Float64s(sorted)
	tokens := float64(fields["batch"].(int) * fields["seq"].(int))
	threads, _ := torch.NumThreads()
	fields["threads"] = threads
	fields["tokens_per_s"], fields["tokens_per_s_median"] = tokens/sorted[0], tokens/sorted[len(sorted)/2]
	fields["step_s"], fields["cpu_s_per_step"] = stepS, minOf(cpuS)
	return json.NewEncoder(os.Stdout).Encode(fields)
}

// runFrozen times forward + backward through the frozen model (see -frozen).
func runFrozen(name string, batch, seq, steps, warmup int) error {
	cfg, _, err := shape(name)
	if err != nil {
		return err
	}
	rows := randomRows(batch, seq, cfg.VocabSize)
	in := make([]int64, 0, batch*seq)
	tg := make([]int64, 0, batch*(seq-1))
	for _, r := range rows {
		for j, id := range r.InputIDs {
			in = append(in, int64(id))
			if j > 0 {
				tg = append(tg, int64(id))
			}
		}
	}
	wall := []time.Time{time.Now()}
	cpu := []float64{cpuSeconds()}
	var hwm float64
	err = torch.Do(context.Background(), func() error {
		m, err := model.NewRandom(cfg, model.DefaultLoadOptions(), 1)
		if err != nil {
			return err
		}
		defer m.Free()
		for _, p := range m.Parameters() {
			if err := p.Tensor.SetRequiresGrad(false); err != nil {
				return err
			}
		}
		probe := m.Layers[0].Norm1.W // the one weight that asks for a gradient
		if err := probe.SetRequiresGrad(true); err != nil {
			return err
		}
		B, T, H := int64(batch), int64(seq), int64(cfg.HiddenSize)
		for i := 0; i < warmup+steps; i++ {
			s := torch.NewScope()
			ids, targets := s.Int64(in, B, T), s.Int64(tg, B*(T-1))
			h := m.Forward(s, ids, model.Pass{})
			h = s.Reshape(s.Narrow(h, 1, 0, T-1), B*(T-1), H) // [B·(T−1), H]
			loss := s.LinearCrossEntropy(h, m.OutputProjection(), targets, torch.CrossEntropyOptions{IgnoreIndex: data.IgnoreIndex, GradScale: 1})
			err := s.Err()
			if err == nil {
				err = loss.Backward()
			}
			s.Close()
			if err != nil {
				return err
			}
			wall, cpu = append(wall, time.Now()), append(cpu, cpuSeconds())
			hwm = procStatusMB("VmHWM")
		}
		return nil
	})
	if err != nil {
		return err
	}
	return report(map[string]any{"impl": "golamini-frozen", "shape": name, "batch": batch, "seq": seq, "peak_rss_mb": hwm},
		wall[1:], cpu[1:], warmup, steps)
}

// runFloor prints the floors of the LoRA step and the -frozen step in one
// JSON line (the two share most product shapes; each is probed once).
func runFloor(name string, r, batch, seq, runs int) error {
	cfg, targets, err := shape(name)
	if err != nil {
		return err
	}
	steps := map[string]floor.Step{
		"lora":   {Batch: batch, Seq: seq, Mode: floor.LoRA, LoRARank: r, LoRATargets: targets},
		"frozen": {Batch: batch, Seq: seq, Mode: floor.Frozen},
	}
	out := map[string]any{"impl": "floor", "shape": name, "r": r, "batch": batch, "seq": seq}
	err = torch.Do(context.Background(), func() error {
		counted := map[string][]floor.Product{}
		var all []floor.Product
		for k, st := range steps {
			ps, err := floor.Count(cfg, st)
			if err != nil {
				return err
			}
			counted[k] = ps
			all = append(all, ps...)
		}
		rates, err := floor.Probe(all, runs)
		if err != nil {
			return err
		}
		for k, st := range steps {
			rep, err := floor.Summarize(st, counted[k], rates)
			if err != nil {
				return err
			}
			out[k] = rep
		}
		return nil
	})
	if err != nil {
		return err
	}
	return json.NewEncoder(os.Stdout).Encode(out)
}

func minOf(v []float64) float64 {
	m := v[0]
	for _, x := range v {
		m = min(m, x)
	}
	return m
}

// cpuSeconds is the process's user + system CPU time (all threads).
func cpuSeconds() float64 {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return float64(ru.Utime.Sec+ru.Stime.Sec) + float64(ru.Utime.Usec+ru.Stime.Usec)/1e6
}

// procStatusMB reads a "Vm…: N kB" line of /proc/self/status in MB.
func procStatusMB(key string) float64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, key+":"); ok {
			f := strings.Fields(rest)
			if len(f) > 0 {
				kb, _ := strconv.ParseFloat(f[0], 64)
				return kb / 1024
			}
		}
	}
	return 0
}
