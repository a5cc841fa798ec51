package train

import (
	"context"
	"encoding/json"
	"errors"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rs/zerolog"

	"github.com/golamini/golamini/internal/data"
	"github.com/golamini/golamini/internal/model"
	"github.com/golamini/golamini/internal/testutil"
	"github.com/golamini/golamini/internal/torch"
)

type trainGoldens struct {
	EOS   int     `json:"eos"`
	Rows  [][]int `json:"rows"`
	Cases []struct {
		Name      string    `json:"name"`
		Optim     string    `json:"optim"`
		LR        float64   `json:"lr"`
		BatchSize int       `json:"batch_size"`
		GradAccum int       `json:"grad_accum"`
		Steps     int       `json:"steps"`
		Rows      int       `json:"rows"`
		Losses    []float64 `json:"losses"`
	} `json:"cases"`
}

func loadTrainGoldens(t *testing.T) trainGoldens {
	b, err := os.ReadFile(testutil.Testdata(t, "train", "goldens.json"))
	if err != nil {
		t.Fatal(err)
	}
	var g trainGoldens
	if err := json.Unmarshal(b, &g); err != nil {
		t.Fatal(err)
	}
	return g
}

func tokenized(rows [][]int) []data.Tokenized {
	out := make([]data.Tokenized, len(rows))
	for i, r := range rows {
		out[i] = data.Tokenized{InputIDs: r, Labels: r}
	}
	return out
}

// reproArgs are the reference script's settings: fixed order, constant lr,
// no clipping, no weight decay, nothing saved.
func reproArgs(dir, optim string, lr float64, bs, ga, steps int) Args {
	a := DefaultArgs()
	a.OutputDir, a.Optim, a.LearningRate = dir, optim, lr
	a.PerDeviceTrainBatchSize, a.GradientAccumulationStep, a.MaxSteps = bs, ga, steps
	a.LRSchedulerType, a.MaxGradNorm, a.WeightDecay = "constant", 0, 0
	a.Shuffle, a.GroupByLength = false, new(bool)
	a.LoggingSteps, a.SaveStrategy = 1, "no"
	return a
}

// trainLosses trains a fresh copy of tiny-seq and returns each step's logged loss.
func trainLosses(t *testing.T, a Args, rows []data.Tokenized, padID int) ([]float64, Result, error) {
	t.Helper()
	var losses []float64
	var res Result
	err := torch.Do(context.Background(), func() error {
		m, err := model.Load(context.Background(), testutil.Testdata(t, "models", "tiny-seq"), model.DefaultLoadOptions())
		if err != nil {
			return err
		}
		defer m.Free()
		tr := &Trainer{Args: a, Model: m, Train: rows, PadID: padID, ModelDir: testutil.Testdata(t, "models", "tiny-seq"),
			Log: zerolog.Nop(), OnLog: func(e LogEntry) {
				if e.Loss != nil {
					losses = append(losses, *e.Loss)
				}
			}}
		res, err = tr.Run(context.Background())
		return err
	})
	return losses, res, err
}

// Every step's loss equals PyTorch's within 1e-4 relative: AdamW and
// Adafactor at batch 1, and batch 2 with padding and accumulation 4.
func TestLossCurveMatchesPyTorch(t *testing.T) {
	g := loadTrainGoldens(t)
	for _, c := range g.Cases {
		for _, ckpt := range []bool{false, true} {
			name := c.Name
			if ckpt {
				name += "-gradient-checkpointing"
			}
			t.Run(name, func(t *testing.T) {
				a := reproArgs(t.TempDir(), c.Optim, c.LR, c.BatchSize, c.GradAccum, c.Steps)
				a.GradientCheckpointing = ckpt
				losses, _, err := trainLosses(t, a, tokenized(g.Rows[:c.Rows]), g.EOS)
				if err != nil {
					t.Fatal(err)
				}
				if len(losses) != len(c.Losses) {
					t.Fatalf("%d losses, want %d", len(losses), len(c.Losses))
				}
				for i := range losses {
					if rel := math.Abs(losses[i]-c.Losses[i]) / math.Abs(c.Losses[i]); rel > 1e-4 {
						t.Errorf("step %d: loss %.7f, PyTorch %.7f (rel %.2g)", i+1, losses[i], c.Losses[i], rel)
					}
				}
			})
		}
	}
}

