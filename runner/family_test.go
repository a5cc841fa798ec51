package runner

import (
	"context"
	"strings"
	"testing"

	"github.com/golamini/golamini/internal/model"
	"github.com/golamini/golamini/internal/testutil"
	"github.com/golamini/golamini/internal/torch"
	"github.com/golamini/golamini/internal/train"
)

// newLlamaDir writes a tiny random Llama model (GQA, tied embeddings) with
// tiny-seq's tokenizer files into a temporary directory.
func newLlamaDir(t *testing.T) string {
	t.Helper()
	js := `{"architectures": ["LlamaForCausalLM"], "model_type": "llama", "vocab_size": 1024, "hidden_size": 32,
		"intermediate_size": 64, "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 2,
		"max_position_embeddings": 128, "rms_norm_eps": 1e-5, "rope_theta": 10000, "tie_word_embeddings": true,
		"bos_token_id": 0, "eos_token_id": 0, "initializer_range": 0.2}`
	cfg, err := model.ParseConfig([]byte(js), "llama config")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	err = torch.Do(context.Background(), func() error {
		m, err := model.NewRandom(cfg, model.DefaultLoadOptions(), 3)
		if err != nil {
			return err
		}
		defer m.Free()
		return train.WriteModelDir(dir, m, testutil.Testdata(t, "models", "tiny-seq"))
	})
	if err != nil {
		t.Fatal(err)
	}
	return dir
}

// A Llama directory goes through the same runner paths as GPT-NeoX:
// Describe and Report, Infer, Generate (alone and batched), scoring,
// Train, Evaluate, and the trained directory loads again.
func TestLlamaThroughRunner(t *testing.T) {
	dir := newLlamaDir(t)
	rep, err := Describe(dir, 1024, "")
	if err != nil {
		t.Fatal(err)
	}
	if rep.Family != "LlamaForCausalLM" || !strings.Contains(rep.Summary(), "LlamaForCausalLM") ||
		!strings.HasPrefix(rep.ModuleTree, "LlamaForCausalLM(") || rep.Parameters <= 0 {
		t.Errorf("describe: %+v", rep)
	}
	r, err := New(dir, WithDevice("cpu"))
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if got := r.Report(1024); got.Parameters != rep.Parameters || got.FLOPs != rep.FLOPs {
		t.Errorf("report %+v, describe %+v", got, rep)
	}
	if _, err := r.Infer("What is golamini?"); err != nil {
		t.Fatal(err)
	}
	o := DefaultGenerateOptions()
	o.MaxNewTokens, o.StopAtEOS = 8, false
	prompts := []string{"What is golamini?", "How do I add data?"}
	cached, err := r.Generate(context.Background(), prompts, o)
	if err != nil {
		t.Fatal(err)
	}
	plain, err := r.Generate(context.Background(), prompts[:1], o)
	if err != nil {
		t.Fatal(err)
	}
	if plain[0].Text != cached[0].Text {
		t.Errorf("alone %q, in a left-padded batch %q", plain[0].Text, cached[0].Text)
	}
	ids, lps, err := r.ScoreText(context.Background(), "How do I add data to golamini?")
	if err != nil || len(lps) != len(ids)-1 {
		t.Fatalf("score: %d ids, %d log-probs, %v", len(ids), len(lps), err)
	}
	if _, _, err := r.LogLikelihood(context.Background(), "How do I", " add data?"); err != nil {
		t.Fatal(err)
	}
	if err := r.LoadDataFromJSONLines(testutil.Testdata(t, "sdk_qa.jsonl"), "question", "answer"); err != nil {
		t.Fatal(err)
	}
	cfg := DefaultTrainConfig()
	cfg.Args.OutputDir, cfg.Args.MaxSteps, cfg.Args.LearningRate = t.TempDir(), 4, 5e-3
	cfg.Args.PerDeviceTrainBatchSize, cfg.Args.SaveStrategy, cfg.Data.MaxLength = 4, "no", 48
	res, err := r.TrainContext(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if res.Steps != 4 {
		t.Errorf("train result %+v", res)
	}
	eo := DefaultEvaluateOptions()
	eo.MaxRows, eo.Generate.MaxNewTokens, eo.Data.MaxLength = 2, 6, 48
	ev, err := r.EvaluateWith(context.Background(), eo)
	if err != nil {
		t.Fatal(err)
	}
	if len(ev.Rows) != 2 || ev.Perplexity <= 1 {
		t.Errorf("evaluate: %+v", ev)
	}
	after, err := r.Generate(context.Background(), prompts[:1], o)
	if err != nil {
		t.Fatal(err)
	}
	r2, err := New(res.OutputDir, WithDevice("cpu"))
	if err != nil {
		t.Fatal(err)
	}
	defer r2.Close()
	if r2.Config().ModelType != "llama" {
		t.Errorf("saved model_type %q", r2.Config().ModelType)
	}
	got, err := r2.Generate(context.Background(), prompts[:1], o)
	if err != nil || got[0].Text != after[0].Text {
		t.Errorf("reloaded model says %q, trained runner %q (%v)", got[0].Text, after[0].Text, err)
	}
}
