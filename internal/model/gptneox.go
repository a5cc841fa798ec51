// Package model is the GPT-NeoX (Pythia) network in Go on libtorch: the
// architecture of HuggingFace's GPTNeoXForCausalLM (../shared/docs/DESIGN.md
// §3), loading of HF checkpoints, and its report (module tree, parameters,
// FLOPs, memory). All methods that touch tensors must run on the torch worker
// thread (torch.Do).
package model

import (
	"fmt"
	"math"

	"github.com/golamini/golamini/internal/torch"
)

// Layer holds one transformer block's weights, named as in HF checkpoints
// (gpt_neox.layers.{i}.…). Linear weights are [out, in].
type Layer struct {
	LN1W, LN1B     *torch.Tensor // input_layernorm [H]
	LN2W, LN2B     *torch.Tensor // post_attention_layernorm [H]
	QKVW, QKVB     *torch.Tensor // attention.query_key_value [3H, H], [3H]
	DenseW, DenseB *torch.Tensor // attention.dense [H, H], [H]
	FC1W, FC1B     *torch.Tensor // mlp.dense_h_to_4h [I, H], [I]
	FC2W, FC2B     *torch.Tensor // mlp.dense_4h_to_h [H, I], [H]
}

// Model is a GPT-NeoX causal language model.
type Model struct {
	Config   Config
	EmbedIn  *torch.Tensor // gpt_neox.embed_in.weight [V, H]
	Layers   []Layer
	FinalLNW *torch.Tensor // gpt_neox.final_layer_norm [H]
	FinalLNB *torch.Tensor
	EmbedOut *torch.Tensor // embed_out.weight [V, H]; the same tensor as EmbedIn when tied

	Device torch.Device
	DType  torch.DType // compute dtype of the weights

	gelu     string        // libtorch gelu approximation
	cos, sin *torch.Tensor // rotary tables [P, head_size] (see ensureRotary)
	ropePerm *torch.Tensor // [head_size] int64: swaps the halves of the rotary dims

	hugePages bool // AdviseHugePages done

	argmaxIx *torch.ArgmaxIndex // embed_out's screening index for Greedy; nil until needed
}

// Forward options for one call.
type Pass struct {
	// Cache holds past keys/values; nil runs without a cache. Its length
	// advances by T after the call.
	Cache *Cache
	// Positions [B, T] int64; nil means past, past+1, … for every row.
	Positions *torch.Tensor
	// Mask [B, 1, T, S] bool (true = may attend), S = past + T; nil means
	// plain causal attention over everything before and at each position.
	Mask *torch.Tensor
}

// Forward runs the network on ids [B, T] (int64) and returns the final hidden
// states [B, T, H] (before embed_out). Use Logits for the vocabulary scores.
func (m *Model) Forward(s *torch.Scope, ids *torch.Tensor, p Pass) *torch.Tensor {
	if s.Err() != nil {
		return nil
	}
	shape := ids.Shape()
	if len(shape) != 2 {
		s.Failf("model: input ids must be [batch, time], got %v", shape)
		return nil
	}
	B, T := shape[0], shape[1]
	past := int64(0)
	if p.Cache != nil {
		past = p.Cache.Len
	}
	if m.Device != torch.CPU { // inputs are made on the host
		ids = s.To(ids, torch.Int64, m.Device)
		if p.Positions != nil {
			p.Positions = s.To(p.Positions, torch.Int64, m.Device)
		}
		if p.Mask != nil {
			p.Mask = s.To(p.Mask, torch.Bool, m.Device)
		}
	}
	cos, sin := m.rotary(s, B, T, past, p.Positions) // [B or 1, T, 1, hs] each
	// Causality needs an explicit mask only where queries follow cached
	// positions: query i at position past+i sees keys ≤ it. Without a cache
	// in front, attention is plain causal (torch.CausalAttention, no mask
	// tensor); a single new token sees every key (attendOne, attendNew).
	mask := p.Mask
	if mask == nil && T > 1 && past > 0 {
		mask = causalMask(s, T, past+T, past, m.Device) // [1, 1, T, past+T]
	}

	x := s.Embedding(m.EmbedIn, ids) // [B, T, H]
	for i := range m.Layers {
		var kv *layerCache
		if p.Cache != nil {
			kv = &p.Cache.layers[i]
		}
		// Each block's intermediates live in their own scope and die with it;
		// autograd keeps what backward needs by itself.
		ls := torch.NewScope()
		y := m.block(ls, &m.Layers[i], x, cos, sin, kv, past, mask)
		s.Fail(ls.Err())
		s.Drop(x)
		x = s.Own(ls.Keep(y))
		ls.Close()
	}
	if p.Cache != nil && s.Err() == nil {
		p.Cache.Len = past + T
	}
	return s.LayerNorm(x, m.FinalLNW, m.FinalLNB, m.Config.LayerNormEps)
}

