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

// goldens mirrors testdata/models/goldens.json (scripts/reference/model_goldens.py).
type goldens struct {
	Models map[string]struct {
		Columns []int `json:"columns"`
		Rows    []struct {
			IDs       []int       `json:"ids"`
			Logits    [][]float64 `json:"logits"`
			LogSumExp []float64   `json:"logsumexp"`
		} `json:"rows"`
		Parameters                  int64  `json:"parameters"`
		ParametersWithoutEmbeddings int64  `json:"parameters_without_embeddings"`
		FLOPs8192                   int64  `json:"flops_8192"`
		MemoryFootprint             int64  `json:"memory_footprint"`
		ModuleTree                  string `json:"module_tree"`
	} `json:"models"`
	Pythia70mConfig json.RawMessage `json:"pythia-70m-config"`
}

func loadGoldens(t *testing.T) goldens {
	t.Helper()
	b, err := os.ReadFile(testutil.Testdata(t, "models", "goldens.json"))
	if err != nil {
		t.Fatal(err)
	}
	var g goldens
	if err := json.Unmarshal(b, &g); err != nil {
		t.Fatal(err)
	}
	return g
}

// logits runs rows through the model, padded on the right into one batch,
// and returns each row's logits at its valid positions.
func forwardBatch(m *Model, rows [][]int) ([][][]float32, error) {
	s := torch.NewScope()
	defer s.Close()
	T := 0
	for _, r := range rows {
		T = max(T, len(r))
	}
	ids := make([]int64, len(rows)*T)
	for b, r := range rows {
		for j, id := range r {
			ids[b*T+j] = int64(id)
		}
	}
	restore := torch.NoGrad()
	defer restore()
	h := m.Forward(s, s.Int64(ids, int64(len(rows)), int64(T)), Pass{})
	lg := m.Logits(s, h)
	if err := s.Err(); err != nil {
		return nil, err
	}
	flat, err := lg.Float32s()
	if err != nil {
		return nil, err
	}
	V := m.Config.VocabSize
	out := make([][][]float32, len(rows))
	for b, r := range rows {
		for j := range r {
			off := (b*T + j) * V
			out[b] = append(out[b], flat[off:off+V])
		}
	}
	return out, nil
}

func logSumExp(v []float32) float64 {
	m := math.Inf(-1)
	for _, x := range v {
		m = math.Max(m, float64(x))
	}
	var s float64
	for _, x := range v {
		s += math.Exp(float64(x) - m)
	}
	return m + math.Log(s)
}

func TestLogitsMatchTransformers(t *testing.T) {
	g := loadGoldens(t)
	for _, tc := range []struct{ dir, golden string }{
		{"tiny-pythia", "tiny-pythia"},
		{"tiny-seq", "tiny-seq"},
		{"tiny-seq-fp16-bin", "tiny-seq"},
		{"tiny-seq-bf16-sharded", "tiny-seq"},
		{"tiny-seq-bin-sharded", "tiny-seq"},
	} {
		t.Run(tc.dir, func(t *testing.T) {
			want := g.Models[tc.golden]
			err := torch.Do(context.Background(), func() error {
				m, err := Load(context.Background(), testutil.Testdata(t, "models", tc.dir), DefaultLoadOptions())
				if err != nil {
					return err
				}
				defer m.Free()
				var rows [][]int
				for _, r := range want.Rows {
					rows = append(rows, r.IDs)
				}
				// Batched (right padding, different lengths) and one row at a time.
				batched, err := forwardBatch(m, rows)
				if err != nil {
					return err
				}
				for i, r := range want.Rows {
					single, err := forwardBatch(m, [][]int{r.IDs})
					if err != nil {
						return err
					}
					for _, got := range [][][]float32{batched[i], single[0]} {
						var maxDiff float64
						for j := range r.IDs {
							for c, col := range want.Columns {
								maxDiff = math.Max(maxDiff, math.Abs(float64(got[j][col])-r.Logits[j][c]))
							}
							maxDiff = math.Max(maxDiff, math.Abs(logSumExp(got[j])-r.LogSumExp[j]))
						}
						if maxDiff > 1e-4 {
							t.Errorf("row %d: max |logit diff| = %g > 1e-4", i, maxDiff)
						} else {
							t.Logf("row %d: max |logit diff| = %.2g", i, maxDiff)
						}
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

func TestReportMatchesTransformers(t *testing.T) {
	g := loadGoldens(t)
	cfgs := map[string]Config{}
	for _, name := range []string{"tiny-pythia", "tiny-seq"} {
		c, err := LoadConfig(testutil.Testdata(t, "models", name))
		if err != nil {
			t.Fatal(err)
		}
		cfgs[name] = c
	}
	c70, err := ParseConfig(g.Pythia70mConfig, "pythia-70m-config")
	if err != nil {
		t.Fatal(err)
	}
	cfgs["pythia-70m"] = c70
	for name, c := range cfgs {
		want := g.Models[name]
		if got := c.NumParameters(false); got != want.Parameters {
			t.Errorf("%s: parameters %d, want %d", name, got, want.Parameters)
		}
		if got := c.NumParameters(true); got != want.ParametersWithoutEmbeddings {
			t.Errorf("%s: parameters without embeddings %d, want %d", name, got, want.ParametersWithoutEmbeddings)
		}
		if got := c.FLOPs(8192); got != want.FLOPs8192 {
			t.Errorf("%s: FLOPs(8192) %d, want %d", name, got, want.FLOPs8192)
		}
		if got := c.HFMemoryFootprint(torch.Float32); got != want.MemoryFootprint {
			t.Errorf("%s: HF memory footprint %d, want %d", name, got, want.MemoryFootprint)
		}
		if got := c.ModuleTree(); got != want.ModuleTree {
			t.Errorf("%s: module tree differs:\n%s\nwant:\n%s", name, got, want.ModuleTree)
		}
	}
	// The course's figure: 2048 tokens × 4 accumulation steps on pythia-70m.
	if got := c70.FLOPs(2048 * 4); got != 2195667812352 {
		t.Errorf("pythia-70m FLOPs = %d, want 2195667812352", got)
	}
}
