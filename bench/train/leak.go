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
// (AdamW, clipping) and reads the resident set size after every step, each
// time after a Go garbage collection: the Go heap holds each step's garbage
// (batch slices, about 40 KB) until its collector runs, which with GOGC=100
// is when the heap has doubled, tens of MB that come and go; collecting
// every step keeps that out of the comparison. RSS also moves between
// steps by whole gradient-sized blocks (the allocation cache gives one back
// to the system and takes it again), so the comparison is of the largest
// RSS over steps 51–100 against the largest over the last 50 steps.
func runLeak(o leakOptions) error {
	dir, err := os.MkdirTemp("", "golamini-bench-leak-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	rows := randomRows(o.steps*o.batch, o.seq, 2)
	type point struct {
		Step   int     `json:"step"`
		RSSMB  float64 `json:"rss_mb"`     // the largest after any of the last 100 steps
		HeapMB float64 `json:"go_heap_mb"` // live Go heap after the collection
	}
	rss := make([]float64, o.steps+1) // by step
	var points []point
	err = torch.Do(context.Background(), func() error {
		m, err := model.NewRandom(smallConfig(), model.DefaultLoadOptions(), 1)
		if err != nil {
			return err
		}
		defer m.Free()
		a := benchArgs(dir, o.batch, o.steps)
		a.LoggingSteps = 1
		tr := &train.Trainer{Args: a, Model: m, Train: rows, PadID: 0, Log: zerolog.Nop(), OnLog: func(e train.LogEntry) {
			if e.Loss == nil || e.Step > o.steps {
				return
			}
			runtime.GC()
			rss[e.Step] = procStatusMB("VmRSS")
			if e.Step%100 == 0 {
				var ms runtime.MemStats
				runtime.ReadMemStats(&ms)
				points = append(points, point{Step: e.Step, RSSMB: maxOf(rss[max(1, e.Step-99) : e.Step+1]), HeapMB: float64(ms.HeapInuse) / (1 << 20)})
			}
		}}
		_, err = tr.Run(context.Background())
		return err
	})
	if err != nil {
		return err
	}
	early, late := maxOf(rss[51:101]), maxOf(rss[o.steps-49:o.steps+1])
	c := smallConfig()
	return emit(map[string]any{
		"bench": "leak", "steps": o.steps, "batch": o.batch, "seq": o.seq,
		"model":         map[string]int{"layers": c.NumHiddenLayers, "hidden": c.HiddenSize, "heads": c.NumAttentionHeads, "intermediate": c.IntermediateSize, "vocab": c.VocabSize},
		"rss_mb_at_100": early, "rss_mb_at_end": late, "growth_pct": 100 * (late - early) / early, "points": points,
		"rss_min_mb_last_50": minOf(rss[o.steps-49 : o.steps+1]),
	})
}

func maxOf(v []float64) float64 {
	m := v[0]
	for _, x := range v {
		m = max(m, x)
	}
	return m
}
