// Package floor bounds a training step's time from below by its matrix
// products: it lists every product a step of a model must run (from the
// model's config), times each distinct product shape with libtorch at the
// benchmark's thread count, and sums FLOPs/rate over the step. Everything
// else a step does (norms, activations, softmax, the optimizer, memory
// traffic) only adds to that time, so no implementation running these
// products on this libtorch can beat the floor; how close golamini and HF
// come to it says how much is left to win.
//
// The count, per step of B rows × T tokens (N = B·T):
//
//   - each linear layer y = x·Wᵀ (W [out, in]): forward 2·N·in·out; backward
//     dX = dY·W (2·N·out·in) where x needs a gradient and dW = dYᵀ·X
//     (2·out·N·in) where W is trained;
//   - a LoRA adapter on it (A [r, in], B [out, r]): forward x·Aᵀ and (xAᵀ)·Bᵀ,
//     backward dB, d(xAᵀ), dA and, where x needs a gradient, dX;
//   - attention, per row and query head: QKᵀ and P·V forward, dV, dP, dQ, dK
//     backward, each over the causal half (T(T+1)/2 of the T² scores, the
//     work a flash-attention kernel does; its recomputation is not counted);
//   - the loss head over the B·(T−1) positions that have a target, in the
//     chunks golamini's fused head uses: logits, their gradient's product
//     with the head (dX) and, where the head is trained, dW.
//
// Which tensors need gradients follows autograd: the embedding output needs
// none unless the embedding is trained, so a LoRA step's first layer runs
// no dX for the projections that read the (frozen) input norm's output.
package floor

import (
	"fmt"
	"math"
	"sort"
	"strings"
	"time"

	"github.com/golamini/golamini/internal/model"
	"github.com/golamini/golamini/internal/torch"
)

// Mode is what a step trains.
type Mode int

const (
	// Full trains every weight (bench/families -mode train).
	Full Mode = iota
	// LoRA trains adapters on the target modules only (bench/lora).
	LoRA
	// Frozen trains nothing but layer 0's input norm weight, so backward
	// carries the activations' gradients through every layer with no weight
	// gradient (bench/lora -frozen).
	Frozen
)

func (m Mode) String() string {
	return [...]string{"full", "lora", "frozen"}[m]
}

// Step describes one training step.
type Step struct {
	Batch, Seq int
	Mode       Mode
	// LoRARank and LoRATargets (module names such as "q_proj") for LoRA.
	LoRARank    int
	LoRATargets []string
}

// Shape is one matrix product C[m, n] = op(A)·op(B) over Batch independent
// pairs, op transposing a stored operand where TransA/TransB: A is stored
// [K, M] when TransA, else [M, K]; B is stored [N, K] when TransB, else
// [K, N]. It is what the probe times.
type Shape struct {
	Batch, M, K, N int64
	TransA, TransB bool
}

// FLOPs of the full product: 2·Batch·M·K·N.
func (s Shape) FLOPs() float64 {
	return 2 * float64(s.Batch) * float64(s.M) * float64(s.K) * float64(s.N)
}

func (s Shape) String() string {
	t := func(b bool) string {
		if b {
			return "ᵀ"
		}
		return ""
	}
	b := ""
	if s.Batch > 1 {
		b = fmt.Sprintf("%d × ", s.Batch)
	}
	return fmt.Sprintf("%s[%d×%d]%s·[%d×%d]%s", b, s.M, s.K, t(s.TransA), s.K, s.N, t(s.TransB))
}

// Product is one kind of product a step runs Count times.
type Product struct {
	Name  string // e.g. "q_proj dX", "attention QKᵀ", "head logits"
	Shape Shape
	Count int64
	// Fraction of the shape's FLOPs the step needs (the causal half of
	// attention; 1 otherwise). The probe times the full shape.
	Fraction float64
}

// FLOPs the step spends on p.
func (p Product) FLOPs() float64 { return float64(p.Count) * p.Fraction * p.Shape.FLOPs() }

// roles of a layer's linear modules by their HF name.
var roles = map[string]string{
	"q_proj": "attn_in", "k_proj": "attn_in", "v_proj": "attn_in", "query_key_value": "attn_in",
	"o_proj": "attn_out", "dense": "attn_out",
	"gate_proj": "mlp_in", "up_proj": "mlp_in", "dense_h_to_4h": "mlp_in",
	"down_proj": "mlp_out", "dense_4h_to_h": "mlp_out",
}

type linear struct {
	module   string // last path component, e.g. "q_proj"
	role     string
	out, in  int64
	position int // order in the layer (HF's module order)
}

