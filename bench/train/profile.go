package main

import (
	"context"
	"fmt"
	"math"
	"os"
	"time"

	"github.com/golamini/golamini/internal/data"
	"github.com/golamini/golamini/internal/model"
	"github.com/golamini/golamini/internal/torch"
)

type profileOptions struct {
	steps, batch, seq int
	variant           string
	trace             string // chrome://tracing file of libtorch's operators for the last step ("" = none)
	config            string // config.json of the shape to profile ("" = pythia-70m)
}

// phases accumulates wall and CPU seconds per phase of a step.
type phases struct {
	names []string
	wall  map[string][]float64
	cpu   map[string][]float64
	t     time.Time
	c     float64
}

func newPhases() *phases {
	return &phases{wall: map[string][]float64{}, cpu: map[string][]float64{}}
}

func (p *phases) start() { p.t, p.c = time.Now(), cpuTime() }

// lap closes the phase that began at the last start or lap.
func (p *phases) lap(name string) {
	now, c := time.Now(), cpuTime()
	if _, ok := p.wall[name]; !ok {
		p.names = append(p.names, name)
	}
	p.wall[name] = append(p.wall[name], now.Sub(p.t).Seconds())
	p.cpu[name] = append(p.cpu[name], c-p.c)
	p.t, p.c = now, c
}

