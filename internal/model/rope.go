package model

import (
	"fmt"
	"math"

	"github.com/golamini/golamini/internal/torch"
)

// Rotary position embeddings: the inverse frequencies of every rope_type
// as transformers' rope_init_fns compute them (modeling_rope_utils.py), and
// the cos/sin tables the attention of every family reads.

// resolveRope gathers the rotary settings the way transformers 5
// standardises them: rope_scaling (the older name) or rope_parameters, with
// rope_theta and partial_rotary_factor from the dictionary, else from the
// top level, else 10000 and 1; original_max_position_embeddings defaults to
// max_position_embeddings for llama3 and yarn.
func resolveRope(c *Config) (Rope, error) {
	var r Rope
	switch {
	case c.RopeScaling != nil:
		r = *c.RopeScaling
	case c.RopeParameters != nil:
		r = *c.RopeParameters
	}
	if r.RopeType == "" {
		r.RopeType = r.Type
	}
	if r.RopeType == "" {
		r.RopeType = "default"
	}
	r.Type = ""
	if r.RopeTheta == 0 {
		r.RopeTheta = 10000
		if c.RopeTheta != nil {
			r.RopeTheta = *c.RopeTheta
		}
	}
	if r.PartialRotaryFactor == 0 {
		r.PartialRotaryFactor = 1
		if c.PartialRotaryFactor != nil {
			r.PartialRotaryFactor = *c.PartialRotaryFactor
		}
	}
	if !(r.RopeTheta > 0) || math.IsInf(r.RopeTheta, 0) {
		return r, invalid("rope_theta %v must be positive", r.RopeTheta)
	}
	if !(r.PartialRotaryFactor > 0 && r.PartialRotaryFactor <= 1) {
		return r, invalid("partial_rotary_factor %v must be in (0, 1]", r.PartialRotaryFactor)
	}
	needFactor := func() error {
		if !(r.Factor >= 1) || math.IsInf(r.Factor, 0) {
			return invalid("rope %s factor %v must be at least 1", r.RopeType, r.Factor)
		}
		return nil
	}
	switch r.RopeType {
	case "default":
	case "linear", "dynamic":
		if err := needFactor(); err != nil {
			return r, err
		}
	case "llama3":
		if r.OriginalMaxPositionEmbeddings == 0 {
			r.OriginalMaxPositionEmbeddings = c.MaxPositionEmbeddings
		}
		if err := needFactor(); err != nil {
			return r, err
		}
		if !(r.LowFreqFactor > 0) || !(r.HighFreqFactor > r.LowFreqFactor) {
			return r, invalid("rope llama3 needs 0 < low_freq_factor %v < high_freq_factor %v", r.LowFreqFactor, r.HighFreqFactor)
		}
	case "yarn":
		if r.OriginalMaxPositionEmbeddings == 0 {
			r.OriginalMaxPositionEmbeddings = c.MaxPositionEmbeddings
		}
		if r.Factor == 0 {
			r.Factor = float64(c.MaxPositionEmbeddings) / float64(r.OriginalMaxPositionEmbeddings)
		}
		if !(r.Factor > 0) {
			return r, invalid("rope yarn factor %v must be positive", r.Factor)
		}
	default:
		return r, fmt.Errorf("rope_type %q is %w (default, linear, dynamic, llama3, yarn)", r.RopeType, ErrUnsupported)
	}
	if r.OriginalMaxPositionEmbeddings < 0 || r.OriginalMaxPositionEmbeddings > maxPositions {
		return r, invalid("original_max_position_embeddings %d is out of range", r.OriginalMaxPositionEmbeddings)
	}
	return r, nil
}

// baseInvFreq is 1/base^(2i/dim) for i < dim/2, in float32 as HF computes it.
func baseInvFreq(base float64, dim int) []float64 {
	inv := make([]float64, dim/2)
	for i := range inv {
		e := float32(2*i) / float32(dim)
		inv[i] = float64(1 / float32(math.Pow(base, float64(e))))
	}
	return inv
}

