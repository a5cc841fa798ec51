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

type greedyGolden struct {
	Prompt []int `json:"prompt"`
	NewIDs []int `json:"new_ids"`
}

func loadGreedy(t *testing.T, name string) []greedyGolden {
	t.Helper()
	b, err := os.ReadFile(testutil.Testdata(t, "models", "goldens.json"))
	if err != nil {
		t.Fatal(err)
	}
	var g struct {
		Models map[string]struct {
			Greedy []greedyGolden `json:"greedy"`
		} `json:"models"`
	}
	if err := json.Unmarshal(b, &g); err != nil {
		t.Fatal(err)
	}
	return g.Models[name].Greedy
}

func withModel(t *testing.T, dir string, fn func(m *model.Model) error) {
	t.Helper()
	err := torch.Do(context.Background(), func() error {
		m, err := model.Load(context.Background(), testutil.Testdata(t, "models", dir), model.DefaultLoadOptions())
		if err != nil {
			return err
		}
		defer m.Free()
		return fn(m)
	})
	if err != nil {
		t.Fatal(err)
	}
}

// Greedy continuations of 20 tokens equal transformers' generate, with and
// without the KV cache, one prompt at a time and as a left-padded batch.
func TestGreedyMatchesTransformers(t *testing.T) {
	for _, name := range []string{"tiny-pythia", "tiny-seq"} {
		t.Run(name, func(t *testing.T) {
			want := loadGreedy(t, name)
			withModel(t, name, func(m *model.Model) error {
				var prompts [][]int
				for _, g := range want {
					prompts = append(prompts, g.Prompt)
				}
				for _, cache := range []bool{true, false} {
					o := DefaultOptions()
					o.MaxNewTokens, o.StopAtEOS, o.UseCache = 20, false, cache
					for i, g := range want {
						res, err := Generate(context.Background(), m, [][]int{g.Prompt}, o, nil)
						if err != nil {
							return err
						}
						if !slices.Equal(res[0].NewIDs, g.NewIDs) {
							t.Errorf("cache=%v prompt %d: got %v, want %v", cache, i, res[0].NewIDs, g.NewIDs)
						}
					}
					res, err := Generate(context.Background(), m, prompts, o, nil)
					if err != nil {
						return err
					}
					for i, g := range want {
						if !slices.Equal(res[i].NewIDs, g.NewIDs) {
							t.Errorf("batched cache=%v prompt %d: got %v, want %v", cache, i, res[i].NewIDs, g.NewIDs)
						}
					}
				}
				return nil
			})
		})
	}
}

func TestSamplingIsSeededAndStops(t *testing.T) {
	withModel(t, "tiny-seq", func(m *model.Model) error {
		prompt := [][]int{{5, 6, 7, 8}}
		o := DefaultOptions()
		o.MaxNewTokens, o.Temperature, o.TopK, o.TopP, o.RepetitionPenalty, o.Seed = 15, 0.9, 50, 0.95, 1.3, 42
		o.StopAtEOS = false
		a, err := Generate(context.Background(), m, prompt, o, nil)
		if err != nil {
			return err
		}
		b, err := Generate(context.Background(), m, prompt, o, nil)
		if err != nil {
			return err
		}
		if !slices.Equal(a[0].NewIDs, b[0].NewIDs) || len(a[0].NewIDs) != 15 || a[0].Reason != StopLength {
			t.Errorf("same seed gave %v and %v", a[0], b[0])
		}
		o.Seed = 43
		c, err := Generate(context.Background(), m, prompt, o, nil)
		if err != nil {
			return err
		}
		if slices.Equal(a[0].NewIDs, c[0].NewIDs) {
			t.Errorf("seeds 42 and 43 gave the same sample %v", a[0].NewIDs)
		}
		// The callback stops a row; EOS stops a row.
		n := 0
		r, err := Generate(context.Background(), m, prompt, o, func(row, id int) bool { n++; return n < 3 })
		if err != nil {
			return err
		}
		if len(r[0].NewIDs) != 3 || r[0].Reason != StopCallback {
			t.Errorf("callback stop: %+v", r[0])
		}
		o.StopAtEOS, o.EOSID = true, a[0].NewIDs[4]
		r, err = Generate(context.Background(), m, prompt, o, nil)
		if err != nil {
			return err
		}
		if r[0].Reason != StopEOS || r[0].NewIDs[len(r[0].NewIDs)-1] != o.EOSID || len(r[0].NewIDs) > 5 {
			t.Errorf("eos stop: %+v", r[0])
		}
		// Bad input is an error, not a crash.
		if _, err := Generate(context.Background(), m, [][]int{{}}, o, nil); err == nil {
			t.Error("empty prompt: no error")
		}
		if _, err := Generate(context.Background(), m, [][]int{{1 << 20}}, o, nil); err == nil {
			t.Error("out-of-vocabulary id: no error")
		}
		return nil
	})
}