// block is one transformer layer: parallel (Pythia) or sequential residual.
func (m *Model) block(s *torch.Scope, l *Layer, x, cos, sin *torch.Tensor, kv *layerCache, past int64, mask *torch.Tensor) *torch.Tensor {
	c := &m.Config
	attn := m.attention(s, l, s.LayerNorm(x, l.LN1W, l.LN1B, c.LayerNormEps), cos, sin, kv, past, mask) // [B, T, H]
	if c.UseParallelResidual {
		// x + attn(ln1(x)) + mlp(ln2(x))
		mlp := m.mlp(s, l, s.LayerNorm(x, l.LN2W, l.LN2B, c.LayerNormEps))
		return s.Add(s.Add(mlp, attn), x)
	}
	// x = x + attn(ln1(x)); x = x + mlp(ln2(x))
	x = s.Add(attn, x)
	return s.Add(m.mlp(s, l, s.LayerNorm(x, l.LN2W, l.LN2B, c.LayerNormEps)), x)
}

// Logits maps hidden states [B, T, H] to vocabulary scores [B, T, V].
func (m *Model) Logits(s *torch.Scope, h *torch.Tensor) *torch.Tensor {
	return m.linear(s, h, m.EmbedOut, nil)
}

// Greedy returns the id of the largest logit of every row of h [B, 1, H]
// (hidden states from Forward), the first one on ties: [B] int64. It equals
// argmax over Logits; on the CPU in float32, for the few rows of decoding,
// it reads embed_out's int8 screening index instead of all of embed_out and
// computes only the few logits that can be the largest (torch.ArgmaxLinear).
// The index is built on first use (one pass over embed_out; 1 byte per
// weight) and rebuilt after WeightsChanged.
func (m *Model) Greedy(s *torch.Scope, h *torch.Tensor) *torch.Tensor {
	if s.Err() != nil {
		return nil
	}
	B := h.Shape()[0]
	if m.Device != torch.CPU || m.DType != torch.Float32 || B > torch.RowLinearMaxRows {
		return s.Argmax(s.View(m.Logits(s, h), B, -1), 1, false) // [B]
	}
	if m.argmaxIx == nil {
		ix, err := torch.NewArgmaxIndex(m.EmbedOut)
		if err != nil {
			s.Fail(fmt.Errorf("model: embed_out: %w", err))
			return nil
		}
		m.argmaxIx = ix
	}
	return s.ArgmaxLinear(s.View(h, B, -1), m.argmaxIx) // [B]
}

// WeightsChanged must be called after the weights were written in place (an
// optimizer step, a checkpoint copied in): it drops what was derived from
// them (Greedy's index).
func (m *Model) WeightsChanged() {
	m.argmaxIx.Free()
	m.argmaxIx = nil
}

// linear is x·wᵀ + b. Speed helper: torch's RowLinear, which for the few rows
// of decoding (no autograd) shares each weight matrix's rows among all cores
// chunk by chunk instead of using libtorch's OpenMP team, and is plain Linear
// otherwise (training, prefill of long prompts, scoring). Decoding reads every
// weight once per token, so this is where its time goes (see RowLinear).
func (m *Model) linear(s *torch.Scope, x, w, b *torch.Tensor) *torch.Tensor {
	return s.RowLinear(x, w, b)
}

