package main

import (
	"context"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"time"

	"github.com/rs/zerolog"

	"github.com/golamini/golamini/internal/data"
	"github.com/golamini/golamini/internal/model"
	"github.com/golamini/golamini/internal/tokenizer"
	"github.com/golamini/golamini/internal/torch"
	"github.com/golamini/golamini/internal/train"
)

type epochOptions struct {
	data, tokenizer string
	fraction        float64
	batch           int
}

// runEpoch trains one epoch over the first fraction of the lamini_docs train
// split (question + answer + EOS, the Pythia tokenizer, left truncation at
// 2048) with length-grouped, shuffled batches padded to their longest row,
// and extrapolates the wall time to the whole split. The split has one row
// whose question and answer are both empty: data.ReadJSONLines skips it (and
// hf_train.py too), so both sides see 1,259 rows. A one-step warm-up run
// comes first, as HF's side does one untimed step; the weights it changed
// stay (random weights either way).
func runEpoch(o epochOptions) error {
	ex, _, err := data.ReadJSONLines(o.data, "question", "answer")
	if err != nil {
		return err
	}
	tok, err := tokenizer.LoadFile(o.tokenizer)
	if err != nil {
		return err
	}
	rows, err := data.Tokenize(ex, tok, data.DefaultTokenizeOptions())
	if err != nil {
		return err
	}
	n := max(1, int(math.Round(float64(len(rows))*o.fraction)))
	sub := rows[:n]
	maxLen, real := 0, 0
	for _, r := range rows {
		maxLen = max(maxLen, len(r.InputIDs))
	}
	for _, r := range sub {
		real += len(r.InputIDs)
	}
	dir, err := os.MkdirTemp("", "golamini-bench-epoch-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	a := benchArgs(dir, o.batch, -1)
	a.NumTrainEpochs, a.Shuffle, a.GroupByLength = 1, true, nil // nil: grouped, as shuffling
	clock := &stepClock{}
	var padded int
	var wall, cpu float64
	err = torch.Do(context.Background(), func() error {
		m, err := model.NewRandom(model.Pythia70M(), model.DefaultLoadOptions(), 1)
		if err != nil {
			return err
		}
		defer m.Free()
		// The batches the trainer will form (same sampler, same options):
		// count their padded positions.
		s, err := data.NewSampler(data.Lengths(sub), data.SamplerOptions{BatchSize: a.PerDeviceTrainBatchSize, Shuffle: a.Shuffle, Seed: a.Seed, GroupByLength: true})
		if err != nil {
			return err
		}
		for range s.BatchesPerEpoch() {
			w := 0
			idx := s.Next()
			for _, k := range idx {
				w = max(w, len(sub[k].InputIDs))
			}
			padded += w * len(idx)
		}
		// Warm-up, as the HF side does one untimed step: one step on the
		// longest batch (the first the sampler gives), in a throw-away run.
		warm := a
		warm.MaxSteps, warm.OutputDir = 1, filepath.Join(dir, "warm-up")
		wt := &train.Trainer{Args: warm, Model: m, Train: sub, PadID: tok.EOSID(), Log: zerolog.Nop()}
		if _, err := wt.Run(context.Background()); err != nil {
			return fmt.Errorf("warm-up: %w", err)
		}
		tr := &train.Trainer{Args: a, Model: m, Train: sub, PadID: tok.EOSID(), Log: zerolog.Nop(), OnLog: clock.onLog}
		resetPeakRSS() // the warm-up's final model write is not training
		c0, t0 := cpuTime(), time.Now()
		if _, err = tr.Run(context.Background()); err != nil {
			return err
		}
		if len(clock.wall) == 0 {
			return fmt.Errorf("no step was logged")
		}
		// Up to the last step's log: the final model write is not training.
		wall, cpu = clock.wall[len(clock.wall)-1].Sub(t0).Seconds(), clock.cpu[len(clock.cpu)-1]-c0
		return nil
	})
	if err != nil {
		return err
	}
	return emit(map[string]any{
		"bench": "epoch", "rows": len(rows), "examples": n, "fraction": float64(n) / float64(len(rows)), "max_len": maxLen,
		"batch": o.batch, "steps": len(clock.wall), "padded_tokens": padded, "real_tokens": real,
		"wall_s": wall, "cpu_s": cpu, "epoch_wall_s": wall * float64(len(rows)) / float64(n), "epoch_cpu_s": cpu * float64(len(rows)) / float64(n),
		"first_loss": clock.loss[0], "last_loss": clock.loss[len(clock.loss)-1],
		"peak_rss_mb": clock.hwm, // timed run up to its last step
	})
}
