package model

import (
	"context"
	"fmt"
	"math"
	"testing"

	"github.com/golamini/golamini/internal/torch"
)

// A decoding step over cache rows of their own lengths (Pass.RowLens) gives
// each row the logits it gets decoded alone: GPT-NeoX and Llama with grouped
// heads (the fused torch.RowAttention paths), Mistral with a sliding window
// shorter than the rows (the general path with a per-row window mask), and
// each of them with fused decoding off (the general path's per-row cache
// writes and mask).
func TestRowLensEqualAlone(t *testing.T) {
	defer func() { fusedDecode = true }()
	for _, cfgJSON := range []string{
		`{"model_type":"gpt_neox","vocab_size":97,"hidden_size":32,"num_hidden_layers":2,"num_attention_heads":4,"intermediate_size":64,"max_position_embeddings":64,"rotary_pct":0.5}`,
		`{"model_type":"llama","vocab_size":97,"hidden_size":32,"num_hidden_layers":2,"num_attention_heads":4,"num_key_value_heads":2,"intermediate_size":64,"max_position_embeddings":64}`,
		`{"model_type":"mistral","vocab_size":97,"hidden_size":32,"num_hidden_layers":2,"num_attention_heads":4,"num_key_value_heads":2,"intermediate_size":64,"max_position_embeddings":64,"sliding_window":5}`,
	} {
		cfg, err := ParseConfig([]byte(cfgJSON), "test config")
		if err != nil {
			t.Fatal(err)
		}
		for _, fused := range []bool{true, false} {
			fusedDecode = fused
			err := torch.Do(context.Background(), func() error {
				defer torch.NoGrad()()
				m, err := NewRandom(cfg, DefaultLoadOptions(), 7)
				if err != nil {
					return err
				}
				defer m.Free()
				prompts := [][]int64{{5, 9, 2}, {7}, {1, 2, 3, 4, 5, 6, 7, 8}}
				const steps = 6
				var want [][][]float32
				for _, p := range prompts {
					lg, err := decodeLogits(m, p, steps)
					if err != nil {
						return err
					}
					want = append(want, lg)
				}
				B := int64(len(prompts))
				big, err := m.NewCache(B+1, 32) // a spare row: the step runs on a view of B rows
				if err != nil {
					return err
				}
				defer big.Free()
				if err := big.Zero(); err != nil {
					return err
				}
				lens := make([]int64, B)
				last := make([]int64, B)
				for b, p := range prompts {
					one, err := m.NewCache(1, 32)
					if err != nil {
						return err
					}
					s := torch.NewScope()
					h := m.Forward(s, s.Int64(p, 1, int64(len(p))), Pass{Cache: one}) // [1, T, H]
					ids, err := m.Greedy(s, s.Narrow(h, 1, int64(len(p)-1), 1)).Int64s()
					if err == nil {
						err = s.Err()
					}
					s.Close()
					if err == nil {
						err = big.CopyRow(int64(b), one, 0, int64(len(p)))
					}
					one.Free()
					if err != nil {
						return err
					}
					lens[b], last[b] = int64(len(p)), ids[0]
				}
				view, err := big.Rows(B)
				if err != nil {
					return err
				}
				defer view.Free()
				for step := range steps {
					s := torch.NewScope()
					h := m.Forward(s, s.Int64(last, B, 1), Pass{Cache: view, RowLens: lens}) // [B, 1, H]
					lg, err := m.Logits(s, h).Float32s()
					if err == nil {
						err = s.Err()
					}
					s.Close()
					if err != nil {
						return err
					}
					V := len(lg) / int(B)
					for b := range B {
						row, w := lg[int(b)*V:int(b+1)*V], want[b][step]
						best := 0
						for i := range row {
							if d := math.Abs(float64(row[i] - w[i])); d > 1e-4*(1+math.Abs(float64(w[i]))) {
								return fmt.Errorf("row %d step %d: logit %d %v, alone %v", b, step, i, row[i], w[i])
							}
							if row[i] > row[best] {
								best = i
							}
						}
						last[b] = int64(best)
						lens[b]++
					}
				}
				return nil
			})
			if err != nil {
				t.Fatalf("%s fused %v: %v", cfg.ModelType, fused, err)
			}
		}
	}
}
