package model

import (
	"context"
	"fmt"
	"math"
	"testing"

	"github.com/golamini/golamini/internal/testutil"
	"github.com/golamini/golamini/internal/torch"
)

// decodeLogits prefills prompt into a KV cache and then decodes steps tokens
// one at a time (greedy), returning the logits of every decoding step. At
// every step it checks that Greedy picks the argmax of the logits.
func decodeLogits(m *Model, prompt []int64, steps int) ([][]float32, error) {
	restore := torch.NoGrad()
	defer restore()
	cache, err := m.NewCache(1, int64(len(prompt)+steps))
	if err != nil {
		return nil, err
	}
	defer cache.Free()
	var out [][]float32
	ids := prompt
	for step := 0; step <= steps; step++ {
		s := torch.NewScope()
		h := m.Forward(s, s.Int64(ids, 1, int64(len(ids))), Pass{Cache: cache}) // [1, T, H]
		last := s.Narrow(h, 1, int64(len(ids)-1), 1)                            // [1, 1, H]
		lg, err := m.Logits(s, last).Float32s()
		var greedy []int64
		if err == nil {
			greedy, err = m.Greedy(s, last).Int64s()
		}
		if err == nil {
			err = s.Err()
		}
		s.Close()
		if err != nil {
			return nil, err
		}
		if step > 0 {
			out = append(out, lg)
		}
		best := 0
		for i, v := range lg {
			if v > lg[best] {
				best = i
			}
		}
		if len(greedy) != 1 || greedy[0] != int64(best) {
			return nil, fmt.Errorf("step %d: Greedy chose %v, the argmax of the logits is %d", step, greedy, best)
		}
		ids = []int64{int64(best)}
	}
	return out, nil
}