// Stopping after 3 of 6 steps (by cancellation) and running again resumes
// at step 4 with the same optimizer, schedule and data order: the losses of
// steps 4–6 equal the uninterrupted run's exactly.
func TestResumeEqualsUninterrupted(t *testing.T) {
	g := loadTrainGoldens(t)
	rows := tokenized(g.Rows[:12])
	base := func(dir string) Args {
		a := reproArgs(dir, "adamw", 1e-3, 2, 2, 6)
		a.Shuffle, a.GroupByLength, a.LRSchedulerType, a.WarmupSteps, a.MaxGradNorm, a.WeightDecay = true, nil, "linear", 2, 1.0, 0.01
		return a
	}
	full, _, err := trainLosses(t, base(t.TempDir()), rows, g.EOS)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	var first []float64
	err = torch.Do(context.Background(), func() error {
		m, err := model.Load(context.Background(), testutil.Testdata(t, "models", "tiny-seq"), model.DefaultLoadOptions())
		if err != nil {
			return err
		}
		defer m.Free()
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		tr := &Trainer{Args: base(dir), Model: m, Train: rows, PadID: g.EOS, ModelDir: testutil.Testdata(t, "models", "tiny-seq"), Log: zerolog.Nop(),
			OnLog: func(e LogEntry) {
				if e.Loss != nil {
					first = append(first, *e.Loss)
					if e.Step == 3 {
						cancel()
					}
				}
			}}
		_, err = tr.Run(ctx)
		if !errors.Is(err, ErrCancelled) {
			t.Errorf("cancelled run returned %v, want ErrCancelled", err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "checkpoint-3", "model.safetensors")); err != nil {
		t.Fatalf("no checkpoint after cancel: %v", err)
	}
	rest, res, err := trainLosses(t, base(dir), rows, g.EOS)
	if err != nil {
		t.Fatal(err)
	}
	if res.ResumedFrom == "" || len(first) != 3 || len(rest) != 3 {
		t.Fatalf("resumed from %q; %d then %d losses", res.ResumedFrom, len(first), len(rest))
	}
	got := append(first, rest...)
	for i := range full {
		if got[i] != full[i] {
			t.Errorf("step %d: %v after resume, %v uninterrupted", i+1, got[i], full[i])
		}
	}
	// The final trainer_state.json has HF's log_history layout with every step.
	var st struct {
		LogHistory []map[string]any `json:"log_history"`
		GlobalStep int              `json:"global_step"`
	}
	if err := readJSON(filepath.Join(dir, "trainer_state.json"), &st); err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, e := range st.LogHistory {
		if _, ok := e["loss"]; ok {
			n++
			for _, k := range []string{"step", "epoch", "learning_rate", "grad_norm"} {
				if _, ok := e[k]; !ok {
					t.Errorf("log entry %v lacks %q", e, k)
				}
			}
		}
	}
	if n != 6 || st.GlobalStep != 6 {
		t.Errorf("trainer_state: %d loss entries, global_step %d", n, st.GlobalStep)
	}
	for _, f := range []string{"config.json", "model.safetensors", "tokenizer.json", "generation_config.json", "loss_curve.png", "training_args.json"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Errorf("final output lacks %s", f)
		}
	}
	// The saved model loads and gives the trained weights' loss.
	err = torch.Do(context.Background(), func() error {
		m, err := model.Load(context.Background(), dir, model.DefaultLoadOptions())
		if err != nil {
			return err
		}
		m.Free()
		return nil
	})
	if err != nil {
		t.Fatalf("final model does not load: %v", err)
	}
}

// A checkpoint lacking a rank's rng_state file (one the crash-safe save
// cannot leave: an older version's, or files removed by hand) is refused
// with ErrIncompleteCheckpoint naming the file, whether this run has that
// rank or not; with every file there it resumes, at another world size too.
func TestResumeRefusesIncompleteCheckpoint(t *testing.T) {
	g := loadTrainGoldens(t)
	rows := tokenized(g.Rows[:8])
	args := func(dir string) Args {
		a := reproArgs(dir, "adamw", 1e-3, 2, 1, 3)
		a.SaveStrategy, a.SaveSteps = "steps", 2
		return a
	}
	first := t.TempDir()
	if _, _, err := trainLosses(t, args(first), rows, g.EOS); err != nil {
		t.Fatal(err)
	}
	ck := filepath.Join(first, "checkpoint-2")
	resume := func() error {
		a := args(t.TempDir())
		a.ResumeFromCheckpoint = ck
		_, _, err := trainLosses(t, a, rows, g.EOS)
		return err
	}
	rank0, err := os.ReadFile(filepath.Join(ck, "rng_state_0.json"))
	if err != nil {
		t.Fatalf("the checkpoint has no rank file: %v", err)
	}
	// Rank 0's file missing.
	if err := os.Remove(filepath.Join(ck, "rng_state_0.json")); err != nil {
		t.Fatal(err)
	}
	if err := resume(); !errors.Is(err, ErrIncompleteCheckpoint) || !strings.Contains(err.Error(), "rng_state_0.json") {
		t.Errorf("rng_state_0.json missing: %v, want ErrIncompleteCheckpoint naming it", err)
	}
	if err := os.WriteFile(filepath.Join(ck, "rng_state_0.json"), rank0, 0o644); err != nil {
		t.Fatal(err)
	}
	// Written by two ranks (per-device batch 1), rank 1's file missing: a
	// one-process run has no rank 1 but still refuses it.
	var p map[string]any
	if err := readJSON(filepath.Join(ck, progressFile), &p); err != nil {
		t.Fatal(err)
	}
	p["world_size"] = 2
	if err := writeJSONAtomic(filepath.Join(ck, progressFile), p); err != nil {
		t.Fatal(err)
	}
	if err := resume(); !errors.Is(err, ErrIncompleteCheckpoint) || !strings.Contains(err.Error(), "rng_state_1.json") {
		t.Errorf("rng_state_1.json missing: %v, want ErrIncompleteCheckpoint naming it", err)
	}
	// With rank 1's file there, it resumes at world size 1.
	rank1 := strings.Replace(string(rank0), `"rank": 0`, `"rank": 1`, 1)
	if err := os.WriteFile(filepath.Join(ck, "rng_state_1.json"), []byte(rank1), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := resume(); err != nil {
		t.Errorf("complete checkpoint of another world size: %v", err)
	}
}
