package main

import (
	"context"
	"math/rand/v2"
	"os"
	"time"

	"github.com/rs/zerolog"

	"github.com/golamini/golamini/internal/data"
	"github.com/golamini/golamini/internal/model"
	"github.com/golamini/golamini/internal/torch"
	"github.com/golamini/golamini/internal/train"
)

type tokensOptions struct {
	steps, warmup, batch, seq int
}

// randomRows returns n rows of length seq with ids drawn uniformly from the
// Pythia tokenizer's 50,277 ids (labels = inputs, as in causal LM training).
func randomRows(n, seq int, seed uint64) []data.Tokenized {
	rng := rand.New(rand.NewPCG(seed, 7))
	rows := make([]data.Tokenized, n)
	for i := range rows {
		ids := make([]int, seq)
		for j := range ids {
			ids[j] = rng.IntN(50277)
		}
		rows[i] = data.Tokenized{InputIDs: ids, Labels: ids}
	}
	return rows
}

// benchArgs are the settings every mode trains with: AdamW (HF's defaults:
// lr 5e-5 linear, clipping at 1.0), fixed order, nothing saved.
func benchArgs(dir string, batch, steps int) train.Args {
	a := train.DefaultArgs()
	a.OutputDir, a.Optim = dir, "adamw"
	a.PerDeviceTrainBatchSize, a.MaxSteps = batch, steps
	a.Shuffle, a.GroupByLength = false, new(bool)
	a.LoggingSteps, a.SaveStrategy = 1, "no"
	return a
}

// stepClock records wall and CPU time at every logged step.
type stepClock struct {
	wall []time.Time
	cpu  []float64
	loss []float64
	hwm  float64 // VmHWM (MB) at the last logged step: before the final model write
}

func (c *stepClock) onLog(e train.LogEntry) {
	if e.Loss == nil {
		return
	}
	c.wall = append(c.wall, time.Now())
	c.cpu = append(c.cpu, cpuTime())
	c.loss = append(c.loss, *e.Loss)
	c.hwm = procStatusMB("VmHWM")
}

// durations returns the wall and CPU seconds of the steps after the first skip logged ones.
func (c *stepClock) durations(skip int) (wall, cpu []float64) {
	for i := max(skip, 1); i < len(c.wall); i++ {
		wall = append(wall, c.wall[i].Sub(c.wall[i-1]).Seconds())
		cpu = append(cpu, c.cpu[i]-c.cpu[i-1])
	}
	return wall, cpu
}

// runTokens trains a pythia-70m-shaped model (random weights, fp32) with the
// real Trainer and reports tokens/s of the steps after warm-up.
func runTokens(o tokensOptions) error {
	dir, err := os.MkdirTemp("", "golamini-bench-train-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	total := o.warmup + o.steps
	rows := randomRows(total*o.batch, o.seq, 1)
	clock := &stepClock{}
	err = torch.Do(context.Background(), func() error {
		m, err := model.NewRandom(model.Pythia70M(), model.DefaultLoadOptions(), 1)
		if err != nil {
			return err
		}
		defer m.Free()
		tr := &train.Trainer{Args: benchArgs(dir, o.batch, total), Model: m, Train: rows, PadID: 0,
			Log: zerolog.Nop(), OnLog: clock.onLog}
		_, err = tr.Run(context.Background())
		return err
	})
	if err != nil {
		return err
	}
	wall, cpu := clock.durations(o.warmup)
	tokens := float64(o.batch * o.seq)
	return emit(map[string]any{
		"bench": "tokens", "batch": o.batch, "seq": o.seq, "steps": len(wall),
		"tokens_per_s": tokens / minOf(wall), "tokens_per_s_median": tokens / median(wall),
		"step_s": wall, "cpu_s_per_step": minOf(cpu), "cpu_s": cpu, "losses": clock.loss,
		"peak_rss_mb": clock.hwm, // up to the last step (the trainer then writes the final model)
	})
}
