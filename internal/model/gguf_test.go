package model

import (
	"context"
	"encoding/json"
	"math"
	"os"
	"testing"

	"github.com/golamini/golamini/internal/testutil"
	"github.com/golamini/golamini/internal/torch"
)

// TestGGUFLogitsMatchTransformers loads the tiny GGUFs of
// scripts/reference/gguf_hf_goldens.py and compares the logits with
// AutoModelForCausalLM.from_pretrained(dir, gguf_file=...)'s.
func TestGGUFLogitsMatchTransformers(t *testing.T) {
	for _, arch := range []string{"llama", "qwen2", "qwen3"} {
		t.Run(arch, func(t *testing.T) {
			b, err := os.ReadFile(testutil.Testdata(t, "gguf", "tiny-"+arch+".json"))
			if err != nil {
				t.Fatal(err)
			}
			var g struct {
				InputIDs [][]int     `json:"input_ids"`
				Logits   [][]float64 `json:"logits"`
			}
			if err := json.Unmarshal(b, &g); err != nil {
				t.Fatal(err)
			}
			err = torch.Do(context.Background(), func() error {
				m, err := LoadGGUF(context.Background(), testutil.Testdata(t, "gguf", "tiny-"+arch+".gguf"), DefaultLoadOptions())
				if err != nil {
					return err
				}
				defer m.Free()
				got, err := forwardBatch(m, g.InputIDs)
				if err != nil {
					return err
				}
				var maxDiff float64
				for j := range g.Logits {
					for c := range g.Logits[j] {
						maxDiff = math.Max(maxDiff, math.Abs(float64(got[0][j][c])-g.Logits[j][c]))
					}
				}
				if maxDiff > 1e-4 {
					t.Errorf("max |logit diff| = %g > 1e-4", maxDiff)
				} else {
					t.Logf("max |logit diff| = %.2g", maxDiff)
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
		})
	}
}

// TestGGUFRealSmolLM2Logits loads the real Q4_1/Q8_0 SmolLM2 GGUF and
// compares its logits on a chat prompt with transformers' (columns at each
// position's top 5 and a few fixed ones, and the log-sum-exp of each row).
func TestGGUFRealSmolLM2Logits(t *testing.T) {
	path := testutil.SmolLM2GGUF(t)
	b, err := os.ReadFile(testutil.Testdata(t, "gguf", "smollm2_hf.json"))
	if err != nil {
		t.Fatal(err)
	}
	var g struct {
		InputIDs  [][]int     `json:"input_ids"`
		Columns   []int       `json:"columns"`
		Logits    [][]float64 `json:"logits"`
		LogSumExp []float64   `json:"logsumexp"`
	}
	if err := json.Unmarshal(b, &g); err != nil {
		t.Fatal(err)
	}
	err = torch.Do(context.Background(), func() error {
		m, err := LoadGGUF(context.Background(), path, DefaultLoadOptions())
		if err != nil {
			return err
		}
		defer m.Free()
		got, err := forwardBatch(m, g.InputIDs)
		if err != nil {
			return err
		}
		var maxDiff float64
		for j := range g.Logits {
			for c, col := range g.Columns {
				maxDiff = math.Max(maxDiff, math.Abs(float64(got[0][j][col])-g.Logits[j][c]))
			}
			maxDiff = math.Max(maxDiff, math.Abs(logSumExp(got[0][j])-g.LogSumExp[j]))
		}
		if maxDiff > 1e-4 {
			t.Errorf("max |logit diff| = %g > 1e-4", maxDiff)
		} else {
			t.Logf("max |logit diff| = %.2g", maxDiff)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
