// Package model is the causal language models of golamini in Go on
// libtorch: HuggingFace's GPTNeoXForCausalLM (Pythia), LlamaForCausalLM
// (Llama 2/3, SmolLM, TinyLlama), MistralForCausalLM, Qwen2ForCausalLM and
// Qwen3ForCausalLM, equal to transformers; loading of HF checkpoints; and
// their report (module tree, parameters, FLOPs, memory).
//
// Every family is one *Model: the trainer, generator and runner call
// Forward, Logits, Greedy, Parameters and NewCache without knowing which.
// A family is one page (gptneox.go, llama.go) with its block and its
// tensors; the blocks it is built from (linear projections, norms,
// attention with its KV cache, rotary tables, MLPs) are shared. All methods
// that touch tensors must run on the torch worker thread (torch.Do).
package model

import (
	"fmt"

	"github.com/golamini/golamini/internal/torch"
)

// Linear is one nn.Linear of the HF model: weight [out, in] and an optional
// bias [out], with its module path (model.layers.3.self_attn.q_proj).
type Linear struct {
	Path string
	W, B *torch.Tensor

	bias bool // the family's module has a bias
}

// Norm is a LayerNorm (weight and bias) or an RMSNorm (weight only) with
// its module path.
type Norm struct {
	Path string
	W, B *torch.Tensor

	eps float64
	rms bool // RMSNorm: no bias, no mean subtraction
}

func (n *Norm) hasBias() bool { return !n.rms }

// Layer holds one transformer block's modules. Each family uses a subset:
// GPT-NeoX the fused QKV, Llama-style families Q, K, V (and Qwen3 QNorm,
// KNorm) and the SwiGLU gate.
type Layer struct {
	Norm1, Norm2 Norm   // input_layernorm, post_attention_layernorm
	QKV          Linear // GPT-NeoX attention.query_key_value [3·H, H], per head q|k|v
	Q, K, V      Linear // self_attn.q_proj [nh·hd, H], k_proj, v_proj [nkv·hd, H]
	QNorm, KNorm Norm   // Qwen3's per-head RMSNorm over head_dim
	O            Linear // attention.dense / self_attn.o_proj [H, nh·hd]
	Gate         Linear // mlp.gate_proj [I, H] (SwiGLU)
	Up           Linear // mlp.dense_h_to_4h / up_proj [I, H]
	Down         Linear // mlp.dense_4h_to_h / down_proj [H, I]
}

// Model is a causal language model of any supported family.
type Model struct {
	Config    Config
	EmbedIn   *torch.Tensor // input embedding [V, H] (gpt_neox.embed_in, model.embed_tokens)
	Layers    []Layer
	FinalNorm Norm          // gpt_neox.final_layer_norm, model.norm
	EmbedOut  *torch.Tensor // output projection [V, H] (embed_out, lm_head); the same tensor as EmbedIn when tied

	Device torch.Device
	DType  torch.DType // compute dtype of the weights

	// LinearHook, when set, is called by every linear projection of the
	// blocks with the module and its input x and output y, and its result
	// replaces y (LoRA adapters add their low-rank update here). The fused
	// decode paths that would skip it are not taken while it is set.
	LinearHook func(s *torch.Scope, l *Linear, x, y *torch.Tensor) *torch.Tensor
	// Head, when set, replaces EmbedOut as the output projection [V, H] in
	// the model's dtype: a LoRA adapter's own trained copy of the head
	// (PEFT's modules_to_save). See OutputProjection.
	Head *torch.Tensor

	fam      *family
	gelu     string        // libtorch gelu approximation (GPT-NeoX)
	cos, sin *torch.Tensor // rotary tables [P, head_size] (see buildRotary)
	ropePerm *torch.Tensor // [head_size] int64: swaps the halves of the rotary dims
	ropeSeq  int64         // dynamic rope: the longest sequence the tables are scaled for

	hugePages bool // AdviseHugePages done

	argmaxIx *torch.ArgmaxIndex // the output projection's screening index for Greedy; nil until needed
}

// Pass holds the options of one Forward call; the same for every family.
type Pass struct {
	// Cache holds past keys/values; nil runs without a cache. Its length
	// advances by T after the call.
	Cache *Cache
	// Positions [B, T] int64; nil means past, past+1, … for every row.
	Positions *torch.Tensor
	// Mask [B, 1, T, S] bool (true = may attend), S = past + T; nil means
	// plain causal attention over everything before and at each position.
	Mask *torch.Tensor
	// RowLens, when set, gives every row of Cache its own length (the rows
	// of a continuous batch joined at different times): a call of one new
	// token per row [B, 1] where row b holds its positions 0…RowLens[b]−1
	// in cache columns 0…RowLens[b]−1, and its token is position RowLens[b],
	// written at column RowLens[b]. Positions and Mask must be nil, and
	// Cache.Len is neither read nor changed.
	RowLens []int64
}

