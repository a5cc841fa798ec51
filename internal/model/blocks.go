package model

import (
	"math"

	"github.com/golamini/golamini/internal/torch"
)

// The blocks every family is built from: projections, norms, attention over
// the KV cache, MLPs; and the model in segments for gradient checkpointing.

// linear is x·wᵀ + b for one module of the model. Every projection of
// every family goes through here (so LinearHook sees them all). Speed
// helper: torch's RowLinear, which for the few rows of decoding (no
// autograd) shares each weight matrix's rows among all cores chunk by chunk
// instead of using libtorch's OpenMP team, and is plain Linear otherwise
// (training, prefill of long prompts, scoring). Decoding reads every weight
// once per token, so this is where its time goes.
func (m *Model) linear(s *torch.Scope, x *torch.Tensor, l *Linear) *torch.Tensor {
	y := s.RowLinear(x, l.W, l.B)
	if m.LinearHook != nil && s.Err() == nil {
		y = m.LinearHook(s, l, x, y)
	}
	return y
}

// norm is LayerNorm (GPT-NeoX) or RMSNorm (Llama-style) over the last dim.
func (m *Model) norm(s *torch.Scope, n *Norm, x *torch.Tensor) *torch.Tensor {
	if !n.rms {
		return s.LayerNorm(x, n.W, n.B, n.eps)
	}
	return rmsNorm(s, x, n.W, n.eps)
}

// rmsNorm is HF's LlamaRMSNorm: x·rsqrt(mean(x²) + eps) computed in
// float32, cast back to x's dtype, times weight. Speed helpers, in float32 on
// the CPU: the few rows of decoding take torch.RMSNormRows (one C pass, no
// libtorch dispatch); everything else, training included, takes
// torch.RMSNorm (one autograd op instead of six ops forward and ten
// backward). The arithmetic is the same; fusedNorm off keeps the ops.
func rmsNorm(s *torch.Scope, x, w *torch.Tensor, eps float64) *torch.Tensor {
	if fusedDecode && torch.RMSNormRowsOK(x, w) {
		return s.RMSNormRows(x, w, eps)
	}
	if fusedNorm && torch.RMSNormOK(x, w) {
		return s.RMSNorm(x, w, eps)
	}
	dt := x.DType()
	if dt != torch.Float32 {
		x = s.To(x, torch.Float32, x.Device())
	}
	variance := s.MeanDim(s.Square(x), true, -1)       // [..., 1]
	y := s.Mul(x, s.Rsqrt(s.AddScalar(variance, eps))) // [..., D]
	if dt != torch.Float32 {
		y = s.To(y, dt, x.Device())
	}
	return s.Mul(w, y)
}

// swiGLU is the Llama MLP: down(silu(gate(x)) ⊙ up(x)). Speed helper:
// without a LinearHook (which must see each projection) the gated part is
// torch's RowLinearSwiGLU, which for the few rows of decoding runs gate and
// up as one job and combines each chunk while it is in cache (and is the
// same ops otherwise).
func (m *Model) swiGLU(s *torch.Scope, l *Layer, x *torch.Tensor) *torch.Tensor {
	if fusedDecode && m.LinearHook == nil {
		return m.linear(s, s.RowLinearSwiGLU(x, l.Gate.W, l.Gate.B, l.Up.W, l.Up.B), &l.Down) // [B, T, H]
	}
	g := s.Silu(m.linear(s, x, &l.Gate)) // [B, T, I]
	return m.linear(s, s.Mul(g, m.linear(s, x, &l.Up)), &l.Down)
}

// geluMLP is GPT-NeoX's MLP: dense_4h_to_h(gelu(dense_h_to_4h(x))).
func (m *Model) geluMLP(s *torch.Scope, l *Layer, x *torch.Tensor) *torch.Tensor {
	return m.linear(s, m.linearGELU(s, x, &l.Up), &l.Down)
}

// linearGELU is gelu(x·wᵀ + b). Speed helper: exact GELU (Pythia's) goes
// through torch's RowLinearGELU, which applies it to each chunk of the
// product as it is computed, instead of one more libtorch op per layer that
// runs on cold caches; otherwise Gelu(linear).
func (m *Model) linearGELU(s *torch.Scope, x *torch.Tensor, l *Linear) *torch.Tensor {
	if m.gelu == "none" && fusedDecode && m.LinearHook == nil {
		return s.RowLinearGELU(x, l.W, l.B)
	}
	return s.Gelu(m.linear(s, x, l), m.gelu)
}