// layerLinears returns layer 0's linear modules from cfg's tensor shapes
// (every layer has the same ones).
func layerLinears(cfg *model.Config) ([]linear, error) {
	shapes := cfg.Shapes()
	if shapes == nil {
		return nil, fmt.Errorf("floor: config has no tensor shapes")
	}
	var ls []linear
	for name, shape := range shapes {
		path, ok := strings.CutSuffix(name, ".weight")
		if !ok || len(shape) != 2 || !strings.Contains(path, "layers.0.") {
			continue
		}
		module := path[strings.LastIndex(path, ".")+1:]
		role, ok := roles[module]
		if !ok {
			return nil, fmt.Errorf("floor: %s: a layer weight of unknown role", name)
		}
		ls = append(ls, linear{module: module, role: role, out: shape[0], in: shape[1]})
	}
	order := map[string]int{"attn_in": 0, "attn_out": 1, "mlp_in": 2, "mlp_out": 3}
	sort.Slice(ls, func(i, j int) bool {
		if order[ls[i].role] != order[ls[j].role] {
			return order[ls[i].role] < order[ls[j].role]
		}
		return ls[i].module < ls[j].module
	})
	return ls, nil
}

// headChunk is golamini's fused loss head's rows per chunk
// (default_chunk in internal/torch/fused.cpp): at most about 128 MB of
// float32 logits, or 640 rows where those take at most 512 MB, at least 64
// rows, equal chunks.
func headChunk(rows, vocab int64) int64 {
	rowBytes := 4 * max(vocab, 1)
	tall := min(640, (int64(512)<<20)/rowBytes)
	most := max((int64(128)<<20)/rowBytes, tall, 64)
	chunks := max((rows+most-1)/most, 1)
	return max((rows+chunks-1)/chunks, 1)
}