// invFreq returns the inverse frequencies of the rotary dims and the factor
// cos and sin are scaled by (yarn's attention_factor, else 1). seqLen is
// the longest sequence of the call for dynamic scaling (≤ 0: the model's
// max_position_embeddings, as at initialisation).
func (c *Config) invFreq(seqLen int) ([]float64, float64) {
	r, dim := c.Rope, c.RotaryNDims
	switch r.RopeType {
	case "linear":
		inv := baseInvFreq(r.RopeTheta, dim)
		for i := range inv {
			inv[i] = float64(float32(inv[i]) / float32(r.Factor))
		}
		return inv, 1
	case "dynamic":
		P := c.MaxPositionEmbeddings
		if seqLen < P {
			seqLen = P
		}
		base := r.RopeTheta * math.Pow(r.Factor*float64(seqLen)/float64(P)-(r.Factor-1), float64(dim)/float64(dim-2))
		return baseInvFreq(base, dim), 1
	case "llama3":
		inv := baseInvFreq(r.RopeTheta, dim)
		old := float64(r.OriginalMaxPositionEmbeddings)
		lowWave, highWave := old/r.LowFreqFactor, old/r.HighFreqFactor
		for i, f := range inv {
			wave := 2 * math.Pi / f
			switch {
			case wave < highWave: // high frequencies stay
			case wave > lowWave:
				inv[i] = f / r.Factor
			default:
				smooth := (old/wave - r.LowFreqFactor) / (r.HighFreqFactor - r.LowFreqFactor)
				inv[i] = (1-smooth)*f/r.Factor + smooth*f
			}
		}
		return inv, 1
	case "yarn":
		return c.yarnInvFreq()
	}
	return baseInvFreq(r.RopeTheta, dim), 1
}

// yarnInvFreq is _compute_yarn_parameters: a ramp between interpolated
// (÷factor) and original frequencies over the dims whose wavelengths fall
// between beta_fast and beta_slow rotations of the original context.
func (c *Config) yarnInvFreq() ([]float64, float64) {
	r, dim := c.Rope, c.RotaryNDims
	mscale := func(scale, m float64) float64 {
		if scale <= 1 {
			return 1
		}
		return 0.1*m*math.Log(scale) + 1
	}
	attn := 0.0
	switch {
	case r.AttentionFactor != nil:
		attn = *r.AttentionFactor
	case r.Mscale != 0 && r.MscaleAllDim != 0:
		attn = mscale(r.Factor, r.Mscale) / mscale(r.Factor, r.MscaleAllDim)
	default:
		attn = mscale(r.Factor, 1)
	}
	betaFast, betaSlow := r.BetaFast, r.BetaSlow
	if betaFast == 0 {
		betaFast = 32
	}
	if betaSlow == 0 {
		betaSlow = 1
	}
	orig := float64(r.OriginalMaxPositionEmbeddings)
	corr := func(rot float64) float64 {
		return float64(dim) * math.Log(orig/(rot*2*math.Pi)) / (2 * math.Log(r.RopeTheta))
	}
	low, high := corr(betaFast), corr(betaSlow)
	if r.Truncate == nil || *r.Truncate {
		low, high = math.Floor(low), math.Ceil(high)
	}
	low, high = math.Max(low, 0), math.Min(high, float64(dim-1))
	if low == high {
		high += 0.001
	}
	inv := make([]float64, dim/2)
	for i := range inv {
		pos := float32(math.Pow(r.RopeTheta, float64(float32(2*i)/float32(dim))))
		extra := float64(1 / pos)
		inter := float64(1 / (float32(r.Factor) * pos))
		ramp := math.Min(math.Max((float64(i)-low)/(high-low), 0), 1)
		extraFactor := 1 - ramp
		inv[i] = inter*(1-extraFactor) + extra*extraFactor
	}
	return inv, attn
}