// attentionMask returns the mask of a call of T new tokens after past
// cached ones: the caller's, or nil where attention is plain causal.
// Causality needs an explicit mask only where queries follow cached
// positions: query i at position past+i sees keys ≤ it. Without a cache in
// front, attention is plain causal (no mask tensor); a single new token
// sees every key. A sliding window (Mistral) also hides keys at window or
// more positions back, as HF's sliding-window causal mask does (cache
// indices, not position ids).
func (m *Model) attentionMask(s *torch.Scope, T, past int64, mask *torch.Tensor) *torch.Tensor {
	S := past + T
	if W := int64(m.Config.Window); W > 0 && S > W {
		if mask == nil {
			mask = causalMask(s, T, S, past, m.Device) // [1, 1, T, S]
		}
		far := causalMask(s, T, S, past-W, m.Device) // [1, 1, T, S]: key ≤ query − W
		return s.MaskedFill(mask, far, 0)
	}
	if mask == nil && T > 1 && past > 0 {
		mask = causalMask(s, T, S, past, m.Device) // [1, 1, T, S]
	}
	return mask
}

// causalMask returns a bool mask [1, 1, T, S] where query i (at cache index
// offset+i) may attend key j iff j ≤ offset+i.
func causalMask(s *torch.Scope, T, S, offset int64, dev torch.Device) *torch.Tensor {
	ones := s.Ones([]int64{T, S}, torch.Bool, dev)
	return s.View(s.Tril(ones, offset), 1, 1, T, S) // [1, 1, T, S]
}

// attend is scaled dot-product attention of q [B, T, nh, hd] over k, v
// [B, T, nkv, hd] (rotary applied) and the cached positions before them,
// with grouped-query attention (each key/value head serves nh/nkv query
// heads); it appends k, v to the cache and returns the merged heads
// [B, T, nh·hd]. mask nil means plain causal attention.
func (m *Model) attend(s *torch.Scope, q, k, v *torch.Tensor, kv *layerCache, past int64, mask *torch.Tensor) *torch.Tensor {
	if s.Err() != nil {
		return nil
	}
	sh := q.Shape()
	B, T, nh, hd := sh[0], sh[1], sh[2], sh[3]
	nkv := k.Shape()[2]
	q = s.Permute(q, 0, 2, 1, 3) // [B, nh, T, hd]
	k = s.Permute(k, 0, 2, 1, 3) // [B, nkv, T, hd]
	v = s.Permute(v, 0, 2, 1, 3) // [B, nkv, T, hd]
	if kv != nil {
		k, v = kv.append(s, k, v, past) // [B, nkv, past+T, hd]
	}
	scale := 1 / math.Sqrt(float64(hd))
	var y *torch.Tensor
	if mask == nil && T == 1 {
		y = m.attendOne(s, q, k, v, scale) // [B, nh, 1, hd]
	} else {
		k, v = repeatKV(s, k, nh/nkv), repeatKV(s, v, nh/nkv) // [B, nh, S, hd]
		if mask == nil && past == 0 {
			// Plain causal attention over this call's tokens (training,
			// scoring, a first prefill): no mask tensor, so libtorch may take
			// its flash-attention kernel instead of the math path.
			y = s.CausalAttention(q, k, v, scale) // [B, nh, T, hd]
		} else {
			if mask == nil {
				mask = causalMask(s, T, past+T, past, m.Device) // [1, 1, T, past+T]
			}
			y = s.Attention(q, k, v, mask, false, scale) // [B, nh, T, hd]
		}
	}
	return s.Reshape(s.Permute(y, 0, 2, 1, 3), B, T, nh*hd) // [B, T, nh·hd]
}

// repeatKV shares each of x's nkv heads [B, nkv, S, hd] among rep query
// heads: [B, nkv·rep, S, hd], head h reading kv head h/rep (HF's repeat_kv).
func repeatKV(s *torch.Scope, x *torch.Tensor, rep int64) *torch.Tensor {
	if rep == 1 || x == nil {
		return x
	}
	sh := x.Shape()
	B, nkv, S, hd := sh[0], sh[1], sh[2], sh[3]
	x = s.Expand(s.Unsqueeze(x, 2), B, nkv, rep, S, hd) // [B, nkv, rep, S, hd]
	return s.Reshape(x, B, nkv*rep, S, hd)              // [B, nh, S, hd]
}