// attention is GPT-NeoX self-attention with a fused, per-head QKV projection
// and partial rotary embeddings. mask nil means plain causal attention.
func (m *Model) attention(s *torch.Scope, l *Layer, h, cos, sin *torch.Tensor, kv *layerCache, past int64, mask *torch.Tensor) *torch.Tensor {
	c := &m.Config
	if s.Err() != nil {
		return nil
	}
	shape := h.Shape()
	B, T := shape[0], shape[1]
	nh, hs := int64(c.NumAttentionHeads), int64(c.HeadSize)

	qkv := m.linear(s, h, l.QKVW, l.QKVB) // [B, T, 3H]
	if mask == nil && T == 1 && kv != nil {
		if y, ok := m.attendNew(s, qkv, kv, past); ok { // [B, 1, H]
			return m.linear(s, y, l.DenseW, l.DenseB)
		}
	}
	// Unbind, not three Selects: its backward stacks the three gradients in
	// one copy where Select's zero-fills a tensor of qkv's size per part.
	qkv = s.View(qkv, B, T, nh, 3, hs) // [B, T, nh, 3, hs]: per head q|k|v
	parts := s.Unbind(qkv, 3)          // 3 × [B, T, nh, hs]
	if s.Err() != nil {
		return nil
	}
	q, k, v := parts[0], parts[1], parts[2]
	if c.RotaryNDims > 0 {
		q = m.applyRotary(s, q, cos, sin)
		k = m.applyRotary(s, k, cos, sin)
	}
	q = s.Permute(q, 0, 2, 1, 3) // [B, nh, T, hs]
	k = s.Permute(k, 0, 2, 1, 3) // [B, nh, T, hs]
	v = s.Permute(v, 0, 2, 1, 3) // [B, nh, T, hs]

	if kv != nil {
		k, v = kv.append(s, k, v, past) // [B, nh, past+T, hs]
	}
	scale := 1 / math.Sqrt(float64(hs))
	var y *torch.Tensor
	if mask == nil && T == 1 {
		y = m.attendOne(s, q, k, v, scale) // [B, nh, 1, hs]
	} else if mask == nil && past == 0 {
		// Plain causal attention over this call's tokens (training, scoring,
		// a first prefill): no mask tensor, so libtorch may take its
		// flash-attention kernel instead of the math path.
		y = s.CausalAttention(q, k, v, scale) // [B, nh, T, hs]
	} else {
		if mask == nil {
			mask = causalMask(s, T, past+T, past, m.Device) // [1, 1, T, past+T]
		}
		y = s.Attention(q, k, v, mask, false, scale) // [B, nh, T, hs]
	}
	y = s.Reshape(s.Permute(y, 0, 2, 1, 3), B, T, nh*hs) // [B, T, H]
	return m.linear(s, y, l.DenseW, l.DenseB)
}

// fusedDecode lets attendNew and linearGELU take their fused paths; tests
// turn it off to check them against the general path.
var fusedDecode = true

// attendNew is the attention of a decoding step (one new position per row,
// no padding, KV cache) in one call, torch.DecodeAttention: split q|k|v per
// head, rotary, cache write, softmax(q·kᵀ/√hs)·v and merged heads, [B, 1, H].
// ok is false when that call does not take these tensors (another dtype or
// device, autograd, a full cache) and the general path below must run.
// Speed helper: the general path is 25 small ops per layer, which after each
// weight product run on caches it has just flushed (3–45 µs each here, about
// 1.6 ms per pythia-70m token); the results are the same within float32
// rounding (TestFusedDecodeMatchesGeneralPath).
func (m *Model) attendNew(s *torch.Scope, qkv *torch.Tensor, kv *layerCache, past int64) (*torch.Tensor, bool) {
	c := &m.Config
	if !fusedDecode || !torch.DecodeAttentionOK(qkv, m.cos, m.sin, c.RotaryNDims, kv.k, kv.v, past) {
		return nil, false
	}
	return s.DecodeAttention(qkv, m.cos, m.sin, c.RotaryNDims, kv.k, kv.v, past, 1/math.Sqrt(float64(c.HeadSize))), true
}

// attendOne is softmax(q·kᵀ·scale)·v for one query per row that may see every
// key: the step of incremental decoding without padding. Speed helper: it is
// the same math as scaled_dot_product_attention in 5 ops, where libtorch's
// SDPA, which gotch can only call with a mask, takes its math fallback
// (converts the mask, scales q and k separately, adds the mask: about twice
// the ops and a mask to build per step). Softmax runs in float32 as in HF.
func (m *Model) attendOne(s *torch.Scope, q, k, v *torch.Tensor, scale float64) *torch.Tensor {
	scores := s.MulScalar(s.Matmul(q, s.Transpose(k, 2, 3)), scale) // [B, nh, 1, S]
	p := s.Softmax(scores, -1, torch.Float32)                       // [B, nh, 1, S]
	if m.DType != torch.Float32 {
		p = s.To(p, m.DType, m.Device)
	}
	return s.Matmul(p, v) // [B, nh, 1, hs]
}

