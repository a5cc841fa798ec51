package runner

import (
	"context"
	"encoding/json"
	"math"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/golamini/golamini/internal/testutil"
)

func newTiny(t *testing.T) *Runner {
	t.Helper()
	r, err := New(testutil.Testdata(t, "models", "tiny-seq"), WithDevice("cpu"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	return r
}

type scoreGoldens struct {
	Texts []struct {
		Text     string    `json:"text"`
		IDs      []int     `json:"ids"`
		LogProbs []float64 `json:"logprobs"`
	} `json:"texts"`
	LogLikelihood []struct {
		Context      string  `json:"context"`
		Continuation string  `json:"continuation"`
		LogProb      float64 `json:"logprob"`
		Greedy       bool    `json:"greedy"`
	} `json:"loglikelihood"`
}

func loadScoreGoldens(t *testing.T) scoreGoldens {
	b, err := os.ReadFile(testutil.Testdata(t, "models", "goldens.json"))
	if err != nil {
		t.Fatal(err)
	}
	var g struct {
		Models map[string]struct {
			Scores scoreGoldens `json:"scores"`
		} `json:"models"`
	}
	if err := json.Unmarshal(b, &g); err != nil {
		t.Fatal(err)
	}
	return g.Models["tiny-seq"].Scores
}

func TestScoreMatchesTransformers(t *testing.T) {
	r := newTiny(t)
	g := loadScoreGoldens(t)
	for _, c := range g.Texts {
		ids, lp, err := r.ScoreText(context.Background(), c.Text)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(ids, c.IDs) {
			t.Fatalf("%q: ids %v, want %v", c.Text, ids, c.IDs)
		}
		if len(lp) != len(c.LogProbs) {
			t.Fatalf("%q: %d logprobs, want %d", c.Text, len(lp), len(c.LogProbs))
		}
		for i := range lp {
			if math.Abs(lp[i]-c.LogProbs[i]) > 1e-4 {
				t.Errorf("%q: logprob[%d] = %v, want %v", c.Text, i, lp[i], c.LogProbs[i])
			}
		}
	}
	for _, c := range g.LogLikelihood {
		ll, greedy, err := r.LogLikelihood(context.Background(), c.Context, c.Continuation)
		if err != nil {
			t.Fatal(err)
		}
		if math.Abs(ll-c.LogProb) > 1e-4 || greedy != c.Greedy {
			t.Errorf("loglikelihood(%q, %q) = %v %v, want %v %v", c.Context, c.Continuation, ll, greedy, c.LogProb, c.Greedy)
		}
	}
}

func TestInferForms(t *testing.T) {
	r := newTiny(t)
	ctx := context.Background()
	o := DefaultGenerateOptions()
	o.MaxNewTokens = 12
	o.StopAtEOS = false
	prompts := []string{"How do I train a model?", "Go"}
	gens, err := r.Generate(ctx, prompts, o)
	if err != nil {
		t.Fatal(err)
	}
	// The text is the decode of the new ids only: the prompt is stripped by tokens.
	for i, g := range gens {
		if len(g.NewIDs) != 12 || g.Text != r.Tokenizer().DecodeTransformers(g.NewIDs, true) {
			t.Errorf("prompt %d: %+v", i, g)
		}
		if !slices.Equal(g.PromptIDs, r.Tokenizer().Encode(prompts[i])) {
			t.Errorf("prompt %d ids %v", i, g.PromptIDs)
		}
	}
	// Batched equals one at a time.
	batch, err := r.InferBatch(ctx, prompts, o)
	if err != nil {
		t.Fatal(err)
	}
	for i, p := range prompts {
		one, err := r.Generate(ctx, []string{p}, o)
		if err != nil {
			t.Fatal(err)
		}
		if batch[i] != one[0].Text {
			t.Errorf("batched %q != single %q", batch[i], one[0].Text)
		}
	}
	// Streaming yields pieces that join to the whole, and can stop early.
	var pieces []string
	full, err := r.InferStream(ctx, prompts[0], o, func(p string) bool { pieces = append(pieces, p); return true })
	if err != nil {
		t.Fatal(err)
	}
	if want := r.Tokenizer().Decode(gens[0].NewIDs, true); strings.Join(pieces, "") != full || full != want {
		t.Errorf("stream pieces %q join to %q, want %q", pieces, strings.Join(pieces, ""), want)
	}
	n := 0
	if _, err := r.InferStream(ctx, prompts[0], o, func(string) bool { n++; return n < 2 }); err != nil {
		t.Fatal(err)
	}
	if n != 2 {
		t.Errorf("stream did not stop: %d pieces", n)
	}
	// A stop string cuts the text before it.
	if len(gens[0].Text) > 3 {
		stop := gens[0].Text[2:4]
		o2 := o
		o2.StopStrings = []string{stop}
		g, err := r.Generate(ctx, prompts[:1], o2)
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(g[0].Text, stop) || !strings.HasPrefix(gens[0].Text, g[0].Text) || g[0].Reason != "stop" {
			t.Errorf("stop %q: got %q (full %q)", stop, g[0].Text, gens[0].Text)
		}
	}
	// Infer is the greedy default.
	if _, err := r.Infer("What is golamini?"); err != nil {
		t.Fatal(err)
	}
}

func TestConcurrentInfer(t *testing.T) {
	r := newTiny(t)
	o := DefaultGenerateOptions()
	o.MaxNewTokens = 8
	want, err := r.InferBatch(context.Background(), []string{"Hello"}, o)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make(chan string, 16)
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			got, err := r.InferBatch(context.Background(), []string{"Hello"}, o)
			if err != nil || got[0] != want[0] {
				errs <- "concurrent infer differed"
			}
		}()
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
}

func TestNewErrors(t *testing.T) {
	dir := testutil.Testdata(t, "models", "tiny-seq")
	for _, tc := range []struct {
		name  string
		model string
		opts  []Option
		want  string
	}{
		{"no such dir", "/nonexistent/model", nil, "/nonexistent/model"},
		{"file not dir", dir + "/config.json", nil, "is a file"},
		{"bad dtype", dir, []Option{WithDType("int3")}, "dtype"},
		{"bad device", dir, []Option{WithDevice("tpu")}, "device"},
		{"cuda missing", dir, []Option{WithDevice("cuda")}, "CUDA"},
		{"fp16 on cpu", dir, []Option{WithDevice("cpu"), WithDType("float16")}, "bfloat16"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, err := New(tc.model, tc.opts...)
			if err == nil {
				r.Close()
				if tc.name == "cuda missing" {
					t.Skip("this machine has CUDA")
				}
				t.Fatal("no error")
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q does not mention %q", err, tc.want)
			}
		})
	}
}

