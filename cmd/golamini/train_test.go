package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/golamini/golamini/internal/testutil"
)

// train writes DIR/trainer_state.json with HF's log_history names, one entry
// per logging step; eval --json prints the evaluation object.
func TestTrainAndEvalCLI(t *testing.T) {
	out := t.TempDir()
	model := testutil.Testdata(t, "models", "tiny-seq")
	data := testutil.Testdata(t, "sdk_qa.jsonl")
	stdout, stderr, code := run(t, "", "train", "--model", model, "--data", data, "--input-key", "question", "--output-key", "answer",
		"--output-dir", out, "--max-steps", "4", "--per-device-train-batch-size", "4", "--gradient-accumulation-steps", "2",
		"--learning-rate", "1e-3", "--optim", "adafactor", "--lr-scheduler-type", "linear", "--warmup-steps", "1", "--max-grad-norm", "0",
		"--logging-steps", "1", "--save-strategy", "steps", "--save-steps", "2", "--save-total-limit", "1", "--eval-strategy", "steps",
		"--eval-steps", "2", "--seed", "7", "--max-length", "48", "--prompt-template", `Q: {input}\nA:`, "--quiet")
	if code != 0 {
		t.Fatalf("train exit %d: %s", code, stderr)
	}
	if !strings.Contains(stdout, "trained 4 steps") {
		t.Errorf("stdout: %q", stdout)
	}
	b, err := os.ReadFile(filepath.Join(out, "trainer_state.json"))
	if err != nil {
		t.Fatal(err)
	}
	var st struct {
		GlobalStep int              `json:"global_step"`
		LogHistory []map[string]any `json:"log_history"`
	}
	if err := json.Unmarshal(b, &st); err != nil {
		t.Fatal(err)
	}
	var steps []float64
	evals := 0
	for _, e := range st.LogHistory {
		if _, ok := e["loss"]; ok {
			for _, k := range []string{"step", "epoch", "loss", "learning_rate", "grad_norm"} {
				if _, ok := e[k]; !ok {
					t.Errorf("log entry %v lacks %q", e, k)
				}
			}
			steps = append(steps, e["step"].(float64))
		}
		if _, ok := e["eval_loss"]; ok {
			evals++
		}
	}
	if st.GlobalStep != 4 || len(steps) != 4 || evals != 2 {
		t.Errorf("global_step %d, loss entries at %v, %d evals", st.GlobalStep, steps, evals)
	}
	// save_total_limit 1 keeps one checkpoint (plus the best when it differs).
	cks, _ := filepath.Glob(filepath.Join(out, "checkpoint-*"))
	if len(cks) == 0 || len(cks) > 2 {
		t.Errorf("checkpoints: %v", cks)
	}
	stdout, stderr, code = run(t, "", "eval", "--model", out, "--data", data, "--input-key", "question", "--output-key", "answer",
		"--max-rows", "2", "--max-new-tokens", "5", "--prompt-template", `Q: {input}\nA:`, "--json", "--quiet")
	if code != 0 {
		t.Fatalf("eval exit %d: %s", code, stderr)
	}
	var rep struct {
		Loss       float64 `json:"eval_loss"`
		Perplexity float64 `json:"perplexity"`
		ExactMatch float64 `json:"exact_match"`
		Rows       []struct {
			Input, Expected, Trained string
		} `json:"rows"`
		HeldOut int `json:"held_out"`
	}
	if err := json.Unmarshal([]byte(stdout), &rep); err != nil {
		t.Fatalf("%v: %q", err, stdout)
	}
	if rep.Loss <= 0 || rep.Perplexity <= 1 || len(rep.Rows) != 2 || rep.HeldOut < 2 {
		t.Errorf("eval: %+v", rep)
	}
	// Bad data is an error naming the file and line.
	bad := filepath.Join(t.TempDir(), "bad.jsonl")
	os.WriteFile(bad, []byte("{\"question\": \"a\", \"answer\": \"b\"}\n{\"question\": 3, \"answer\": \"b\"}\n"), 0o644)
	_, stderr, code = run(t, "", "train", "--model", model, "--data", bad, "--input-key", "question", "--output-key", "answer", "--output-dir", t.TempDir(), "--quiet")
	if code == 0 || !strings.Contains(stderr, "bad.jsonl") || !strings.Contains(stderr, "line 2") {
		t.Errorf("bad data: exit %d, %q", code, stderr)
	}
}
