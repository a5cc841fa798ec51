package main

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/golamini/golamini/internal/testutil"
)

// The LoRA command lines: train --lora-r … writes a PEFT adapter,
// --lora-init continues one, score/infer --adapter use it, and merge writes
// a full model that scores the same.
func TestLoRACLI(t *testing.T) {
	model := testutil.Testdata(t, "models", "tiny-seq")
	data := testutil.Testdata(t, "sdk_qa.jsonl")
	out := t.TempDir()
	common := []string{"--model", model, "--data", data, "--input-key", "question", "--output-key", "answer",
		"--max-steps", "2", "--per-device-train-batch-size", "2", "--max-length", "32", "--learning-rate", "1e-2", "--quiet"}
	stdout, stderr, code := run(t, "", append([]string{"train"}, append(common, "--output-dir", out, "--lora-r", "4", "--lora-alpha", "8",
		"--lora-dropout", "0.05", "--lora-target-modules", "query_key_value,dense", "--lora-modules-to-save", "embed_out")...)...)
	if code != 0 {
		t.Fatalf("train exit %d: %s", code, stderr)
	}
	if !strings.Contains(stdout, "LoRA adapter") {
		t.Errorf("stdout: %q", stdout)
	}
	var cfg map[string]any
	b, err := os.ReadFile(filepath.Join(out, "adapter_config.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &cfg); err != nil {
		t.Fatal(err)
	}
	// modules_to_save: the head (tied in tiny-seq) is trained in full and
	// saved under transformers 5's module name; merge then unties it.
	if cfg["r"] != 4.0 || cfg["lora_alpha"] != 8.0 || cfg["lora_dropout"] != 0.05 || len(cfg["target_modules"].([]any)) != 2 ||
		fmt.Sprint(cfg["modules_to_save"]) != "[lm_head]" {
		t.Errorf("adapter_config.json: %v", cfg)
	}
	out2 := t.TempDir()
	if _, stderr, code := run(t, "", append([]string{"train"}, append(common, "--output-dir", out2, "--lora-init", out)...)...); code != 0 {
		t.Fatalf("train --lora-init exit %d: %s", code, stderr)
	}

	score := func(args ...string) []float64 {
		t.Helper()
		stdout, stderr, code := run(t, `{"ids": [414, 302, 355, 32, 535, 302, 259]}`+"\n", append([]string{"score", "--quiet", "--device", "cpu"}, args...)...)
		if code != 0 {
			t.Fatalf("score %v exit %d: %s", args, code, stderr)
		}
		var o scoreOut
		if err := json.Unmarshal([]byte(stdout), &o); err != nil {
			t.Fatal(err)
		}
		return o.LogProbs
	}
	base := score("--model", model)
	adapted := score("--model", model, "--adapter", out)
	diff := func(a, b []float64) float64 {
		d := 0.0
		for i := range a {
			d = math.Max(d, math.Abs(a[i]-b[i]))
		}
		return d
	}
	if diff(base, adapted) == 0 {
		t.Error("score --adapter gives the base model's scores")
	}
	merged := filepath.Join(t.TempDir(), "merged")
	if _, stderr, code := run(t, "", "merge", "--model", model, "--adapter", out, "--output-dir", merged, "--quiet"); code != 0 {
		t.Fatalf("merge exit %d: %s", code, stderr)
	}
	if d := diff(score("--model", merged), adapted); d > 1e-4 {
		t.Errorf("the merged model scores %g away from base + adapter", d)
	}
	if _, _, code := run(t, "", "merge", "--model", model, "--adapter", out, "--output-dir", merged, "--quiet"); code == 0 {
		t.Error("merge over an existing model succeeded")
	}
	half := filepath.Join(t.TempDir(), "half")
	if _, stderr, code := run(t, "", "merge", "--model", model, "--adapter", out, "--output-dir", half, "--dtype", "bfloat16", "--quiet"); code != 0 {
		t.Fatalf("merge --dtype bfloat16 exit %d: %s", code, stderr)
	}
	var hc map[string]any
	b, _ = os.ReadFile(filepath.Join(half, "config.json"))
	if json.Unmarshal(b, &hc); hc["torch_dtype"] != "bfloat16" {
		t.Errorf("merge --dtype bfloat16 wrote torch_dtype %v", hc["torch_dtype"])
	}
	// An adapter for another model: a clear error and no output directory.
	bad := filepath.Join(t.TempDir(), "bad")
	_, stderr, code = run(t, "", "merge", "--model", testutil.Testdata(t, "models", "demo"), "--adapter", out, "--output-dir", bad, "--quiet")
	if code == 0 || !strings.Contains(stderr, "lora_A.weight") {
		t.Errorf("mismatching merge: exit %d, %s", code, stderr)
	}
	if _, err := os.Stat(bad); err == nil {
		t.Error("a failed merge left its output directory")
	}
	stdout, stderr, code = run(t, "", "infer", "--model", model, "--adapter", out, "--prompt", "How", "--max-new-tokens", "3", "--json", "--quiet", "--device", "cpu")
	if code != 0 || !strings.Contains(stdout, "new_ids") {
		t.Errorf("infer --adapter: exit %d: %s %s", code, stdout, stderr)
	}
}
