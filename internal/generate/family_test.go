package generate

import (
	"context"
	"encoding/json"
	"os"
	"slices"
	"testing"

	"github.com/golamini/golamini/internal/model"
	"github.com/golamini/golamini/internal/testutil"
	"github.com/golamini/golamini/internal/torch"
)

// Greedy continuations of the Llama-style families (Llama, Mistral with a
// sliding window shorter than the text, Qwen2, Qwen3, each rope type) equal
// transformers 5's generate: with and without the KV cache, one prompt at a
// time and as a left-padded batch (testdata/families/goldens.json,
// scripts/reference/family_goldens.py).
func TestFamilyGreedyMatchesTransformers(t *testing.T) {
	b, err := os.ReadFile(testutil.Testdata(t, "families", "goldens.json"))
	if err != nil {
		t.Fatal(err)
	}
	var g struct {
		Prompts   [][]int `json:"prompts"`
		NewTokens int     `json:"new_tokens"`
		Cases     []struct {
			Name          string  `json:"name"`
			Greedy        [][]int `json:"greedy"`
			GreedyNoCache [][]int `json:"greedy_no_cache"`
			GreedyBatch   [][]int `json:"greedy_batch"`
		} `json:"cases"`
	}
	if err := json.Unmarshal(b, &g); err != nil {
		t.Fatal(err)
	}
	for _, c := range g.Cases {
		t.Run(c.Name, func(t *testing.T) {
			err := torch.Do(context.Background(), func() error {
				m, err := model.Load(context.Background(), testutil.Testdata(t, "families", c.Name), model.DefaultLoadOptions())
				if err != nil {
					return err
				}
				defer m.Free()
				for _, cache := range []bool{true, false} {
					want := c.Greedy
					if !cache {
						want = c.GreedyNoCache
					}
					o := DefaultOptions()
					o.MaxNewTokens, o.StopAtEOS, o.UseCache = g.NewTokens, false, cache
					for i, p := range g.Prompts {
						res, err := Generate(context.Background(), m, [][]int{p}, o, nil)
						if err != nil {
							return err
						}
						if !slices.Equal(res[0].NewIDs, want[i]) {
							t.Errorf("cache=%v prompt %d: got %v, transformers %v", cache, i, res[0].NewIDs, want[i])
						}
					}
				}
				o := DefaultOptions()
				o.MaxNewTokens, o.StopAtEOS = g.NewTokens, false
				res, err := Generate(context.Background(), m, g.Prompts, o, nil)
				if err != nil {
					return err
				}
				for i := range g.Prompts {
					if !slices.Equal(res[i].NewIDs, c.GreedyBatch[i]) {
						t.Errorf("left-padded batch, prompt %d: got %v, transformers %v", i, res[i].NewIDs, c.GreedyBatch[i])
					}
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
		})
	}
}
