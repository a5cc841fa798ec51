package train

import (
	"context"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/rs/zerolog"

	"github.com/golamini/golamini/internal/model"
	"github.com/golamini/golamini/internal/testutil"
	"github.com/golamini/golamini/internal/torch"
)

// With a learning rate high enough to overfit 4 rows, the held-out loss
// rises: early stopping ends the run after `patience` evaluations without
// improvement, save_total_limit keeps the best checkpoint, and
// load_best_model_at_end leaves the model at the best evaluation's loss.
func TestEarlyStoppingAndBestModel(t *testing.T) {
	g := loadTrainGoldens(t)
	dir := t.TempDir()
	a := reproArgs(dir, "adamw", 2e-2, 1, 1, 30)
	a.EvaluationStrategy, a.EvalSteps, a.SaveStrategy, a.SaveSteps = "steps", 1, "steps", 1
	a.SaveTotalLimit, a.LoadBestModelAtEnd, a.EarlyStoppingPatience = 1, true, 2
	trainRows, evalRows := tokenized(g.Rows[:4]), tokenized(g.Rows[8:12])
	var evals []float64
	var res Result
	var final float64
	err := torch.Do(context.Background(), func() error {
		m, err := model.Load(context.Background(), testutil.Testdata(t, "models", "tiny-seq"), model.DefaultLoadOptions())
		if err != nil {
			return err
		}
		defer m.Free()
		tr := &Trainer{Args: a, Model: m, Train: trainRows, Eval: evalRows, PadID: g.EOS, ModelDir: testutil.Testdata(t, "models", "tiny-seq"),
			Log: zerolog.Nop(), OnLog: func(e LogEntry) {
				if e.EvalLoss != nil {
					evals = append(evals, *e.EvalLoss)
				}
			}}
		if res, err = tr.Run(context.Background()); err != nil {
			return err
		}
		final, err = Evaluate(context.Background(), m, evalRows, g.EOS, 8)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if res.StopReason != "early_stopping" {
		t.Fatalf("stop reason %q after %d evals %v", res.StopReason, len(evals), evals)
	}
	best := 0
	for i, v := range evals {
		if v < evals[best] {
			best = i
		}
	}
	if best != len(evals)-3 {
		t.Errorf("stopped with evals %v: best at %d, want 2 evaluations after it", evals, best)
	}
	if math.Abs(final-evals[best]) > 1e-6 {
		t.Errorf("final model's eval loss %v, best %v", final, evals[best])
	}
	want := filepath.Join(dir, "checkpoint-"+strconv.Itoa(best+1))
	if res.BestModelCheckpoint != want {
		t.Errorf("best checkpoint %q, want %q", res.BestModelCheckpoint, want)
	}
	cks, _ := filepath.Glob(filepath.Join(dir, "checkpoint-*"))
	if len(cks) != 2 {
		t.Errorf("save_total_limit 1 with a best model: want best + latest, got %v", cks)
	}
	if _, err := os.Stat(want); err != nil {
		t.Errorf("best checkpoint was deleted: %v", err)
	}
}