// skeleton returns a model without tensors whose modules carry their
// paths: the source of every tensor name and shape (weights).
func skeleton(cfg Config) (*Model, error) {
	f, ok := families[cfg.ModelType]
	if !ok {
		return nil, fmt.Errorf("model_type %q is %w", cfg.ModelType, ErrUnsupported)
	}
	m := &Model{Config: cfg, fam: f, Layers: make([]Layer, cfg.NumHiddenLayers)}
	for i := range m.Layers {
		m.Layers[i] = f.layer(m, i)
	}
	m.FinalNorm = Norm{Path: f.base + "." + f.norm, eps: cfg.RMSNormEps, rms: true}
	if f == &gptNeoX {
		m.FinalNorm = Norm{Path: f.base + "." + f.norm, eps: cfg.LayerNormEps}
		m.gelu, _ = geluApproximation(cfg.HiddenAct)
	}
	return m, nil
}

// Forward runs the network on ids [B, T] (int64) and returns the final hidden
// states [B, T, H] (before the output projection). Use Logits for the
// vocabulary scores.
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
	if p.RowLens != nil {
		var ok bool
		if past, ok = m.rowLens(s, B, T, &p); !ok {
			return nil
		}
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
	r := m.rotary(s, B, T, past, p.Positions) // [B or 1, T, 1, hs] each
	mask := p.Mask                            // rowLens made it, sliding window included
	if p.RowLens == nil {
		mask = m.attentionMask(s, T, past, p.Mask)
	}

	x := s.Embedding(m.EmbedIn, ids) // [B, T, H]
	for i := range m.Layers {
		var kv *layerCache
		if p.Cache != nil {
			kv = &p.Cache.layers[i]
			kv.rows = p.RowLens
		}
		// Each block's intermediates live in their own scope and die with it;
		// autograd keeps what backward needs by itself.
		ls := torch.NewScope()
		y := m.fam.block(m, ls, &m.Layers[i], x, r, kv, past, mask)
		if kv != nil {
			kv.rows = nil
		}
		s.Fail(ls.Err())
		s.Drop(x)
		x = s.Own(ls.Keep(y))
		ls.Close()
	}
	if p.Cache != nil && p.RowLens == nil && s.Err() == nil {
		p.Cache.Len = past + T
	}
	return m.norm(s, &m.FinalNorm, x)
}

// Logits maps hidden states [B, T, H] to vocabulary scores [B, T, V].
func (m *Model) Logits(s *torch.Scope, h *torch.Tensor) *torch.Tensor {
	return s.RowLinear(h, m.OutputProjection(), nil)
}

// OutputProjection is the head the model computes logits with: Head when
// an adapter set one, else EmbedOut.
func (m *Model) OutputProjection() *torch.Tensor {
	if m.Head != nil {
		return m.Head
	}
	return m.EmbedOut
}