// The fused decoding step (attendNew: torch.DecodeAttention and
// RowLinearGELU; attendGroupedNew: RowLinearCat and
// torch.DecodeAttentionGrouped; RowLinearSwiGLU) computes what the general
// path computes, within float32 rounding, with partial rotary and parallel
// residual (tiny-pythia), with full rotary and sequential residual
// (tiny-seq), and for the Llama-style families: grouped heads and a tied
// head (llama-gqa-tied), q/k/v biases (qwen2-bias-tied), per-head q/k norms
// (qwen3-qknorm-yarn), biases everywhere with llama3 rope
// (llama-bias-llama3) and a sliding window (mistral-window).
func TestFusedDecodeMatchesGeneralPath(t *testing.T) {
	defer func() { fusedDecode = true }()
	for _, dir := range [][]string{{"models", "tiny-pythia"}, {"models", "tiny-seq"},
		{"families", "llama-gqa-tied"}, {"families", "qwen2-bias-tied"}, {"families", "qwen3-qknorm-yarn"},
		{"families", "llama-bias-llama3"}, {"families", "mistral-window"}} {
		t.Run(dir[1], func(t *testing.T) {
			err := torch.Do(context.Background(), func() error {
				m, err := Load(context.Background(), testutil.Testdata(t, dir...), DefaultLoadOptions())
				if err != nil {
					return err
				}
				defer m.Free()
				prompt := []int64{3, 14, 15, 92, 65, 35}
				fusedDecode = true
				before := groupedSteps.Load()
				fused, err := decodeLogits(m, prompt, 12)
				if err != nil {
					return err
				}
				// Every step of mistral-window sees more than its window of 6
				// positions: a mask, so the general path.
				want := dir[0] == "families" && dir[1] != "mistral-window"
				if grouped := groupedSteps.Load() > before; grouped != want {
					t.Errorf("attendGroupedNew ran fused: %v, want %v", grouped, want)
				}
				fusedDecode = false
				general, err := decodeLogits(m, prompt, 12)
				if err != nil {
					return err
				}
				worst := 0.0
				for i := range general {
					for j := range general[i] {
						worst = math.Max(worst, math.Abs(float64(fused[i][j]-general[i][j])))
					}
				}
				t.Logf("%d steps: max |fused − general| = %.2g", len(general), worst)
				if worst > 1e-5 {
					t.Errorf("fused decoding differs from the general path by %.2g (> 1e-5)", worst)
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
		})
	}
}

// applyRotary's ways agree, with partial rotary (tiny-pythia) and full
// rotary (tiny-seq): in libtorch ops, the index_select swap (few rows) and
// the cat swap (many rows) give the same values; the fused torch.Rotary
// gives them within a rounding (it adds two rounded products as HF does,
// where Addcmul fuses the second into the sum), forward and backward, on a
// strided slice of a fused projection as in attention.
func TestRotarySwapWaysAgree(t *testing.T) {
	for _, dir := range []string{"tiny-pythia", "tiny-seq"} {
		t.Run(dir, func(t *testing.T) {
			err := torch.Do(context.Background(), func() error {
				m, err := Load(context.Background(), testutil.Testdata(t, "models", dir), DefaultLoadOptions())
				if err != nil {
					return err
				}
				defer m.Free()
				s := torch.NewScope()
				defer s.Close()
				nh, hs := int64(m.Config.NumAttentionHeads), int64(m.Config.HeadSize)
				T := int64(1<<16)/(nh*hs) + 1 // enough rows for the cat way
				r := m.rotary(s, 1, T, 0, nil)
				cos, sin := r.cos, r.sin
				qkv := s.Randn([]int64{1, T, nh, 3, hs}, torch.Float32, torch.CPU)
				up := s.Randn([]int64{1, T, nh, hs}, torch.Float32, torch.CPU)
				if err := s.Err(); err != nil {
					return err
				}
				if err := qkv.SetRequiresGrad(true); err != nil {
					return err
				}
				run := func(way string) ([]float32, []float32, error) {
					if err := qkv.DropGrad(); err != nil {
						return nil, nil, err
					}
					x := s.Unbind(qkv, 3)[1] // [1, T, nh, hs], strided
					if s.Err() != nil {
						return nil, nil, s.Err()
					}
					if x.Numel() < 1<<16 {
						return nil, nil, fmt.Errorf("%d values: the cat way needs 65536", x.Numel())
					}
					var y *torch.Tensor
					switch way {
					case "fused":
						if !torch.RotaryOK(x, cos, sin) {
							return nil, nil, fmt.Errorf("torch.Rotary does not take the model's tensors")
						}
						y = m.applyRotary(s, x, r)
					case "cat":
						y = m.applyRotaryOps(s, x, r)
					case "index":
						y = s.Addcmul(s.Mul(x, cos), s.IndexSelect(x, -1, m.ropePerm), sin)
					}
					if err := s.Sum(s.Mul(y, up), torch.Float32).Backward(); err != nil {
						return nil, nil, err
					}
					g, err := qkv.Grad()
					if err != nil {
						return nil, nil, err
					}
					gv, err := s.Own(g).Float32s()
					if err != nil {
						return nil, nil, err
					}
					yv, err := y.Float32s()
					return yv, gv, err
				}
				ys, gs := map[string][]float32{}, map[string][]float32{}
				for _, way := range []string{"fused", "cat", "index"} {
					if ys[way], gs[way], err = run(way); err != nil {
						return fmt.Errorf("%s: %w", way, err)
					}
				}
				for i := range ys["cat"] {
					if ys["cat"][i] != ys["index"][i] || gs["cat"][i] != gs["index"][i] {
						return fmt.Errorf("value %d: cat %v (grad %v), index_select %v (grad %v)", i, ys["cat"][i], gs["cat"][i], ys["index"][i], gs["index"][i])
					}
				}
				for what, pair := range map[string][2][]float32{"output": {ys["fused"], ys["cat"]}, "gradient": {gs["fused"], gs["cat"]}} {
					for i := range pair[0] {
						a, b := float64(pair[0][i]), float64(pair[1][i])
						if math.Abs(a-b) > 1e-6*math.Max(1, math.Abs(b)) {
							return fmt.Errorf("%s %d: fused %v, ops %v", what, i, a, b)
						}
					}
				}
				return s.Err()
			})
			if err != nil {
				t.Fatal(err)
			}
		})
	}
}
