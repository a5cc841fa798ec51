package main

import (
	"context"
	"os"
	"runtime"

	"github.com/rs/zerolog"

	"github.com/golamini/golamini/internal/model"
	"github.com/golamini/golamini/internal/torch"
	"github.com/golamini/golamini/internal/train"
)

type leakOptions struct {
	steps, batch, seq int
}

// smallConfig is a GPT-NeoX shaped like Pythia but small enough that 1000
// steps take a few minutes on 2 cores: 2 layers, hidden 128, 4 heads,
// intermediate 512, the full 50,304-word vocabulary (so the loss over the
// vocabulary, the biggest allocation of a step, is exercised).
func smallConfig() model.Config {
	c := model.Pythia70M()
	c.HiddenSize, c.NumHiddenLayers, c.NumAttentionHeads, c.IntermediateSize = 128, 2, 4, 512
	_ = c.Validate()
	return c
}

// runLeak trains the small model for o.steps steps with the real Trainer
// (AdamW, clipping, logging every 100 steps) and reports the resident set
// size at every 100th step.
func runLeak(o leakOptions) error {
	dir, err := os.MkdirTemp("", "golamini-bench-leak-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	rows := randomRows(o.steps*o.batch, o.seq, 2)
	type point struct {
		Step   int     `json:"step"`
		RSSMB  float64 `json:"rss_mb"`
		HeapMB float64 `json:"go_heap_mb"`
	}
	var points []point
	err = torch.Do(func() error {
		m, err := model.NewRandom(smallConfig(), model.DefaultLoadOptions(), 1)
		if err != nil {
			return err
		}
		defer m.Free()
		a := benchArgs(dir, o.batch, o.steps)
		a.LoggingSteps = 100
		tr := &train.Trainer{Args: a, Model: m, Train: rows, PadID: 0, Log: zerolog.Nop(), OnLog: func(e train.LogEntry) {
			if e.Loss == nil {
				return
			}
			var ms runtime.MemStats
			runtime.ReadMemStats(&ms)
			points = append(points, point{Step: e.Step, RSSMB: procStatusMB("VmRSS"), HeapMB: float64(ms.HeapInuse) / (1 << 20)})
		}}
		_, err = tr.Run(context.Background())
		return err
	})
	if err != nil {
		return err
	}
	at := func(step int) float64 {
		for _, p := range points {
			if p.Step == step {
				return p.RSSMB
			}
		}
		return 0
	}
	r100, rN := at(100), at(o.steps)
	c := smallConfig()
	return emit(map[string]any{
		"bench": "leak", "steps": o.steps, "batch": o.batch, "seq": o.seq,
		"model":         map[string]int{"layers": c.NumHiddenLayers, "hidden": c.HiddenSize, "heads": c.NumAttentionHeads, "intermediate": c.IntermediateSize, "vocab": c.VocabSize},
		"rss_mb_at_100": r100, "rss_mb_at_end": rN, "growth_pct": 100 * (rN - r100) / r100, "points": points,
	})
}
