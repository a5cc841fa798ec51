package main

import (
	"bytes"
	"context"
	"encoding/json"
	"math"
	"os"
	"strings"
	"testing"

	"github.com/golamini/golamini/internal/testutil"
)

// run executes the CLI in-process and returns stdout, stderr and the exit status.
func run(t *testing.T, stdin string, args ...string) (string, string, int) {
	t.Helper()
	var out, errb bytes.Buffer
	code := runMain(context.Background(), args, strings.NewReader(stdin), &out, &errb)
	return out.String(), errb.String(), code
}

func TestInfoJSON(t *testing.T) {
	out, stderr, code := run(t, "", "info", "--model", testutil.Testdata(t, "models", "tiny-pythia"), "--json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var got map[string]any
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatalf("%v: %q", err, out)
	}
	for k, want := range map[string]float64{"parameters": 3244928, "parameters_without_embeddings": 1635200, "flops": 80373350400} {
		if got[k] != want {
			t.Errorf("%s = %v, want %v", k, got[k], want)
		}
	}
	if mb, ok := got["memory_bytes"].(float64); !ok || mb <= 0 {
		t.Errorf("memory_bytes = %v", got["memory_bytes"])
	}
	// Without --json: a summary and the module tree.
	out, _, code = run(t, "", "info", "--model", testutil.Testdata(t, "models", "tiny-pythia"), "--tokens", "100")
	if code != 0 || !strings.Contains(out, "GPTNeoXForCausalLM(") || !strings.Contains(out, "parameters: 3244928") {
		t.Errorf("info text output:\n%s", out)
	}
	// --tokens changes the FLOPs.
	out, _, _ = run(t, "", "info", "--model", testutil.Testdata(t, "models", "tiny-pythia"), "--tokens", "1", "--json")
	json.Unmarshal([]byte(out), &got)
	if got["flops"] != float64(6*1635200) {
		t.Errorf("flops for 1 token = %v", got["flops"])
	}
}

func TestInferJSON(t *testing.T) {
	out, stderr, code := run(t, "", "infer", "--model", testutil.Testdata(t, "models", "tiny-seq"), "--prompt", "How do I train?",
		"--max-new-tokens", "7", "--ignore-eos", "--json", "--quiet")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var got struct {
		PromptIDs []int  `json:"prompt_ids"`
		NewIDs    []int  `json:"new_ids"`
		Text      string `json:"text"`
	}
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatalf("%v: %q", err, out)
	}
	if len(got.PromptIDs) == 0 || len(got.NewIDs) != 7 {
		t.Errorf("infer --json: %+v", got)
	}
	// Plain output is the text; sampling with a seed is reproducible.
	a, _, _ := run(t, "", "infer", "--model", testutil.Testdata(t, "models", "tiny-seq"), "--prompt", "Go", "--max-new-tokens", "9",
		"--temperature", "0.8", "--top-k", "40", "--top-p", "0.9", "--repetition-penalty", "1.2", "--seed", "7", "--quiet")
	b, _, _ := run(t, "", "infer", "--model", testutil.Testdata(t, "models", "tiny-seq"), "--prompt", "Go", "--max-new-tokens", "9",
		"--temperature", "0.8", "--top-k", "40", "--top-p", "0.9", "--repetition-penalty", "1.2", "--seed", "7", "--quiet")
	if a != b {
		t.Errorf("same seed, different text: %q vs %q", a, b)
	}
	if _, _, code := run(t, "", "infer", "--prompt", "x"); code != 2 {
		t.Errorf("missing --model: exit %d, want 2", code)
	}
}

func TestScoreLines(t *testing.T) {
	b, err := os.ReadFile(testutil.Testdata(t, "models", "goldens.json"))
	if err != nil {
		t.Fatal(err)
	}
	var g struct {
		Models map[string]struct {
			Scores struct {
				Texts []struct {
					Text     string    `json:"text"`
					IDs      []int     `json:"ids"`
					LogProbs []float64 `json:"logprobs"`
				} `json:"texts"`
			} `json:"scores"`
		} `json:"models"`
	}
	json.Unmarshal(b, &g)
	want := g.Models["tiny-seq"].Scores.Texts[0]
	idsJSON, _ := json.Marshal(want.IDs)
	textJSON, _ := json.Marshal(want.Text)
	stdin := `{"text": ` + string(textJSON) + "}\n\n" + `{"ids": ` + string(idsJSON) + "}\n"
	out, stderr, code := run(t, stdin, "score", "--model", testutil.Testdata(t, "models", "tiny-seq"), "--quiet")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 2 {
		t.Fatalf("want 2 lines, got %q", out)
	}
	for _, l := range lines {
		var r struct {
			IDs      []int     `json:"ids"`
			LogProbs []float64 `json:"logprobs"`
		}
		if err := json.Unmarshal([]byte(l), &r); err != nil {
			t.Fatal(err)
		}
		if len(r.IDs) != len(want.IDs) || len(r.LogProbs) != len(want.IDs)-1 {
			t.Fatalf("line %q", l)
		}
		for i := range r.LogProbs {
			if math.Abs(r.LogProbs[i]-want.LogProbs[i]) > 1e-4 {
				t.Errorf("logprob %d = %v, want %v", i, r.LogProbs[i], want.LogProbs[i])
			}
		}
	}
	// A bad line is an error naming its line number.
	_, stderr, code = run(t, "{\"text\": \"ok\"}\n{not json}\n", "score", "--model", testutil.Testdata(t, "models", "tiny-seq"), "--quiet")
	if code == 0 || !strings.Contains(stderr, "line 2") {
		t.Errorf("bad line: exit %d, stderr %q", code, stderr)
	}
}