// attendOne is softmax(q·kᵀ·scale)·v for one query per row that may see every
// key: the step of incremental decoding without padding. Speed helper: it is
// the same math as scaled_dot_product_attention in 5 ops, where libtorch's
// SDPA, which gotch can only call with a mask, takes its math fallback
// (converts the mask, scales q and k separately, adds the mask: about twice
// the ops and a mask to build per step). With grouped-query attention the
// query heads of one key/value head are its rows of one product, so the
// cache is read once per kv head and never copied. Softmax runs in float32
// as in HF.
func (m *Model) attendOne(s *torch.Scope, q, k, v *torch.Tensor, scale float64) *torch.Tensor {
	sh := q.Shape()
	B, nh, hd := sh[0], sh[1], sh[3]
	nkv := k.Shape()[1]
	q = s.Reshape(q, B, nkv, nh/nkv, hd)                            // [B, nkv, rep, hd]
	scores := s.MulScalar(s.Matmul(q, s.Transpose(k, 2, 3)), scale) // [B, nkv, rep, S]
	p := s.Softmax(scores, -1, torch.Float32)                       // [B, nkv, rep, S]
	if m.DType != torch.Float32 {
		p = s.To(p, m.DType, m.Device)
	}
	return s.Reshape(s.Matmul(p, v), B, nh, 1, hd) // [B, nh, 1, hd]
}

// fusedDecode lets attendNew, attendGroupedNew, swiGLU, rmsNorm and linearGELU take
// their fused paths; tests turn it off to check them against the general
// path.
var fusedDecode = true

// fusedNorm lets rmsNorm take torch.RMSNorm outside decoding; tests turn it
// off to check it against the op-by-op norm.
var fusedNorm = true

// attendNew is GPT-NeoX's attention of a decoding step (one new position
// per row, no padding, KV cache) in one call, torch.DecodeAttention: split
// q|k|v per head from the fused projection, rotary, cache write,
// softmax(q·kᵀ/√hs)·v and merged heads, [B, 1, H]. ok is false when that
// call does not take these tensors (another dtype or device, autograd, a
// full cache) and the general path must run. Speed helper: the general
// path is 25 small ops per layer, which after each weight product run on
// caches it has just flushed; the results are the same within float32
// rounding (TestFusedDecodeMatchesGeneralPath). It reads GPT-NeoX's fused
// per-head q|k|v layout, so the Llama-style families (separate q, k, v
// projections, grouped heads, q/k norms) take attendOne instead.
func (m *Model) attendNew(s *torch.Scope, qkv *torch.Tensor, kv *layerCache, past int64) (*torch.Tensor, bool) {
	c := &m.Config
	scale := 1 / math.Sqrt(float64(c.HeadSize))
	if kv.rows != nil { // rows of their own lengths (Pass.RowLens)
		if !fusedDecode || m.LinearHook != nil || !torch.RowAttentionOK(qkv, m.cos, m.sin, c.RotaryNDims, kv.k, kv.v, kv.rows) {
			return nil, false
		}
		return s.RowAttention(qkv, m.cos, m.sin, c.RotaryNDims, kv.k, kv.v, kv.rows, scale), true
	}
	if !fusedDecode || m.LinearHook != nil || !torch.DecodeAttentionOK(qkv, m.cos, m.sin, c.RotaryNDims, kv.k, kv.v, past) {
		return nil, false
	}
	return s.DecodeAttention(qkv, m.cos, m.sin, c.RotaryNDims, kv.k, kv.v, past, scale), true
}

// Segments holds what every block of one plain causal pass needs.
type Segments struct {
	rope rotaryTables
	mask *torch.Tensor
}

// Prepare returns the rotary tables and mask for a [B, T] pass without
// cache, allocated in s (training code runs the blocks one at a time:
// gradient checkpointing recomputes each block during backward).
func (m *Model) Prepare(s *torch.Scope, B, T int64) Segments {
	return Segments{rope: m.rotary(s, B, T, 0, nil), mask: m.attentionMask(s, T, 0, nil)}
}

// Embed looks up ids [B, T] (int64) in the input embedding: [B, T, H].
func (m *Model) Embed(s *torch.Scope, ids *torch.Tensor) *torch.Tensor {
	if m.Device != torch.CPU {
		ids = s.To(ids, torch.Int64, m.Device)
	}
	return s.Embedding(m.EmbedIn, ids)
}

// Block runs transformer layer i on x [B, T, H].
func (m *Model) Block(s *torch.Scope, i int, x *torch.Tensor, seg Segments) *torch.Tensor {
	return m.fam.block(m, s, &m.Layers[i], x, seg.rope, nil, 0, seg.mask)
}

// Final applies the final norm: [B, T, H].
func (m *Model) Final(s *torch.Scope, x *torch.Tensor) *torch.Tensor {
	return m.norm(s, &m.FinalNorm, x)
}