// runProfile times the phases of a training step with Go-side timers. It
// runs the trainer's own operations one phase at a time: forward through
// the blocks, the loss head (final hidden states → embed_out → summed
// cross-entropy) and its backward, backward through the blocks, the
// gradient norm and clipping, the AdamW update and zeroing the gradients.
// To time the head's backward apart from the blocks', the head starts
// from a detached copy of the final hidden states and the blocks' backward
// is driven by its gradient (the same math as one backward call).
//
// Variants:
//
//	old   the trainer before this benchmark's work: logits materialised
//	      and cross_entropy on them, the gradient norm as 3 ops per
//	      parameter and clipping as an in-place pass, AdamW as about ten
//	      tensor ops per parameter, gradients zeroed in place.
//	new   the trainer's loss head (torch.Scope.LinearCrossEntropy) plus the
//	      optimizer of bench/train/proposed/train-optimizer.patch: one
//	      GradNorm call, clipping folded into torch.AdamW, gradients set to
//	      none (DropGrad).
//
// The blocks are the model package as built (with or without
// bench/train/proposed/model-attention-rotary.patch).
func runProfile(o profileOptions) error {
	rows := randomRows((o.steps+1)*o.batch, o.seq, 1)
	p := newPhases()
	var losses []float64
	cfg := model.Pythia70M()
	if o.config != "" {
		b, err := os.ReadFile(o.config)
		if err != nil {
			return err
		}
		if cfg, err = model.ParseConfig(b, o.config); err != nil {
			return err
		}
	}
	err := torch.Do(context.Background(), func() error {
		m, err := model.NewRandom(cfg, model.DefaultLoadOptions(), 1)
		if err != nil {
			return err
		}
		defer m.Free()
		params := m.Parameters()
		for _, q := range params {
			if err := q.Tensor.SetRequiresGrad(true); err != nil {
				return err
			}
		}
		opt := newProfAdamW(params, o.variant)
		defer opt.free()
		for step := 0; step <= o.steps; step++ {
			b := data.Collate(rows[step*o.batch:(step+1)*o.batch], 0, 0)
			traced := o.trace != "" && step == o.steps
			if traced {
				if err := startTorchProfiler(o.trace); err != nil {
					return err
				}
			}
			loss, err := profStep(p, m, b, opt, o.variant)
			if traced {
				if perr := stopTorchProfiler(); perr != nil && err == nil {
					err = perr
				}
			}
			if err != nil {
				return fmt.Errorf("step %d: %w", step, err)
			}
			losses = append(losses, loss)
			if step == 0 { // warm-up: forget its times
				p = newPhases()
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	best := map[string]float64{}
	cpuBest := map[string]float64{}
	total, totalCPU := 0.0, 0.0
	for _, n := range p.names {
		best[n] = median(p.wall[n])
		cpuBest[n] = median(p.cpu[n])
		total += best[n]
		totalCPU += cpuBest[n]
	}
	return emit(map[string]any{
		"bench": "profile", "variant": o.variant, "batch": o.batch, "seq": o.seq, "steps": o.steps,
		"phases": p.names, "median_wall_s": best, "median_cpu_s": cpuBest, "step_wall_s": total, "step_cpu_s": totalCPU,
		"tokens_per_s": float64(o.batch*o.seq) / total, "losses": losses,
	})
}

func profStep(p *phases, m *model.Model, b data.Batch, opt *profAdamW, variant string) (float64, error) {
	p.start()
	s := torch.NewScope()
	defer s.Close()
	B, T := int64(len(b.InputIDs)), int64(b.Width())
	in := make([]int64, 0, B*T)
	tg := make([]int64, 0, B*(T-1))
	for i := range b.InputIDs {
		for j, id := range b.InputIDs[i] {
			in = append(in, int64(id))
			if j > 0 {
				tg = append(tg, int64(b.Labels[i][j]))
			}
		}
	}
	ids, targets := s.Int64(in, B, T), s.Int64(tg, B*(T-1))
	h := m.Forward(s, ids, model.Pass{})
	if err := s.Err(); err != nil {
		return 0, err
	}
	p.lap("forward")
	leaf := s.Detach(h)
	if err := s.Err(); err != nil {
		return 0, err
	}
	if err := leaf.SetRequiresGrad(true); err != nil {
		return 0, err
	}
	H := int64(m.Config.HiddenSize)
	x := s.Reshape(s.Narrow(leaf, 1, 0, T-1), B*(T-1), H)
	scale := 1 / float64(b.Tokens)
	var loss *torch.Tensor
	switch variant {
	case "old":
		logits := s.Linear(x, m.EmbedOut, nil)
		loss = s.CrossEntropySum(logits, targets, data.IgnoreIndex)
	default:
		loss = s.LinearCrossEntropy(x, m.EmbedOut, targets, torch.CrossEntropyOptions{IgnoreIndex: data.IgnoreIndex, GradScale: scale})
	}
	scaled := s.MulScalar(loss, scale)
	if err := s.Err(); err != nil {
		return 0, err
	}
	lossValue, err := loss.Item64()
	if err != nil {
		return 0, err
	}
	p.lap("loss forward")
	if err := scaled.Backward(); err != nil {
		return 0, err
	}
	p.lap("loss backward")
	g, err := leaf.Grad()
	if err != nil {
		return 0, err
	}
	s.Own(g)
	surrogate := s.Sum(s.Mul(h, g), torch.Float32)
	if err := s.Err(); err != nil {
		return 0, err
	}
	if err := surrogate.Backward(); err != nil {
		return 0, err
	}
	p.lap("backward")
	if _, err := opt.clip(1.0); err != nil {
		return 0, err
	}
	p.lap("grad norm + clip")
	if err := opt.step(5e-5); err != nil {
		return 0, err
	}
	p.lap("adamw")
	if err := opt.zeroGrad(); err != nil {
		return 0, err
	}
	p.lap("zero grad")
	return lossValue * scale, nil
}

// profAdamW is the trainer's AdamW (internal/train/optim.go, "old") or the
// fused one ("new"), with the trainer's gradient clipping.
type profAdamW struct {
	params    []model.NamedTensor
	variant   string
	m, v      []*torch.Tensor
	t         int
	gradScale float64
}

func newProfAdamW(params []model.NamedTensor, variant string) *profAdamW {
	return &profAdamW{params: params, variant: variant}
}

func (o *profAdamW) free() {
	for i := range o.m {
		o.m[i].Free()
		o.v[i].Free()
	}
}

func (o *profAdamW) grads(s *torch.Scope) ([]*torch.Tensor, error) {
	gs := make([]*torch.Tensor, len(o.params))
	for i, p := range o.params {
		g, err := p.Tensor.Grad()
		if err != nil {
			return nil, err
		}
		gs[i] = s.Own(g)
	}
	return gs, nil
}

// clip is the trainer's clipGrads: the total 2-norm, then g *= min(1, max/(norm+1e-6)).
func (o *profAdamW) clip(maxNorm float64) (float64, error) {
	defer torch.NoGrad()()
	s := torch.NewScope()
	defer s.Close()
	gs, err := o.grads(s)
	if err != nil {
		return 0, err
	}
	var norm float64
	if o.variant == "old" {
		var sq *torch.Tensor
		for _, g := range gs {
			n2 := s.Square(s.Norm(g))
			if sq == nil {
				sq = n2
			} else {
				sq = s.Add(sq, n2)
			}
		}
		total := s.Sqrt(sq)
		if err := s.Err(); err != nil {
			return 0, err
		}
		if norm, err = total.Item64(); err != nil {
			return 0, err
		}
	} else if norm, err = torch.GradNorm(gs); err != nil {
		return 0, err
	}
	coef := math.Min(1, maxNorm/(norm+1e-6))
	if o.variant != "old" { // folded into the AdamW step
		o.gradScale = coef
		return norm, nil
	}
	for _, g := range gs {
		s.MulScalarInPlace(g, coef)
	}
	return norm, s.Err()
}

func (o *profAdamW) step(lr float64) error {
	defer torch.NoGrad()()
	const b1, b2, eps = 0.9, 0.999, 1e-8
	o.t++
	bc1 := 1 - math.Pow(b1, float64(o.t))
	bc2 := 1 - math.Pow(b2, float64(o.t))
	s := torch.NewScope()
	defer s.Close()
	gs, err := o.grads(s)
	if err != nil {
		return err
	}
	if o.m == nil {
		for _, p := range o.params {
			z := torch.NewScope()
			m := z.Keep(z.Zeros(p.Tensor.Shape(), torch.Float32, p.Tensor.Device()))
			v := z.Keep(z.Zeros(p.Tensor.Shape(), torch.Float32, p.Tensor.Device()))
			if err := z.Err(); err != nil {
				return err
			}
			o.m, o.v = append(o.m, m), append(o.v, v)
		}
	}
	if o.variant != "old" {
		ps := make([]*torch.Tensor, len(o.params))
		for i, p := range o.params {
			ps[i] = p.Tensor
		}
		err := torch.AdamW(ps, gs, o.m, o.v, torch.AdamWOptions{LR: lr, Beta1: b1, Beta2: b2, Eps: eps, Step: o.t, GradScale: o.gradScale})
		o.gradScale = 0
		return err
	}
	for i, p := range o.params {
		g, m, v := gs[i], o.m[i], o.v[i]
		u := torch.NewScope()
		u.LerpInPlace(m, g, 1-b1)
		u.MulScalarInPlace(v, b2)
		u.AddInPlace(v, u.MulScalar(u.Mul(g, g), 1-b2))
		denom := u.AddScalar(u.MulScalar(u.Sqrt(v), 1/math.Sqrt(bc2)), eps)
		u.AddcdivInPlace(p.Tensor, u.MulScalar(m, -lr/bc1), denom)
		err := u.Err()
		u.Close()
		if err != nil {
			return err
		}
	}
	return nil
}

func (o *profAdamW) zeroGrad() error {
	for _, p := range o.params {
		var err error
		if o.variant == "old" {
			err = p.Tensor.ZeroGrad()
		} else {
			err = p.Tensor.DropGrad()
		}
		if err != nil {
			return err
		}
	}
	return nil
}
