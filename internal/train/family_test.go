package train

import (
	"context"
	"encoding/json"
	"math"
	"os"
	"os/exec"
	"testing"

	"github.com/rs/zerolog"

	"github.com/golamini/golamini/internal/data"
	"github.com/golamini/golamini/internal/model"
	"github.com/golamini/golamini/internal/testutil"
	"github.com/golamini/golamini/internal/torch"
)

// familyTrainGoldens mirrors the training part of
// testdata/families/goldens.json (scripts/reference/family_goldens.py).
type familyTrainGoldens struct {
	Rows  [][]int `json:"train_rows"`
	Cases []struct {
		Name  string `json:"name"`
		Train []struct {
			Optim     string    `json:"optim"`
			LR        float64   `json:"lr"`
			BatchSize int       `json:"batch_size"`
			GradAccum int       `json:"grad_accum"`
			Steps     int       `json:"steps"`
			Losses    []float64 `json:"losses"`
		} `json:"train"`
	} `json:"cases"`
}

// familyPad is the reference script's padding id (its EOS).
const familyPad = 2

func loadFamilyTrainGoldens(t *testing.T) familyTrainGoldens {
	t.Helper()
	b, err := os.ReadFile(testutil.Testdata(t, "families", "goldens.json"))
	if err != nil {
		t.Fatal(err)
	}
	var g familyTrainGoldens
	if err := json.Unmarshal(b, &g); err != nil {
		t.Fatal(err)
	}
	return g
}

// trainFamily trains a fresh copy of testdata/families/name and returns
// each step's logged loss.
func trainFamily(t *testing.T, name string, a Args, rows []data.Tokenized) []float64 {
	t.Helper()
	var losses []float64
	dir := testutil.Testdata(t, "families", name)
	err := torch.Do(context.Background(), func() error {
		m, err := model.Load(context.Background(), dir, model.DefaultLoadOptions())
		if err != nil {
			return err
		}
		defer m.Free()
		tr := &Trainer{Args: a, Model: m, Train: rows, PadID: familyPad, ModelDir: dir, Log: zerolog.Nop(),
			OnLog: func(e LogEntry) {
				if e.Loss != nil {
					losses = append(losses, *e.Loss)
				}
			}}
		_, err = tr.Run(context.Background())
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return losses
}

// Ten steps of AdamW and Adafactor on Llama (GQA, tied), Qwen3 (q/k norms,
// yarn rope, untied) and Mistral (sliding window shorter than the rows), at
// batch 2 with right padding and accumulation 2, give PyTorch's losses
// within 1e-4 relative; AdamW also with gradient checkpointing.
func TestFamilyLossCurveMatchesPyTorch(t *testing.T) {
	g := loadFamilyTrainGoldens(t)
	n := 0
	for _, c := range g.Cases {
		for _, tc := range c.Train {
			n++
			for _, ckpt := range []bool{false, true} {
				if ckpt && tc.Optim != "adamw" {
					continue // the blocks' recomputation is the same whatever the optimizer
				}
				name := c.Name + "-" + tc.Optim
				if ckpt {
					name += "-gradient-checkpointing"
				}
				t.Run(name, func(t *testing.T) {
					a := reproArgs(t.TempDir(), tc.Optim, tc.LR, tc.BatchSize, tc.GradAccum, tc.Steps)
					a.GradientCheckpointing = ckpt
					losses := trainFamily(t, c.Name, a, tokenized(g.Rows))
					if len(losses) != len(tc.Losses) {
						t.Fatalf("%d losses, want %d", len(losses), len(tc.Losses))
					}
					for i := range losses {
						if rel := math.Abs(losses[i]-tc.Losses[i]) / math.Abs(tc.Losses[i]); rel > 1e-4 {
							t.Errorf("step %d: loss %.7f, PyTorch %.7f (rel %.2g)", i+1, losses[i], tc.Losses[i], rel)
						}
					}
				})
			}
		}
	}
	if n == 0 {
		t.Fatal("no training cases in goldens.json")
	}
}

// referencePython5 returns the Python named by GOLAMINI_REF5_PYTHON (one
// with transformers 5 and torch, e.g. ~/.cache/golamini/venv-ref5/bin/python),
// or skips: this interop test needs torch, which `make test` does not
// install, so it runs only when asked for.
func referencePython5(t *testing.T) string {
	t.Helper()
	p := os.Getenv("GOLAMINI_REF5_PYTHON")
	if p == "" {
		t.Skip("set GOLAMINI_REF5_PYTHON to a Python with transformers 5 and torch (~/.cache/golamini/venv-ref5/bin/python) to run this interop test")
	}
	if err := exec.Command(p, "-c", "import transformers, torch; assert int(transformers.__version__.split('.')[0]) >= 5").Run(); err != nil {
		t.Fatalf("GOLAMINI_REF5_PYTHON=%s has no transformers 5 with torch: %v", p, err)
	}
	return p
}

// A Llama-style model trained here and saved with WriteModelDir loads in
// transformers 5 (from_pretrained) as the same class and gives our logits.
func TestFamilySavedModelLoadsInTransformers(t *testing.T) {
	py := referencePython5(t)
	g := loadFamilyTrainGoldens(t)
	for _, name := range []string{"qwen3-qknorm-yarn", "llama-gqa-tied", "qwen2-bias-tied"} {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			a := reproArgs(dir, "adamw", 1e-2, 2, 1, 2)
			trainFamily(t, name, a, tokenized(g.Rows[:4]))
			ours, hf, maxDiff := compareWithTransformers(t, py, dir, g.Rows[0])
			if hf != ours || maxDiff > 1e-4 {
				t.Errorf("transformers loaded %s (ours %s), max |logit diff| %g", hf, ours, maxDiff)
			}
		})
	}
}
