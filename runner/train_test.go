package runner

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/golamini/golamini/internal/data"
	"github.com/golamini/golamini/internal/testutil"
)

func TestDataLoadingRules(t *testing.T) {
	r := newTiny(t)
	dir := t.TempDir()
	good := filepath.Join(dir, "good.jsonl")
	os.WriteFile(good, []byte("\ufeff{\"q\": \"a\", \"a\": \"b\"}\r\n\n{\"q\": \"\", \"a\": \"\"}\r\n{\"q\": \"c\", \"a\": \"d\"}"), 0o644)
	if err := r.LoadDataFromJSONLines(good, "q", "a"); err != nil {
		t.Fatal(err)
	}
	if r.DataLen() != 2 { // the empty row is skipped (with a warning)
		t.Fatalf("loaded %d pairs, want 2", r.DataLen())
	}
	bad := filepath.Join(dir, "bad.jsonl")
	os.WriteFile(bad, []byte("{\"q\": \"x\", \"a\": \"y\"}\n{\"q\": \"x\"}\n"), 0o644)
	err := r.LoadDataFromJSONLines(bad, "q", "a")
	if err == nil || !strings.Contains(err.Error(), "bad.jsonl") || !strings.Contains(err.Error(), "line 2") || !strings.Contains(err.Error(), `"a"`) {
		t.Errorf("bad file: %v", err)
	}
	if r.DataLen() != 2 {
		t.Errorf("a failed load changed the data: %d pairs", r.DataLen())
	}
	csv := filepath.Join(dir, "more.csv")
	os.WriteFile(csv, []byte("q,a\n\"e, f\",g\n"), 0o644)
	if err := r.LoadDataFromCSV(csv, "q", "a"); err != nil {
		t.Fatal(err)
	}
	if err := r.LoadData([]map[string]any{{"input": "h", "output": "i"}}, "", ""); err != nil {
		t.Fatal(err)
	}
	if r.DataLen() != 4 {
		t.Errorf("data accumulates: %d pairs, want 4", r.DataLen())
	}
	r.ClearData()
	if r.DataLen() != 0 {
		t.Error("ClearData kept data")
	}
	// One pair cannot be split for validation (Lamini's rule).
	r.LoadData([]map[string]any{{"input": "only", "output": "one"}}, "", "")
	cfg := DefaultTrainConfig()
	cfg.Args.OutputDir = t.TempDir()
	if _, err := r.TrainContext(context.Background(), cfg); !errors.Is(err, data.ErrTooFewPairs) {
		t.Errorf("train on 1 pair: %v, want ErrTooFewPairs", err)
	}
}

// After Train, Infer uses the trained weights; Evaluate compares them with
// the base weights, which stay available.
func TestTrainThenInferUsesTrainedWeights(t *testing.T) {
	r := newTiny(t)
	if err := r.LoadDataFromJSONLines(testutil.Testdata(t, "sdk_qa.jsonl"), "question", "answer"); err != nil {
		t.Fatal(err)
	}
	o := DefaultGenerateOptions()
	o.MaxNewTokens, o.StopAtEOS = 8, false
	before, err := r.Generate(context.Background(), []string{"What is golamini?"}, o)
	if err != nil {
		t.Fatal(err)
	}
	cfg := DefaultTrainConfig()
	cfg.Args.OutputDir, cfg.Args.MaxSteps, cfg.Args.LearningRate = t.TempDir(), 6, 5e-3
	cfg.Args.PerDeviceTrainBatchSize, cfg.Args.SaveStrategy, cfg.Data.MaxLength = 4, "no", 48
	res, err := r.TrainContext(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if res.Steps != 6 || res.TrainRows == 0 || res.EvalRows == 0 {
		t.Errorf("result %+v", res)
	}
	after, err := r.Generate(context.Background(), []string{"What is golamini?"}, o)
	if err != nil {
		t.Fatal(err)
	}
	if after[0].Text == before[0].Text {
		t.Errorf("Infer after Train gives the base model's text %q", after[0].Text)
	}
	eo := DefaultEvaluateOptions()
	eo.MaxRows, eo.Generate.MaxNewTokens, eo.Data.MaxLength = 2, 8, 48
	rep, err := r.EvaluateWith(context.Background(), eo)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Rows) != 2 || rep.Rows[0].Base == rep.Rows[0].Trained || rep.Perplexity <= 1 {
		t.Errorf("evaluate: %+v", rep)
	}
	// The output directory is a model runner.New loads.
	r2, err := New(res.OutputDir, WithDevice("cpu"))
	if err != nil {
		t.Fatal(err)
	}
	got, err := r2.Generate(context.Background(), []string{"What is golamini?"}, o)
	r2.Close()
	if err != nil || got[0].Text != after[0].Text {
		t.Errorf("reloaded model says %q, trained runner %q (%v)", got[0].Text, after[0].Text, err)
	}
}