// Count lists the matrix products of one training step of cfg.
func Count(cfg model.Config, st Step) ([]Product, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if st.Batch < 1 || st.Seq < 2 {
		return nil, fmt.Errorf("floor: batch %d × seq %d: need at least 1 × 2", st.Batch, st.Seq)
	}
	lins, err := layerLinears(&cfg)
	if err != nil {
		return nil, err
	}
	targeted := map[string]bool{}
	if st.Mode == LoRA {
		if st.LoRARank < 1 || len(st.LoRATargets) == 0 {
			return nil, fmt.Errorf("floor: LoRA needs a rank and targets")
		}
		for _, t := range st.LoRATargets {
			found := false
			for _, l := range lins {
				found = found || l.module == t
			}
			if !found {
				return nil, fmt.Errorf("floor: LoRA target %q is no linear module of this model", t)
			}
			targeted[t] = true
		}
	}
	B, T := int64(st.Batch), int64(st.Seq)
	N := B * T
	r := int64(st.LoRARank)
	trained := st.Mode == Full

	// Accumulate products by (name, shape).
	type key struct {
		name  string
		shape Shape
		frac  float64
	}
	counts := map[key]int64{}
	var order []key
	add := func(name string, s Shape, frac float64) {
		k := key{name, s, frac}
		if counts[k] == 0 {
			order = append(order, k)
		}
		counts[k]++
	}
	// lin adds linear l's products given whether its input needs a gradient
	// and whether its output does (else there is no backward through it).
	lin := func(l linear, inGrad, outGrad bool) {
		add(l.module+" forward", Shape{1, N, l.in, l.out, false, true}, 1)
		if outGrad && inGrad {
			add(l.module+" dX", Shape{1, N, l.out, l.in, false, false}, 1)
		}
		if trained {
			add(l.module+" dW", Shape{1, l.out, N, l.in, true, false}, 1)
		}
		if targeted[l.module] {
			add(l.module+" LoRA forward A", Shape{1, N, l.in, r, false, true}, 1)
			add(l.module+" LoRA forward B", Shape{1, N, r, l.out, false, true}, 1)
			add(l.module+" LoRA dB", Shape{1, l.out, N, r, true, false}, 1)
			add(l.module+" LoRA d(xAᵀ)", Shape{1, N, l.out, r, false, false}, 1)
			add(l.module+" LoRA dA", Shape{1, r, N, l.in, true, false}, 1)
			if inGrad {
				add(l.module+" LoRA dX", Shape{1, N, r, l.in, false, false}, 1)
			}
		}
	}
	makesGrad := func(l linear, inGrad bool) bool { return inGrad || trained || targeted[l.module] }
	anyOf := func(role string, inGrad bool) bool {
		for _, l := range lins {
			if l.role == role && makesGrad(l, inGrad) {
				return true
			}
		}
		return false
	}
	// Attention over B rows × heads, the causal half of the T×T scores.
	heads, hd := int64(cfg.NumAttentionHeads), int64(cfg.HeadSize)
	causal := float64(T*(T+1)/2) / float64(T*T)
	qk := Shape{B * heads, T, hd, T, false, true}  // S = Q·Kᵀ; also dP = dO·Vᵀ
	pv := Shape{B * heads, T, T, hd, false, false} // O = P·V; also dQ = dS·K
	pvT := Shape{B * heads, T, T, hd, true, false} // dV = Pᵀ·dO, dK = dSᵀ·Q

	normTrained := func(layer, which int) bool {
		return trained || (st.Mode == Frozen && layer == 0 && which == 1)
	}
	xg := trained // the embedding output needs a gradient only if the embedding is trained
	for layer := 0; layer < cfg.NumHiddenLayers; layer++ {
		attnIn := xg || normTrained(layer, 1)
		// q, k and v (or the fused query_key_value) need gradients if any
		// of them does: the bench's targets and modes never split them.
		qkvGrad := anyOf("attn_in", attnIn)
		for _, l := range lins {
			if l.role == "attn_in" {
				lin(l, attnIn, makesGrad(l, attnIn))
			}
		}
		add("attention QKᵀ", qk, causal)
		add("attention P·V", pv, causal)
		if qkvGrad {
			add("attention dP = dO·Vᵀ", qk, causal)
			add("attention dV = Pᵀ·dO", pvT, causal)
			add("attention dQ = dS·K", pv, causal)
			add("attention dK = dSᵀ·Q", pvT, causal)
		}
		attnOutGrad := false
		for _, l := range lins {
			if l.role == "attn_out" {
				lin(l, qkvGrad, makesGrad(l, qkvGrad))
				attnOutGrad = attnOutGrad || makesGrad(l, qkvGrad)
			}
		}
		mid := xg || attnOutGrad // the residual stream after attention
		mlpIn := mid
		if cfg.UseParallelResidual && cfg.ModelType == "gpt_neox" {
			mlpIn = xg // the MLP reads the layer's input, beside attention
		}
		mlpIn = mlpIn || normTrained(layer, 2)
		mlpInGrad := anyOf("mlp_in", mlpIn)
		mlpOutGrad := false
		for _, l := range lins {
			if l.role == "mlp_in" {
				lin(l, mlpIn, makesGrad(l, mlpIn))
			}
		}
		for _, l := range lins {
			if l.role == "mlp_out" {
				lin(l, mlpInGrad, makesGrad(l, mlpInGrad))
				mlpOutGrad = mlpOutGrad || makesGrad(l, mlpInGrad)
			}
		}
		xg = mid || mlpOutGrad
	}
	if !xg {
		return nil, fmt.Errorf("floor: nothing in a %s step needs a gradient", st.Mode)
	}
	// The loss head over the positions with a target, in chunks.
	rows, H, V := B*(T-1), int64(cfg.HiddenSize), int64(cfg.VocabSize)
	c := headChunk(rows, V)
	for start := int64(0); start < rows; start += c {
		n := min(c, rows-start)
		add("head logits", Shape{1, n, H, V, false, true}, 1)
		add("head dX", Shape{1, n, V, H, false, false}, 1)
		if trained {
			add("head dW", Shape{1, V, n, H, true, false}, 1)
		}
	}
	ps := make([]Product, len(order))
	for i, k := range order {
		ps[i] = Product{Name: k.name, Shape: k.shape, Count: counts[k], Fraction: k.frac}
	}
	return ps, nil
}

// Probe times each distinct shape of ps with libtorch's matmul on random
// float32 operands at the current thread count. After half a second of
// warm-up products it makes runs rounds over all the shapes; in each, a
// shape gets one warm-up product and then products until 20 ms have
// passed (at least one), and its time is the fastest single product of any
// round. Rounds spread each shape's timings over the whole probe, so a
// stretch in which the machine was busy slows one round, not one shape.
// It returns GFLOP/s per shape. Call it inside torch.Do.
func Probe(ps []Product, runs int) (map[Shape]float64, error) {
	for start := time.Now(); time.Since(start) < 500*time.Millisecond; {
		if _, err := timeShape(Shape{1, 256, 256, 256, false, true}, 0); err != nil {
			return nil, fmt.Errorf("floor: warm-up: %w", err)
		}
	}
	var shapes []Shape
	best := map[Shape]float64{}
	for _, p := range ps {
		if _, seen := best[p.Shape]; !seen {
			shapes = append(shapes, p.Shape)
			best[p.Shape] = 0
		}
	}
	for r := 0; r < max(runs, 1); r++ {
		for _, sh := range shapes {
			t, err := timeShape(sh, 0.02)
			if err != nil {
				return nil, fmt.Errorf("floor: probe %s: %w", sh, err)
			}
			if best[sh] == 0 || t < best[sh] {
				best[sh] = t
			}
		}
	}
	rates := map[Shape]float64{}
	for sh, t := range best {
		rates[sh] = sh.FLOPs() / t / 1e9
	}
	return rates, nil
}

