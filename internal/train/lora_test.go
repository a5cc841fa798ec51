package train

import (
	"context"
	"encoding/json"
	"errors"
	"math"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/rs/zerolog"

	"github.com/golamini/golamini/internal/checkpoint"
	"github.com/golamini/golamini/internal/lora"
	"github.com/golamini/golamini/internal/model"
	"github.com/golamini/golamini/internal/testutil"
	"github.com/golamini/golamini/internal/torch"
)

// loraGoldens is the training part of testdata/lora/<family>/goldens.json
// (scripts/reference/lora_goldens.py).
type loraGoldens struct {
	Model string  `json:"model"`
	Rows  [][]int `json:"rows"`
	Pad   int     `json:"pad"`
	Cases []struct {
		Name      string    `json:"name"`
		Optim     string    `json:"optim"`
		LR        float64   `json:"lr"`
		BatchSize int       `json:"batch_size"`
		GradAccum int       `json:"grad_accum"`
		Steps     int       `json:"steps"`
		Losses    []float64 `json:"losses"`
	} `json:"cases"`
}

// loraRun trains an adapter (from init, or new with cfg) over a fresh copy
// of the model and returns each step's logged loss. With cancelAt > 0 it
// cancels after that step.
func loraRun(t *testing.T, modelRel string, a Args, cfg *lora.Config, init string, rows [][]int, pad, cancelAt int) ([]float64, Result, error) {
	t.Helper()
	var losses []float64
	var res Result
	var runErr error
	err := torch.Do(context.Background(), func() error {
		dir := filepath.Join(testutil.RepoRoot(t), modelRel)
		m, err := model.Load(context.Background(), dir, model.DefaultLoadOptions())
		if err != nil {
			return err
		}
		defer m.Free()
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		tr := &Trainer{Args: a, Model: m, Train: tokenized(rows), PadID: pad, ModelDir: dir, Log: zerolog.Nop(),
			LoRA: cfg, LoRAInit: init, OnLog: func(e LogEntry) {
				if e.Loss != nil {
					losses = append(losses, *e.Loss)
					if e.Step == cancelAt {
						cancel()
					}
				}
			}}
		before := m.Parameters()[3].Tensor
		bv, _ := before.Float32s()
		emb, _ := m.EmbedIn.Float32s() // tied to the head in the test models: a saved head is a copy
		res, runErr = tr.Run(ctx)
		if res.Adapter != nil {
			if m.LinearHook == nil {
				t.Error("the trained adapter is not attached")
			}
			res.Adapter.Detach(m)
			res.Adapter.Free()
		} else if m.LinearHook != nil {
			t.Error("a failed run left its adapter attached")
		}
		if ev, _ := m.EmbedIn.Float32s(); !slices.Equal(emb, ev) {
			t.Error("the frozen input embedding changed")
		}
		av, _ := before.Float32s()
		for i := range av {
			if av[i] != bv[i] {
				t.Errorf("the frozen base weight %s changed", m.Parameters()[3].Name)
				break
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return losses, res, runErr
}

// From the same PEFT-saved adapter (non-zero B), 10 steps of AdamW and of
// Adafactor (batch 2 right-padded, accumulation 2) give the losses of a
// plain PyTorch + PEFT loop within 1e-4 relative (AdamW also with gradient
// checkpointing).
func TestLoRALossCurveMatchesPEFT(t *testing.T) {
	for _, family := range loraFamilies {
		b, err := os.ReadFile(testutil.Testdata(t, "lora", family, "goldens.json"))
		if err != nil {
			t.Fatal(err)
		}
		var g loraGoldens
		if err := json.Unmarshal(b, &g); err != nil {
			t.Fatal(err)
		}
		init := testutil.Testdata(t, "lora", family, "adapter")
		for _, c := range g.Cases {
			for _, ckpt := range []bool{false, true} {
				if ckpt && c.Optim != "adamw" {
					continue // checkpointing changes the gradients' path, not the optimizer's: once is enough
				}
				name := family + "-" + c.Name
				if ckpt {
					name += "-gradient-checkpointing"
				}
				t.Run(name, func(t *testing.T) {
					a := reproArgs(t.TempDir(), c.Optim, c.LR, c.BatchSize, c.GradAccum, c.Steps)
					a.GradientCheckpointing = ckpt
					losses, _, err := loraRun(t, g.Model, a, nil, init, g.Rows, g.Pad, 0)
					if err != nil {
						t.Fatal(err)
					}
					if len(losses) != len(c.Losses) {
						t.Fatalf("%d losses, want %d", len(losses), len(c.Losses))
					}
					for i := range losses {
						if rel := math.Abs(losses[i]-c.Losses[i]) / math.Abs(c.Losses[i]); rel > 1e-4 {
							t.Errorf("step %d: loss %.7f, PEFT %.7f (rel %.2g)", i+1, losses[i], c.Losses[i], rel)
						}
					}
				})
			}
		}
	}
}

// A LoRA run with dropout, shuffling, warmup, clipping and weight decay
// that is cancelled after step 3 and run again resumes exactly; its
// checkpoints hold the adapter and the adapter's optimizer state only.
func TestLoRAResumeEqualsUninterrupted(t *testing.T) {
	g := loadTrainGoldens(t)
	rows := g.Rows[:12]
	cfg := lora.NewConfig(4, 8, 0.1, nil) // PEFT's default targets: query_key_value
	base := func(dir string) Args {
		a := reproArgs(dir, "adamw", 1e-2, 2, 2, 6)
		a.Shuffle, a.GroupByLength, a.LRSchedulerType, a.WarmupSteps, a.MaxGradNorm, a.WeightDecay = true, new(true), "linear", 2, 1.0, 0.01
		a.GradientCheckpointing = true
		return a
	}
	full, _, err := loraRun(t, "testdata/models/tiny-seq", base(t.TempDir()), &cfg, "", rows, g.EOS, 0)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	first, _, err := loraRun(t, "testdata/models/tiny-seq", base(dir), &cfg, "", rows, g.EOS, 3)
	if !errors.Is(err, ErrCancelled) {
		t.Fatalf("cancelled run returned %v, want ErrCancelled", err)
	}
	ck := filepath.Join(dir, "checkpoint-3")
	for _, f := range []string{lora.ConfigFile, lora.WeightsFile, optimizerFile, "tokenizer.json"} {
		if _, err := os.Stat(filepath.Join(ck, f)); err != nil {
			t.Errorf("checkpoint lacks %s", f)
		}
	}
	if _, err := os.Stat(filepath.Join(ck, "model.safetensors")); err == nil {
		t.Error("a LoRA checkpoint holds the whole model")
	}
	opt, err := checkpoint.OpenFile(filepath.Join(ck, optimizerFile))
	if err != nil {
		t.Fatal(err)
	}
	if n := len(opt.Tensors()); n != 2*2*2 { // 2 layers × (A, B) × (exp_avg, exp_avg_sq)
		t.Errorf("optimizer state has %d tensors, want 8 (the adapter's only)", n)
	}
	opt.Close()
	rest, res, err := loraRun(t, "testdata/models/tiny-seq", base(dir), &cfg, "", rows, g.EOS, 0)
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
	if full[5] >= full[0] {
		t.Errorf("LoRA training did not lower the loss: %v", full)
	}
	c, err := lora.ReadConfig(dir)
	if err != nil {
		t.Fatalf("final output_dir: %v", err)
	}
	if c.R != 4 || c.LoraAlpha != 8 || len(c.TargetModules.Names) != 1 || c.TargetModules.Names[0] != "query_key_value" {
		t.Errorf("final adapter_config.json: %+v", c)
	}
}

// The base may be held in bfloat16 with the adapter in float32: the
// curve stays within bfloat16's rounding of PEFT's float32 one, and the
// adapter's tensors and optimizer state are float32.
func TestLoRABFloat16Base(t *testing.T) {
	b, err := os.ReadFile(testutil.Testdata(t, "lora", "gpt-neox", "goldens.json"))
	if err != nil {
		t.Fatal(err)
	}
	var g loraGoldens
	if err := json.Unmarshal(b, &g); err != nil {
		t.Fatal(err)
	}
	c := g.Cases[0]
	a := reproArgs(t.TempDir(), c.Optim, c.LR, c.BatchSize, c.GradAccum, 4) // bfloat16 on a CPU is slow: 4 of the 10 steps
	a.GradientCheckpointing = true
	var losses []float64
	err = torch.Do(context.Background(), func() error {
		dir := filepath.Join(testutil.RepoRoot(t), g.Model)
		m, err := model.Load(context.Background(), dir, model.LoadOptions{Device: torch.CPU, DType: torch.BFloat16})
		if err != nil {
			return err
		}
		defer m.Free()
		tr := &Trainer{Args: a, Model: m, Train: tokenized(g.Rows), PadID: g.Pad, ModelDir: dir, Log: zerolog.Nop(),
			LoRAInit: testutil.Testdata(t, "lora", "gpt-neox", "adapter"), OnLog: func(e LogEntry) {
				if e.Loss != nil {
					losses = append(losses, *e.Loss)
				}
			}}
		res, err := tr.Run(context.Background())
		if err != nil {
			return err
		}
		defer res.Adapter.Free()
		for _, p := range res.Adapter.Parameters() {
			if p.Tensor.DType() != torch.Float32 {
				t.Errorf("%s is %v, want float32", p.Name, p.Tensor.DType())
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(losses) != 4 {
		t.Fatalf("%d losses", len(losses))
	}
	for i := range losses {
		if rel := math.Abs(losses[i]-c.Losses[i]) / c.Losses[i]; rel > 1e-2 {
			t.Errorf("step %d: loss %.5f over a bfloat16 base, PEFT float32 %.5f (rel %.2g)", i+1, losses[i], c.Losses[i], rel)
		}
	}
}

// loraFamilies: see internal/lora's test of the same name.
var loraFamilies = []string{"gpt-neox", "llama"}

// With modules_to_save (the head trained in full beside the adapters,
// tied to the input embedding in both test models), 10 AdamW steps from
// a PEFT-saved adapter give the plain PyTorch + PEFT loop's losses
// (testdata/lora/<family>/goldens-head.json), and the input embedding
// stays frozen.
func TestLoRAHeadLossCurveMatchesPEFT(t *testing.T) {
	for _, family := range loraFamilies {
		t.Run(family, func(t *testing.T) {
			b, err := os.ReadFile(testutil.Testdata(t, "lora", family, "goldens-head.json"))
			if err != nil {
				t.Fatal(err)
			}
			var g loraGoldens
			if err := json.Unmarshal(b, &g); err != nil {
				t.Fatal(err)
			}
			c := g.Cases[0]
			out := t.TempDir()
			a := reproArgs(out, c.Optim, c.LR, c.BatchSize, c.GradAccum, c.Steps)
			losses, _, err := loraRun(t, g.Model, a, nil, testutil.Testdata(t, "lora", family, "adapter-head"), g.Rows, g.Pad, 0)
			if err != nil {
				t.Fatal(err)
			}
			if len(losses) != len(c.Losses) {
				t.Fatalf("%d losses, want %d", len(losses), len(c.Losses))
			}
			for i := range losses {
				if rel := math.Abs(losses[i]-c.Losses[i]) / math.Abs(c.Losses[i]); rel > 1e-4 {
					t.Errorf("step %d: loss %.7f, PEFT %.7f (rel %.2g)", i+1, losses[i], c.Losses[i], rel)
				}
			}
			cfg, err := lora.ReadConfig(out)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(cfg.ModulesToSave, []string{"lm_head"}) {
				t.Errorf("output_dir's modules_to_save %v", cfg.ModulesToSave)
			}
		})
	}
}