// rotaryTables are cos and sin [B or 1, T, 1, hs] for the positions of one
// call, broadcastable over q or k [B, T, heads, hs].
type rotaryTables struct{ cos, sin *torch.Tensor }

// rotary returns the tables for the positions of this call: past, past+1, …
// or positions [B, T]. Dynamic scaling recomputes the frequencies for the
// longest position as HF's dynamic_rope_update does (growing past the
// longest seen, back to the original within max_position_embeddings).
func (m *Model) rotary(s *torch.Scope, B, T, past int64, positions *torch.Tensor) rotaryTables {
	if m.Config.RotaryNDims == 0 || s.Err() != nil {
		return rotaryTables{}
	}
	hs := int64(m.Config.HeadSize)
	need := past + T
	if positions != nil {
		ps, err := positions.Int64s()
		if err != nil {
			s.Fail(err)
			return rotaryTables{}
		}
		need = 0
		for _, p := range ps {
			if p < 0 {
				s.Failf("model: negative position %d", p)
				return rotaryTables{}
			}
			if p+1 > need {
				need = p + 1
			}
		}
	}
	if err := m.ensureRotary(need); err != nil {
		s.Fail(err)
		return rotaryTables{}
	}
	if positions == nil {
		cos := s.View(s.Narrow(m.cos, 0, past, T), 1, T, 1, hs) // [1, T, 1, hs]
		sin := s.View(s.Narrow(m.sin, 0, past, T), 1, T, 1, hs)
		return rotaryTables{cos, sin}
	}
	flat := s.Reshape(positions, -1)                          // [B·T]
	cos := s.View(s.IndexSelect(m.cos, 0, flat), B, T, 1, hs) // [B, T, 1, hs]
	sin := s.View(s.IndexSelect(m.sin, 0, flat), B, T, 1, hs)
	return rotaryTables{cos, sin}
}

// ensureRotary makes the tables hold at least n positions, with the
// frequencies dynamic scaling asks for at a longest sequence of n.
func (m *Model) ensureRotary(n int64) error {
	c := &m.Config
	if c.Rope.RopeType == "dynamic" {
		orig := int64(c.MaxPositionEmbeddings)
		switch {
		case n > m.ropeSeq: // growth
			m.ropeSeq = max(n, orig)
			return m.buildRotary(max(n, m.rows()), int(n))
		case n < orig && m.ropeSeq > orig: // reset
			m.ropeSeq = orig
			return m.buildRotary(max(n, m.rows()), 0)
		}
	}
	if m.cos != nil && m.rows() >= n {
		return nil
	}
	rows := n
	if r := 2 * m.rows(); rows < r {
		rows = r // grow geometrically, not by one position per token
	}
	if rows < 256 {
		rows = 256
	}
	return m.buildRotary(rows, int(m.ropeSeq))
}

func (m *Model) rows() int64 {
	if m.cos == nil {
		return 0
	}
	return m.cos.Shape()[0]
}