// timeShape returns the fastest single product of shape sh after one
// warm-up product, timing products until budget seconds have passed (at
// least one).
func timeShape(sh Shape, budget float64) (float64, error) {
	s := torch.NewScope()
	defer s.Close()
	stored := func(rows, cols int64, trans bool) []int64 {
		if trans {
			rows, cols = cols, rows
		}
		if sh.Batch > 1 {
			return []int64{sh.Batch, rows, cols}
		}
		return []int64{rows, cols}
	}
	view := func(x *torch.Tensor, trans bool) *torch.Tensor {
		if !trans {
			return x
		}
		d := int64(0)
		if sh.Batch > 1 {
			d = 1
		}
		return s.Transpose(x, d, d+1)
	}
	a := view(s.Randn(stored(sh.M, sh.K, sh.TransA), torch.Float32, torch.CPU), sh.TransA)
	b := view(s.Randn(stored(sh.K, sh.N, sh.TransB), torch.Float32, torch.CPU), sh.TransB)
	once := func() (float64, error) {
		start := time.Now()
		c := s.Matmul(a, b)
		if err := s.Err(); err != nil {
			return 0, err
		}
		s.Drop(c)
		return time.Since(start).Seconds(), nil
	}
	if _, err := once(); err != nil { // warm-up
		return 0, err
	}
	best, total := math.Inf(1), 0.0
	for total < budget || math.IsInf(best, 1) {
		t, err := once()
		if err != nil {
			return 0, err
		}
		total += t
		best = min(best, t)
	}
	return best, nil
}

// Line is one row of a floor report: a kind of product, how often a step
// runs it and what the probe measured for its shape.
type Line struct {
	Product  string  `json:"product"`
	Shape    string  `json:"shape"`
	Count    int64   `json:"count"`
	GFLOP    float64 `json:"gflop_per_step"`
	GFLOPS   float64 `json:"probe_gflop_s"`
	FloorS   float64 `json:"floor_s"`
	Fraction float64 `json:"fraction,omitempty"`
}

// Report is a step's floor.
type Report struct {
	Mode            string  `json:"mode"`
	Batch           int     `json:"batch"`
	Seq             int     `json:"seq"`
	Threads         int     `json:"threads"`
	FLOPsPerStep    float64 `json:"flops_per_step"`
	FloorStepS      float64 `json:"floor_step_s"`
	FloorTokensPerS float64 `json:"floor_tokens_per_s"`
	// MeanGFLOPS is FLOPs per step over the floor's step time.
	MeanGFLOPS float64 `json:"mean_gflop_s"`
	Lines      []Line  `json:"products"`
}

// Summarize sums ps's FLOPs over the probe's rates.
func Summarize(st Step, ps []Product, rates map[Shape]float64) (Report, error) {
	threads, err := torch.NumThreads()
	if err != nil {
		return Report{}, err
	}
	rep := Report{Mode: st.Mode.String(), Batch: st.Batch, Seq: st.Seq, Threads: threads}
	for _, p := range ps {
		rate, ok := rates[p.Shape]
		if !ok || rate <= 0 {
			return Report{}, fmt.Errorf("floor: no probe rate for %s (%s)", p.Name, p.Shape)
		}
		f := p.FLOPs()
		sec := f / (rate * 1e9)
		rep.FLOPsPerStep += f
		rep.FloorStepS += sec
		l := Line{Product: p.Name, Shape: p.Shape.String(), Count: p.Count, GFLOP: f / 1e9, GFLOPS: rate, FloorS: sec}
		if p.Fraction != 1 {
			l.Fraction = p.Fraction
		}
		rep.Lines = append(rep.Lines, l)
	}
	rep.FloorTokensPerS = float64(st.Batch*st.Seq) / rep.FloorStepS
	rep.MeanGFLOPS = rep.FLOPsPerStep / rep.FloorStepS / 1e9
	return rep, nil
}

// Measure is Count, Probe and Summarize: the floor of one step of cfg.
func Measure(cfg model.Config, st Step, runs int) (Report, error) {
	ps, err := Count(cfg, st)
	if err != nil {
		return Report{}, err
	}
	rates, err := Probe(ps, runs)
	if err != nil {
		return Report{}, err
	}
	return Summarize(st, ps, rates)
}