func TestDescribeFromConfigOnly(t *testing.T) {
	dir := t.TempDir()
	b, err := os.ReadFile(testutil.Testdata(t, "models", "tiny-pythia", "config.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dir+"/config.json", b, 0o644); err != nil {
		t.Fatal(err)
	}
	rep, err := Describe(dir, 8192, "")
	if err != nil {
		t.Fatal(err)
	}
	if rep.Parameters != 3244928 || rep.ParametersWithoutEmbeddings != 1635200 || rep.FLOPs != 80373350400 {
		t.Errorf("report %+v", rep)
	}
}

// bfloat16 weights on CPU generate the same greedy text as float32 for a
// few tokens (the tiny model's logits are far apart) and score finitely.
func TestBFloat16OnCPU(t *testing.T) {
	r, err := New(testutil.Testdata(t, "models", "tiny-seq"), WithDevice("cpu"), WithDType("bfloat16"))
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	o := DefaultGenerateOptions()
	o.MaxNewTokens, o.StopAtEOS = 4, false
	g, err := r.Generate(context.Background(), []string{"How do I train a model?"}, o)
	if err != nil {
		t.Fatal(err)
	}
	if len(g[0].NewIDs) != 4 {
		t.Errorf("bf16 generation: %+v", g[0])
	}
	_, lp, err := r.ScoreText(context.Background(), "The runner loads a checkpoint.")
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range lp {
		if math.IsNaN(v) || v > 0 {
			t.Errorf("bf16 logprob %v", v)
		}
	}
}