// buildRotary builds the tables for n positions from the frequencies at
// sequence length seqLen, laid out over the whole head for applyRotary
// (emb = t ⊗ inv_freq repeated twice, as HF's cat(freqs, freqs)):
// cos = cos(emb)·a | 1 and sin = (−sin(emb_a))·a | sin(emb_b)·a | 0, [n, hs],
// where a is the attention factor (yarn) and emb_a, emb_b are the two
// halves of emb's rot columns; ropePerm = b|a|pass as indices.
func (m *Model) buildRotary(n int64, seqLen int) error {
	invF, scale := m.Config.invFreq(seqLen)
	rot, hs := int64(m.Config.RotaryNDims), int64(m.Config.HeadSize)
	half := rot / 2
	inv32 := make([]float32, half)
	for i, f := range invF {
		inv32[i] = float32(f)
	}
	s := torch.NewScope()
	defer s.Close()
	inv := s.Float32(inv32, half)                                               // [rot/2]
	t := s.To(s.Arange(0, n, torch.Int64, torch.CPU), torch.Float32, torch.CPU) // [n]
	freqs := s.Outer(t, inv)                                                    // [n, rot/2]
	emb := s.Cat(1, freqs, freqs)                                               // [n, rot]
	cosE, sinE := s.Cos(emb), s.Sin(emb)                                        // [n, rot]
	if scale != 1 {
		cosE, sinE = s.MulScalar(cosE, scale), s.MulScalar(sinE, scale)
	}
	cos := s.Cat(1, cosE, s.Ones([]int64{n, hs - rot}, torch.Float32, torch.CPU)) // [n, hs]
	sin := s.Cat(1,
		s.Neg(s.Narrow(sinE, 1, 0, half)),                       // [n, rot/2]: −sin_a
		s.Narrow(sinE, 1, half, half),                           // [n, rot/2]: sin_b
		s.Zeros([]int64{n, hs - rot}, torch.Float32, torch.CPU)) // [n, hs]
	perm := make([]int64, hs)
	for i := range perm {
		switch {
		case i < int(half):
			perm[i] = int64(i) + half // b first …
		case i < int(rot):
			perm[i] = int64(i) - half // … then a
		default:
			perm[i] = int64(i) // pass-through stays
		}
	}
	cos = s.To(cos, m.DType, m.Device)
	sin = s.To(sin, m.DType, m.Device)
	permT := s.To(s.Int64(perm, hs), torch.Int64, m.Device)
	if err := s.Err(); err != nil {
		return fmt.Errorf("model: rotary tables: %w", err)
	}
	m.cos.Free()
	m.sin.Free()
	m.ropePerm.Free()
	m.cos, m.sin, m.ropePerm = s.Keep(cos), s.Keep(sin), s.Keep(permT)
	return nil
}

// applyRotary rotates the first rot dims of every head of x [B, T, heads, hs]
// and passes the other hs−rot through: HF's x_rot·cos + rotate_half(x_rot)·sin,
// rotate_half(a|b) = (−b)|a, then cat with x_pass. Speed helper: it does this
// as x·cos + x[perm]·sin on whole heads, where the tables (buildRotary) hold
// cos|1 and (−sin_a)|sin_b|0 and perm swaps the halves a, b of the rotary
// dims. The pass-through dims get x·1 + y·0 = x and the rotary dims the same
// products and sum as HF's, so results are equal, in three ops instead of
// HF's narrows, negs and cats.
//
// In float32 on the CPU, all of it is one op, forward and backward
// (torch.Rotary), for every family. For many rows otherwise the swap is a
// cat of three narrowed views: libtorch's index_select along the last
// dimension gathers element by element and is slower with its backward.
func (m *Model) applyRotary(s *torch.Scope, x *torch.Tensor, r rotaryTables) *torch.Tensor {
	if torch.RotaryOK(x, r.cos, r.sin) {
		return s.Rotary(x, r.cos, r.sin, m.Config.RotaryNDims)
	}
	return m.applyRotaryOps(s, x, r)
}

// applyRotaryOps is applyRotary in libtorch ops (other dtypes, GPUs).
func (m *Model) applyRotaryOps(s *torch.Scope, x *torch.Tensor, r rotaryTables) *torch.Tensor {
	var swapped *torch.Tensor
	if x.Numel() >= 1<<16 {
		rot, hs := int64(m.Config.RotaryNDims), int64(m.Config.HeadSize)
		half := rot / 2
		parts := []*torch.Tensor{s.Narrow(x, -1, half, half), s.Narrow(x, -1, 0, half)}
		if hs > rot {
			parts = append(parts, s.Narrow(x, -1, rot, hs-rot))
		}
		swapped = s.Cat(-1, parts...) // [..., hs]: b|a|pass
	} else {
		swapped = s.IndexSelect(x, -1, m.ropePerm) // [..., hs]: b|a|pass
	}
	return s.Addcmul(s.Mul(x, r.cos), swapped, r.sin)
}