// applyRotary rotates the first rot dims of every head of x [..., hs] and
// passes the other hs−rot through: HF's x_rot·cos + rotate_half(x_rot)·sin,
// rotate_half(a|b) = (−b)|a, then cat with x_pass. Speed helper: it does this
// in three ops on whole heads as x·cos + x[perm]·sin, where
// the tables (ensureRotary) hold cos|1 and (−sin_a)|sin_b|0 and perm swaps the
// halves a, b of the rotary dims. The pass-through dims get x·1 + y·0 = x and
// the rotary dims the same products and sum as HF's, so results are equal; it
// replaced 20 ops (narrows, negs, cats) per layer and token with 3.
//
// For many rows (training, prefill) the swap is a cat of three narrowed
// views: libtorch's index_select along the last dimension gathers element
// by element and, with its backward, took 0.37 s of a 4.5 s pythia-70m
// training step against 0.24 s for the cat (the lead's measurement,
// bench/train).
//
// In float32 on the CPU, all of it is one op, forward and backward
// (torch.Rotary): the same products and sums in one pass, where the ops
// above and their gradients (zero-filled for each narrowed view) took about
// 0.05 s of a 2.2 s training step.
func (m *Model) applyRotary(s *torch.Scope, x, cos, sin *torch.Tensor) *torch.Tensor {
	if torch.RotaryOK(x, cos, sin) {
		return s.Rotary(x, cos, sin, m.Config.RotaryNDims)
	}
	return m.applyRotaryOps(s, x, cos, sin)
}

// applyRotaryOps is applyRotary in libtorch ops (other dtypes, GPUs).
func (m *Model) applyRotaryOps(s *torch.Scope, x, cos, sin *torch.Tensor) *torch.Tensor {
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
	return s.Addcmul(s.Mul(x, cos), swapped, sin)
}

// mlp is dense_4h_to_h(gelu(dense_h_to_4h(x))).
func (m *Model) mlp(s *torch.Scope, l *Layer, x *torch.Tensor) *torch.Tensor {
	return m.linear(s, m.linearGELU(s, x, l.FC1W, l.FC1B), l.FC2W, l.FC2B)
}

// linearGELU is gelu(x·wᵀ + b). Speed helper: exact GELU (Pythia's) goes
// through torch's RowLinearGELU, which applies it to each chunk of the
// product as it is computed, instead of one more libtorch op per layer that
// runs on cold caches (about 80 µs per call here); otherwise Gelu(linear).
func (m *Model) linearGELU(s *torch.Scope, x, w, b *torch.Tensor) *torch.Tensor {
	if m.gelu == "none" && fusedDecode {
		return s.RowLinearGELU(x, w, b)
	}
	return s.Gelu(m.linear(s, x, w, b), m.gelu)
}

// rotary returns cos and sin [B or 1, T, 1, hs] for the positions of this
// call, broadcastable over [B, T, nh, hs] (q or k of every head).
func (m *Model) rotary(s *torch.Scope, B, T, past int64, positions *torch.Tensor) (cos, sin *torch.Tensor) {
	if m.Config.RotaryNDims == 0 {
		return nil, nil
	}
	hs := int64(m.Config.HeadSize)
	need := past + T
	if positions != nil {
		ps, err := positions.Int64s()
		if err != nil {
			s.Fail(err)
			return nil, nil
		}
		for _, p := range ps {
			if p+1 > need {
				need = p + 1
			}
		}
	}
	if err := m.ensureRotary(need); err != nil {
		s.Fail(err)
		return nil, nil
	}
	if positions == nil {
		cos = s.View(s.Narrow(m.cos, 0, past, T), 1, T, 1, hs) // [1, T, 1, hs]
		sin = s.View(s.Narrow(m.sin, 0, past, T), 1, T, 1, hs)
		return cos, sin
	}
	flat := s.Reshape(positions, -1)                         // [B·T]
	cos = s.View(s.IndexSelect(m.cos, 0, flat), B, T, 1, hs) // [B, T, 1, hs]
	sin = s.View(s.IndexSelect(m.sin, 0, flat), B, T, 1, hs)
	return cos, sin
}