// Greedy returns the id of the largest logit of every row of h [B, 1, H]
// (hidden states from Forward), the first one on ties: [B] int64. It equals
// argmax over Logits; on the CPU in float32, for the few rows of decoding,
// it reads the output projection's int8 screening index instead of the
// whole matrix and computes only the few logits that can be the largest
// (torch.ArgmaxLinear). The index is built on first use (one pass over the
// matrix; 1 byte per weight) and rebuilt after WeightsChanged.
func (m *Model) Greedy(s *torch.Scope, h *torch.Tensor) *torch.Tensor {
	if s.Err() != nil {
		return nil
	}
	B := h.Shape()[0]
	if m.Device != torch.CPU || m.DType != torch.Float32 || B > torch.RowLinearMaxRows || m.Head != nil {
		return s.Argmax(s.View(m.Logits(s, h), B, -1), 1, false) // [B]
	}
	if m.argmaxIx == nil {
		ix, err := torch.NewArgmaxIndex(m.EmbedOut)
		if err != nil {
			s.Fail(fmt.Errorf("model: %s: %w", m.fam.head, err))
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

// VocabSize is the number of rows of the output projection.
func (m *Model) VocabSize() int { return m.Config.VocabSize }

// ContextLength is max_position_embeddings.
func (m *Model) ContextLength() int { return m.Config.MaxPositionEmbeddings }

// AdviseHugePages asks the kernel to back the weights that every decoding
// step reads (the layers' matrices and the output projection) with 2 MiB
// pages, once per model; it is a hint that does nothing where the kernel
// declines. Speed helper: a token streams every weight, and with 4 KiB
// pages the hardware prefetchers stop at every page boundary and the TLB
// misses every 4 KiB (bench/RESULTS.md has the measurements).
func (m *Model) AdviseHugePages() {
	if m.hugePages {
		return
	}
	m.hugePages = true
	m.EmbedOut.AdviseHugePages()
	for i := range m.Layers {
		for _, l := range m.Layers[i].linears() {
			l.W.AdviseHugePages()
		}
	}
}

// linears lists the layer's projections that exist in its family.
func (l *Layer) linears() []*Linear {
	var out []*Linear
	for _, x := range []*Linear{&l.QKV, &l.Q, &l.K, &l.V, &l.O, &l.Gate, &l.Up, &l.Down} {
		if x.W != nil {
			out = append(out, x)
		}
	}
	return out
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

// weight is one tensor of the model: its HF name, shape, HF's
// initialisation, where it lives in the Model, and the config fields its
// shape comes from (for errors).
type weight struct {
	name   string
	shape  []int64
	init   string // normal, one, zero
	dst    **torch.Tensor
	fields string
}

// weights lists every tensor in HF's registration order (named_parameters):
// embedding, layers, final norm, then the output projection unless tied.
func (m *Model) weights() []weight {
	c := &m.Config
	H, V := int64(c.HiddenSize), int64(c.VocabSize)
	f := m.fam
	ws := []weight{{f.base + "." + f.embed + ".weight", []int64{V, H}, "normal", &m.EmbedIn, "vocab_size, hidden_size"}}
	for i := range m.Layers {
		ws = append(ws, m.layerWeights(&m.Layers[i])...)
	}
	ws = append(ws, normWeights(&m.FinalNorm, H, "hidden_size")...)
	if !c.TieWordEmbeddings {
		ws = append(ws, weight{f.head + ".weight", []int64{V, H}, "normal", &m.EmbedOut, "vocab_size, hidden_size"})
	}
	return ws
}

// layerWeights lists a layer's tensors in HF's order: for GPT-NeoX norms,
// attention, MLP; for Llama-style attention, MLP, norms.
func (m *Model) layerWeights(l *Layer) []weight {
	c := &m.Config
	H, I := int64(c.HiddenSize), int64(c.IntermediateSize)
	nq, nkv := int64(c.NumAttentionHeads*c.HeadSize), int64(c.KVHeads*c.HeadSize)
	hd := int64(c.HeadSize)
	lin := func(x *Linear, out, in int64, fields string) []weight {
		ws := []weight{{x.Path + ".weight", []int64{out, in}, "normal", &x.W, fields}}
		if x.bias {
			ws = append(ws, weight{x.Path + ".bias", []int64{out}, "zero", &x.B, fields})
		}
		return ws
	}
	var ws []weight
	if m.fam == &gptNeoX {
		ws = append(ws, normWeights(&l.Norm1, H, "hidden_size")...)
		ws = append(ws, normWeights(&l.Norm2, H, "hidden_size")...)
		ws = append(ws, lin(&l.QKV, 3*H, H, "hidden_size")...)
		ws = append(ws, lin(&l.O, H, H, "hidden_size")...)
		ws = append(ws, lin(&l.Up, I, H, "intermediate_size, hidden_size")...)
		ws = append(ws, lin(&l.Down, H, I, "hidden_size, intermediate_size")...)
		return ws
	}
	ws = append(ws, lin(&l.Q, nq, H, "num_attention_heads × head_dim, hidden_size")...)
	ws = append(ws, lin(&l.K, nkv, H, "num_key_value_heads × head_dim, hidden_size")...)
	ws = append(ws, lin(&l.V, nkv, H, "num_key_value_heads × head_dim, hidden_size")...)
	ws = append(ws, lin(&l.O, H, nq, "hidden_size, num_attention_heads × head_dim")...)
	if l.QNorm.Path != "" {
		ws = append(ws, normWeights(&l.QNorm, hd, "head_dim")...)
		ws = append(ws, normWeights(&l.KNorm, hd, "head_dim")...)
	}
	ws = append(ws, lin(&l.Gate, I, H, "intermediate_size, hidden_size")...)
	ws = append(ws, lin(&l.Up, I, H, "intermediate_size, hidden_size")...)
	ws = append(ws, lin(&l.Down, H, I, "hidden_size, intermediate_size")...)
	ws = append(ws, normWeights(&l.Norm1, H, "hidden_size")...)
	ws = append(ws, normWeights(&l.Norm2, H, "hidden_size")...)
	return ws
}

// normWeights is a norm's weight (initialised to 1) and, for LayerNorm, bias.
func normWeights(n *Norm, size int64, fields string) []weight {
	ws := []weight{{n.Path + ".weight", []int64{size}, "one", &n.W, fields}}
	if n.hasBias() {
		ws = append(ws, weight{n.Path + ".bias", []int64{size}, "zero", &n.B, fields})
	}
	return ws
}

// Parameters lists the trainable tensors with their HF names, in HF's
// registration order. A tied output projection is listed once, as the
// input embedding.
func (m *Model) Parameters() []NamedTensor {
	ws := m.weights()
	ps := make([]NamedTensor, 0, len(ws))
	for _, w := range ws {
		if *w.dst != nil {
			ps = append(ps, NamedTensor{w.name, *w.dst})
		}
	}
	return ps
}
