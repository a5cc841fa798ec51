package runner

import (
	"context"
	"errors"
	"math"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/golamini/golamini/internal/testutil"
)

func maxAbsDiff(a, b []float64) float64 {
	d := 0.0
	for i := range a {
		d = math.Max(d, math.Abs(a[i]-b[i]))
	}
	return d
}

// Adapters load at New or later, switch by name, merge into the weights
// with the same scores, and save as a full model that loads again.
func TestAdapters(t *testing.T) {
	ctx := context.Background()
	peft := testutil.Testdata(t, "lora", "gpt-neox", "adapter")
	rs := testutil.Testdata(t, "lora", "gpt-neox", "adapter-rslora")
	r, err := New(testutil.Testdata(t, "models", "tiny-seq"), WithDevice("cpu"), WithAdapter(peft))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	ids := []int{414, 302, 355, 32, 535, 302, 259, 498, 798, 37}
	withA, err := r.TokenLogProbs(ctx, ids)
	if err != nil {
		t.Fatal(err)
	}
	if r.Adapter() != "adapter" {
		t.Fatalf("active adapter %q", r.Adapter())
	}
	if err := r.LoadAdapter("rs", rs); err != nil {
		t.Fatal(err)
	}
	if got := r.Adapters(); !slices.Equal(got, []string{"adapter", "rs"}) || r.Adapter() != "rs" {
		t.Fatalf("adapters %v, active %q", got, r.Adapter())
	}
	withRS, _ := r.TokenLogProbs(ctx, ids)
	if err := r.SetAdapter(""); err != nil {
		t.Fatal(err)
	}
	base, _ := r.TokenLogProbs(ctx, ids)
	if maxAbsDiff(base, withA) < 1e-3 || maxAbsDiff(base, withRS) < 1e-3 || maxAbsDiff(withA, withRS) < 1e-3 {
		t.Error("the adapters do not change the scores")
	}
	if err := r.SetAdapter("nope"); err == nil {
		t.Error("SetAdapter of an unknown name succeeded")
	}
	if err := r.LoadAdapter("rs", rs); err == nil {
		t.Error("a second adapter named rs loaded")
	}
	if err := r.SetAdapter("adapter"); err != nil {
		t.Fatal(err)
	}
	again, _ := r.TokenLogProbs(ctx, ids)
	if d := maxAbsDiff(again, withA); d != 0 {
		t.Errorf("switching back changed the scores by %g", d)
	}
	out := filepath.Join(t.TempDir(), "merged")
	if err := r.SaveModel(out, ""); err == nil {
		t.Error("SaveModel with an active adapter succeeded")
	}
	if err := r.MergeAdapter(); err != nil {
		t.Fatal(err)
	}
	if r.Adapter() != "" || slices.Contains(r.Adapters(), "adapter") {
		t.Errorf("after merge: active %q, loaded %v", r.Adapter(), r.Adapters())
	}
	merged, _ := r.TokenLogProbs(ctx, ids)
	if d := maxAbsDiff(merged, withA); d > 1e-4 {
		t.Errorf("merged scores differ from the adapter's by %g", d)
	}
	if err := r.SaveModel(out, "float32"); err != nil {
		t.Fatal(err)
	}
	if err := r.SaveModel(out, "float32"); err == nil {
		t.Error("SaveModel over a non-empty directory succeeded")
	}
	for _, f := range []string{"config.json", "model.safetensors", "tokenizer.json"} {
		if _, err := os.Stat(filepath.Join(out, f)); err != nil {
			t.Errorf("saved model lacks %s", f)
		}
	}
	r2, err := New(out, WithDevice("cpu"))
	if err != nil {
		t.Fatal(err)
	}
	defer r2.Close()
	saved, _ := r2.TokenLogProbs(ctx, ids)
	if d := maxAbsDiff(saved, merged); d != 0 {
		t.Errorf("the saved merged model scores %g away", d)
	}
	// An adapter for another base is a clear error.
	_, err = New(testutil.Testdata(t, "models", "demo"), WithDevice("cpu"), WithAdapter(peft))
	if !errors.Is(err, ErrAdapterMismatch) {
		t.Errorf("mismatching adapter: %v, want ErrAdapterMismatch", err)
	}
}

// Train with LoRA leaves the trained adapter active, and output_dir holds
// it in PEFT's format.
func TestTrainLoRA(t *testing.T) {
	r := newTiny(t)
	if err := r.LoadDataFromJSONLines(testutil.Testdata(t, "sdk_qa.jsonl"), "question", "answer"); err != nil {
		t.Fatal(err)
	}
	cfg := DefaultTrainConfig()
	cfg.Args.OutputDir = t.TempDir()
	cfg.Args.MaxSteps, cfg.Args.PerDeviceTrainBatchSize, cfg.Args.LearningRate = 3, 4, 1e-2
	cfg.Args.EvaluationStrategy, cfg.Args.EvalSteps, cfg.Args.SaveSteps, cfg.Args.SaveTotalLimit = "steps", 1, 1, 1
	cfg.Args.LoadBestModelAtEnd, cfg.Args.EarlyStoppingPatience = true, 2
	cfg.Data.MaxLength, cfg.Data.EvalFraction = 48, 0.1
	l := DefaultLoRAConfig()
	l.R, l.Alpha, l.TargetModules = 4, 8, []string{"query_key_value", "dense"}
	cfg.LoRA = &l
	ids := []int{414, 302, 355, 32, 535}
	before, _ := r.TokenLogProbs(context.Background(), ids)
	res, err := r.TrainContext(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if res.Adapter != "default" || r.Adapter() != "default" {
		t.Fatalf("trained adapter %q, active %q", res.Adapter, r.Adapter())
	}
	if math.IsNaN(res.EvalLoss) || res.BestModelCheckpoint == "" {
		t.Errorf("eval loss %v, best checkpoint %q", res.EvalLoss, res.BestModelCheckpoint)
	}
	if _, err := os.Stat(filepath.Join(res.BestModelCheckpoint, "adapter_model.safetensors")); err != nil {
		t.Errorf("best checkpoint: %v", err)
	}
	after, _ := r.TokenLogProbs(context.Background(), ids)
	if maxAbsDiff(before, after) == 0 {
		t.Error("the trained adapter changes nothing")
	}
	for _, f := range []string{"adapter_config.json", "adapter_model.safetensors", "trainer_state.json"} {
		if _, err := os.Stat(filepath.Join(cfg.Args.OutputDir, f)); err != nil {
			t.Errorf("output_dir lacks %s", f)
		}
	}
	// The saved adapter is the trained one.
	r.SetAdapter("")
	if err := r.LoadAdapter("saved", cfg.Args.OutputDir); err != nil {
		t.Fatal(err)
	}
	saved, _ := r.TokenLogProbs(context.Background(), ids)
	if d := maxAbsDiff(saved, after); d != 0 {
		t.Errorf("the saved adapter scores %g away from the trained one", d)
	}
}