// ensureRotary builds the rotary tables for at least n positions the way HF
// does (inv_freq = 1/base^(2i/rot), freqs = t ⊗ inv_freq, emb = freqs|freqs),
// laid out over the whole head for applyRotary: cos = cos(emb)|1 and
// sin = (−sin(emb_a))|sin(emb_b)|0, both [n, hs], where emb_a, emb_b are the
// two halves of emb's rot columns; ropePerm = b|a|pass as indices.
func (m *Model) ensureRotary(n int64) error {
	if m.cos != nil && m.cos.Shape()[0] >= n {
		return nil
	}
	if p := int64(m.Config.MaxPositionEmbeddings); n < p {
		n = p
	}
	rot, hs := int64(m.Config.RotaryNDims), int64(m.Config.HeadSize)
	half := rot / 2
	s := torch.NewScope()
	defer s.Close()
	idx := s.To(s.Arange(0, half, torch.Int64, torch.CPU), torch.Float32, torch.CPU)
	exp := s.MulScalar(idx, 2/float64(rot))                                       // 2i/rot
	inv := s.Reciprocal(s.PowScalarBase(m.Config.RotaryEmbBase, exp))             // [rot/2]
	t := s.To(s.Arange(0, n, torch.Int64, torch.CPU), torch.Float32, torch.CPU)   // [n]
	freqs := s.Outer(t, inv)                                                      // [n, rot/2]
	emb := s.Cat(1, freqs, freqs)                                                 // [n, rot]
	cosE, sinE := s.Cos(emb), s.Sin(emb)                                          // [n, rot]
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

// causalMask returns a bool mask [1, 1, T, S] where query i (at absolute
// position offset+i) may attend key j iff j ≤ offset+i.
func causalMask(s *torch.Scope, T, S, offset int64, dev torch.Device) *torch.Tensor {
	ones := s.Ones([]int64{T, S}, torch.Bool, dev)
	return s.View(s.Tril(ones, offset), 1, 1, T, S) // [1, 1, T, S]
}

// AdviseHugePages asks the kernel to back the weights that every decoding
// step reads (the layers' matrices and embed_out) with 2 MiB pages, once per
// model; it is a hint that does nothing where the kernel declines. Speed
// helper: a token streams all 179 MB of pythia-70m's weights, and with 4 KiB
// pages the hardware prefetchers stop at every page boundary and the TLB
// misses every 4 KiB; a 103 MB matrix-vector product ran at 12.3 GB/s best
// (median 6.4) on 2 MiB pages against 9.6 (4.3) on 4 KiB pages here.
func (m *Model) AdviseHugePages() {
	if m.hugePages {
		return
	}
	m.hugePages = true
	m.EmbedOut.AdviseHugePages()
	for i := range m.Layers {
		l := &m.Layers[i]
		for _, t := range []*torch.Tensor{l.QKVW, l.DenseW, l.FC1W, l.FC2W} {
			t.AdviseHugePages()
		}
	}
}

// Free releases all weights and tables.
func (m *Model) Free() {
	if m == nil {
		return
	}
	tied := m.EmbedOut == m.EmbedIn
	for _, p := range m.Parameters() {
		p.Tensor.Free()
	}
	if !tied {
		m.EmbedOut.Free()
	}
	m.cos.Free()
	m.sin.Free()
	m.ropePerm.Free()
	m.WeightsChanged()
}

// NamedTensor is a parameter with its HF checkpoint name.
type NamedTensor struct {
	Name   string
	Tensor *torch.Tensor
}

// Parameters lists the trainable tensors with their HF names, in HF's
// registration order. A tied embed_out is listed once, as embed_in.
func (m *Model) Parameters() []NamedTensor {
	ps := []NamedTensor{{"gpt_neox.embed_in.weight", m.EmbedIn}}
	for i := range m.Layers {
		l := &m.Layers[i]
		pre := fmt.Sprintf("gpt_neox.layers.%d.", i)
		add := func(n string, t *torch.Tensor) {
			if t != nil {
				ps = append(ps, NamedTensor{pre + n, t})
			}
		}
		add("input_layernorm.weight", l.LN1W)
		add("input_layernorm.bias", l.LN1B)
		add("post_attention_layernorm.weight", l.LN2W)
		add("post_attention_layernorm.bias", l.LN2B)
		add("attention.query_key_value.weight", l.QKVW)
		add("attention.query_key_value.bias", l.QKVB)
		add("attention.dense.weight", l.DenseW)
		add("attention.dense.bias", l.DenseB)
		add("mlp.dense_h_to_4h.weight", l.FC1W)
		add("mlp.dense_h_to_4h.bias", l.FC1B)
		add("mlp.dense_4h_to_h.weight", l.FC2W)
		add("mlp.dense_4h_to_h.bias", l.FC2B)
	}
	ps = append(ps, NamedTensor{"gpt_neox.final_layer_norm.weight", m.FinalLNW}, NamedTensor{"gpt_neox.final_layer_norm.bias", m.FinalLNB})
	if m.EmbedOut != m.EmbedIn {
		ps = append(ps, NamedTensor{"embed_out.weight", m.EmbedOut})
	}
	return ps
}
