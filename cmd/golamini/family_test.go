package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/golamini/golamini/internal/testutil"
)

// `info` gives transformers' parameter counts and FLOPs (6 × tokens ×
// parameters without embeddings) for the real configs of SmolLM2-135M and
// -360M, Qwen2.5-0.5B, Qwen3-0.6B and Llama-3.2-1B
// (testdata/families/report.json, scripts/reference/family_goldens.py).
func TestInfoFamiliesMatchTransformers(t *testing.T) {
	b, err := os.ReadFile(testutil.Testdata(t, "families", "report.json"))
	if err != nil {
		t.Fatal(err)
	}
	var want map[string]struct {
		Parameters                  float64 `json:"parameters"`
		ParametersWithoutEmbeddings float64 `json:"parameters_without_embeddings"`
		FLOPs1024                   float64 `json:"flops_1024"`
		ModuleTree                  string  `json:"module_tree"`
	}
	if err := json.Unmarshal(b, &want); err != nil {
		t.Fatal(err)
	}
	for file, w := range want {
		t.Run(file, func(t *testing.T) {
			dir := t.TempDir()
			cfg, err := os.ReadFile(testutil.Testdata(t, "families", "configs", file))
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(dir, "config.json"), cfg, 0o644); err != nil {
				t.Fatal(err)
			}
			out, stderr, code := run(t, "", "info", "--model", dir, "--tokens", "1024", "--json")
			if code != 0 {
				t.Fatalf("exit %d: %s", code, stderr)
			}
			var got map[string]any
			if err := json.Unmarshal([]byte(out), &got); err != nil {
				t.Fatal(err)
			}
			for k, v := range map[string]float64{"parameters": w.Parameters, "parameters_without_embeddings": w.ParametersWithoutEmbeddings, "flops": w.FLOPs1024} {
				if got[k] != v {
					t.Errorf("%s = %v, transformers %v", k, got[k], v)
				}
			}
			out, _, code = run(t, "", "info", "--model", dir)
			if code != 0 || !strings.Contains(out, w.ModuleTree) {
				t.Errorf("info text output lacks transformers' module tree:\n%s", out)
			}
		})
	}
}
