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
// RowLinearGELU) computes what the general path computes, within float32
// rounding, with partial rotary and parallel residual (tiny-pythia) and with
// full rotary and sequential residual (tiny-seq).
func TestFusedDecodeMatchesGeneralPath(t *testing.T) {
	defer func() { fusedDecode = true }()
	for _, dir := range []string{"tiny-pythia", "tiny-seq"} {
		t.Run(dir, func(t *testing.T) {
			err := torch.Do(func() error {
				m, err := Load(context.Background(), testutil.Testdata(t, "models", dir), DefaultLoadOptions())
				if err != nil {
					return err
				}
				defer m.Free()
				prompt := []int64{3, 14, 15, 92, 65, 35}
				fusedDecode = true
				fused, err := decodeLogits(m, prompt, 12)
				if err != nil {
					return err
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

// applyRotary's two ways of swapping the rotary halves (index_select for
// few rows, cat of narrowed views for many) give the same result, with
// partial rotary (tiny-pythia) and full rotary (tiny-seq).
func TestRotarySwapWaysAgree(t *testing.T) {
	for _, dir := range []string{"tiny-pythia", "tiny-seq"} {
		t.Run(dir, func(t *testing.T) {
			err := torch.Do(func() error {
				m, err := Load(context.Background(), testutil.Testdata(t, "models", dir), DefaultLoadOptions())
				if err != nil {
					return err
				}
				defer m.Free()
				defer torch.NoGrad()()
				s := torch.NewScope()
				defer s.Close()
				nh, hs := int64(m.Config.NumAttentionHeads), int64(m.Config.HeadSize)
				T := int64(1<<16)/(nh*hs) + 1 // enough rows for the cat way
				cos, sin := m.rotary(s, 1, T, 0, nil)
				x := s.Randn([]int64{1, T, nh, hs}, torch.Float32, torch.CPU)
				if x.Numel() < 1<<16 {
					t.Fatalf("%d values: the cat way needs 65536", x.Numel())
				}
				viaCat := m.applyRotary(s, x, cos, sin)
				viaIndex := s.Addcmul(s.Mul(x, cos), s.IndexSelect(x, -1, m.ropePerm), sin)
				a, err := viaCat.Float32s()
				if err != nil {
					return err
				}
				b, err := viaIndex.Float32s()
				if err != nil {
					return err
				}
				for i := range a {
					if a[i] != b[i] {
						t.Fatalf("value %d: cat %v, index_select %v", i, a[i], b[i])
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
