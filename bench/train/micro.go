package main

import (
	"context"
	"fmt"
	"math"
	"time"

	"github.com/golamini/golamini/internal/data"
	"github.com/golamini/golamini/internal/torch"
)

type microOptions struct {
	reps  int
	which string
}

// runMicro times the pieces a training step of the pythia-70m shape is
// made of, each alone (best of reps, wall and CPU seconds):
//
//	gemm       the matrix product of the loss head, [2044,512]·[512,50304],
//	           as the machine's matmul peak right now
//	head       loss head forward+backward: logits materialised +
//	           cross_entropy (the old path) vs LinearCrossEntropy at
//	           several chunk sizes
//	attention  6 layers of attention forward+backward on [4,8,512,64]:
//	           an explicit boolean causal mask (what gotch's binding
//	           forces: libtorch's math path) vs CausalAttention (is_causal,
//	           no mask: its flash kernel)
//	rotary     6 layers of the model's rotary embedding forward+backward on
//	           q and k of [4,512,8,·,64] (pythia-70m, rotary dims 16): the
//	           half-swap by index_select on the last dim (the model's way)
//	           vs by cat of narrowed views
func runMicro(o microOptions) error {
	res := map[string]any{}
	err := torch.Do(context.Background(), func() error {
		if o.which == "" || o.which == "gemm" {
			if err := microGemm(o.reps, res); err != nil {
				return fmt.Errorf("gemm: %w", err)
			}
		}
		if o.which == "" || o.which == "head" {
			if err := microHead(o.reps, res); err != nil {
				return fmt.Errorf("head: %w", err)
			}
		}
		if o.which == "" || o.which == "attention" {
			if err := microAttention(o.reps, res); err != nil {
				return fmt.Errorf("attention: %w", err)
			}
		}
		if o.which == "" || o.which == "rotary" {
			if err := microRotary(o.reps, res); err != nil {
				return fmt.Errorf("rotary: %w", err)
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	res["bench"] = "micro"
	return emit(res)
}

// timeIt runs f reps times and returns the best wall and CPU seconds.
func timeIt(reps int, f func() error) (wall, cpu float64, err error) {
	wall, cpu = math.Inf(1), math.Inf(1)
	for range reps {
		c0, t0 := cpuTime(), time.Now()
		if err := f(); err != nil {
			return 0, 0, err
		}
		wall, cpu = min(wall, time.Since(t0).Seconds()), min(cpu, cpuTime()-c0)
	}
	return wall, cpu, nil
}

func microGemm(reps int, res map[string]any) error {
	s := torch.NewScope()
	defer s.Close()
	x := s.Randn([]int64{2044, 512}, torch.Float32, torch.CPU)
	w := s.Randn([]int64{50304, 512}, torch.Float32, torch.CPU)
	if err := s.Err(); err != nil {
		return err
	}
	wall, cpu, err := timeIt(reps, func() error {
		t := torch.NewScope()
		defer t.Close()
		t.Linear(x, w, nil)
		return t.Err()
	})
	if err != nil {
		return err
	}
	flop := 2.0 * 2044 * 512 * 50304
	res["gemm_gflops"] = flop / wall / 1e9
	res["gemm_gflops_per_cpu_s"] = flop / cpu / 1e9
	return nil
}

func microHead(reps int, res map[string]any) error {
	s := torch.NewScope()
	defer s.Close()
	const N, H, V = 2044, 512, 50304
	x := s.MulScalar(s.Randn([]int64{N, H}, torch.Float32, torch.CPU), 1)
	w := s.MulScalar(s.Randn([]int64{V, H}, torch.Float32, torch.CPU), 0.02)
	tg := make([]int64, N)
	for i := range tg {
		tg[i] = int64((i * 7919) % 50277)
	}
	targets := s.Int64(tg, N)
	if err := s.Err(); err != nil {
		return err
	}
	for _, t := range []*torch.Tensor{x, w} {
		if err := t.SetRequiresGrad(true); err != nil {
			return err
		}
	}
	run := func(chunk int) (float64, float64, error) {
		return timeIt(reps, func() error {
			t := torch.NewScope()
			defer t.Close()
			var loss *torch.Tensor
			if chunk < 0 {
				loss = t.CrossEntropySum(t.Linear(x, w, nil), targets, data.IgnoreIndex)
			} else {
				loss = t.LinearCrossEntropy(x, w, targets, torch.CrossEntropyOptions{IgnoreIndex: data.IgnoreIndex, GradScale: 1.0 / N, ChunkRows: chunk})
			}
			scaled := t.MulScalar(loss, 1.0/N)
			if err := t.Err(); err != nil {
				return err
			}
			if err := scaled.Backward(); err != nil {
				return err
			}
			for _, p := range []*torch.Tensor{x, w} {
				if err := p.DropGrad(); err != nil {
					return err
				}
			}
			return nil
		})
	}
	out := map[string]any{}
	for _, c := range []int{-1, 128, 256, 333, 512, 1024, 2044} {
		wall, cpu, err := run(c)
		if err != nil {
			return err
		}
		name := fmt.Sprintf("fused_chunk_%d", c)
		if c < 0 {
			name = "materialised"
		}
		out[name] = map[string]float64{"wall_s": wall, "cpu_s": cpu}
	}
	res["head_fwd_bwd"] = out
	return nil
}

func microAttention(reps int, res map[string]any) error {
	s := torch.NewScope()
	defer s.Close()
	const B, NH, T, D = 4, 8, 512, 64
	var qkv [3]*torch.Tensor
	for i := range qkv {
		qkv[i] = s.Randn([]int64{B, NH, T, D}, torch.Float32, torch.CPU)
	}
	mask := s.View(s.Tril(s.Ones([]int64{T, T}, torch.Bool, torch.CPU), 0), 1, 1, T, T)
	if err := s.Err(); err != nil {
		return err
	}
	for _, t := range qkv {
		if err := t.SetRequiresGrad(true); err != nil {
			return err
		}
	}
	scale := 1 / math.Sqrt(D)
	run := func(causal bool) (float64, float64, error) {
		return timeIt(reps, func() error {
			for range 6 { // layers
				t := torch.NewScope()
				var y *torch.Tensor
				if causal {
					y = t.CausalAttention(qkv[0], qkv[1], qkv[2], scale)
				} else {
					y = t.Attention(qkv[0], qkv[1], qkv[2], mask, false, scale)
				}
				l := t.Sum(y, torch.Float32)
				if err := t.Err(); err != nil {
					t.Close()
					return err
				}
				if err := l.Backward(); err != nil {
					t.Close()
					return err
				}
				t.Close()
			}
			for _, p := range qkv {
				if err := p.DropGrad(); err != nil {
					return err
				}
			}
			return nil
		})
	}
	mw, mc, err := run(false)
	if err != nil {
		return err
	}
	cw, cc, err := run(true)
	if err != nil {
		return err
	}
	res["attention_6_layers_fwd_bwd"] = map[string]any{
		"mask_math": map[string]float64{"wall_s": mw, "cpu_s": mc},
		"causal":    map[string]float64{"wall_s": cw, "cpu_s": cc},
	}
	return nil
}

func microRotary(reps int, res map[string]any) error {
	s := torch.NewScope()
	defer s.Close()
	const B, T, NH, HS, ROT = 4, 512, 8, 64, 16
	qkv := s.Randn([]int64{B, T, NH, 3, HS}, torch.Float32, torch.CPU)
	cos := s.Randn([]int64{1, T, 1, 1, HS}, torch.Float32, torch.CPU)
	sin := s.Randn([]int64{1, T, 1, 1, HS}, torch.Float32, torch.CPU)
	perm := make([]int64, HS)
	for i := range perm {
		switch {
		case i < ROT/2:
			perm[i] = int64(i + ROT/2)
		case i < ROT:
			perm[i] = int64(i - ROT/2)
		default:
			perm[i] = int64(i)
		}
	}
	permT := s.Int64(perm, HS)
	if err := s.Err(); err != nil {
		return err
	}
	if err := qkv.SetRequiresGrad(true); err != nil {
		return err
	}
	run := func(swap func(t *torch.Scope, x *torch.Tensor) *torch.Tensor) (float64, float64, error) {
		return timeIt(reps, func() error {
			for range 6 {
				t := torch.NewScope()
				qk := t.Narrow(qkv, 3, 0, 2)
				qk = t.Addcmul(t.Mul(qk, cos), swap(t, qk), sin)
				q, k, v := t.Select(qk, 3, 0), t.Select(qk, 3, 1), t.Select(qkv, 3, 2)
				l := t.Sum(t.Add(t.Add(q, k), v), torch.Float32)
				if err := t.Err(); err != nil {
					t.Close()
					return err
				}
				if err := l.Backward(); err != nil {
					t.Close()
					return err
				}
				t.Close()
			}
			return qkv.DropGrad()
		})
	}
	byIndex := func(t *torch.Scope, x *torch.Tensor) *torch.Tensor { return t.IndexSelect(x, -1, permT) }
	byCat := func(t *torch.Scope, x *torch.Tensor) *torch.Tensor {
		return t.Cat(-1, t.Narrow(x, -1, ROT/2, ROT/2), t.Narrow(x, -1, 0, ROT/2), t.Narrow(x, -1, ROT, HS-ROT))
	}
	out := map[string]any{}
	for _, c := range []struct {
		name string
		swap func(t *torch.Scope, x *torch.Tensor) *torch.Tensor
	}{{"index_select", byIndex}, {"cat", byCat}} {
		w, cpu, err := run(c.swap)
		if err != nil {
			return fmt.Errorf("%s: %w", c.name, err)
		}
		out[c.name] = map[string]float64{"wall_s": w, "cpu_s": cpu}
	}
	res["rotary_6_layers_fwd_bwd"] = out
	return nil
}
