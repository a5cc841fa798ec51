package model

import (
	"fmt"

	"github.com/golamini/golamini/internal/torch"
)

// GPT-NeoX (Pythia): HF's GPTNeoXForCausalLM. LayerNorm, a fused per-head
// q|k|v projection, partial rotary embeddings, a GELU MLP and, as in
// Pythia, a parallel residual.

var gptNeoX = family{
	arch: "GPTNeoXForCausalLM", defaults: gptNeoXDefaults, validate: validateGPTNeoX,
	keys: []string{"rotary_pct", "rotary_emb_base", "layer_norm_eps", "use_parallel_residual", "attention_bias",
		"hidden_dropout", "classifier_dropout", "rope_scaling"},
	base: "gpt_neox", embed: "embed_in", norm: "final_layer_norm", head: "embed_out",
	buffers: []string{".attention.bias", ".attention.masked_bias", ".attention.rotary_emb.inv_freq"},
}

func init() { gptNeoX.layer, gptNeoX.block, gptNeoX.tree = gptNeoXLayer, gptNeoXBlock, gptNeoXTree }

// gptNeoXDefaults are the values of GPTNeoXConfig.__init__.
func gptNeoXDefaults() Config {
	bos := 0
	bias := true
	return Config{ModelType: "gpt_neox", VocabSize: 50432, HiddenSize: 6144, NumHiddenLayers: 44,
		NumAttentionHeads: 64, IntermediateSize: 24576, HiddenAct: "gelu", RotaryPct: 0.25,
		RotaryEmbBase: 10000, MaxPositionEmbeddings: 2048, InitializerRange: 0.02, LayerNormEps: 1e-5,
		UseCache: true, BOSTokenID: &bos, EOSTokenID: IDsOf(2), UseParallelResidual: true,
		AttentionBias: &bias, ClassifierDropout: 0.1}
}

func validateGPTNeoX(c *Config) error {
	if c.HiddenSize%c.NumAttentionHeads != 0 {
		return invalid("hidden_size %d must be a multiple of num_attention_heads %d", c.HiddenSize, c.NumAttentionHeads)
	}
	// transformers 5 writes the rotary settings as rope_parameters
	// (rope_theta, partial_rotary_factor), which win over rotary_emb_base
	// and rotary_pct as in GPTNeoXConfig; they are folded back into those.
	if rp := c.RopeScaling; rp != nil || c.RopeParameters != nil {
		if rp == nil {
			rp = c.RopeParameters
		}
		if t := rp.RopeType + rp.Type; t != "" && t != "default" {
			return fmt.Errorf("rope type %q for gpt_neox is %w", t, ErrUnsupported)
		}
		if rp.Factor != 0 || rp.OriginalMaxPositionEmbeddings != 0 || rp.AttentionFactor != nil {
			return fmt.Errorf("rope scaling for gpt_neox is %w", ErrUnsupported)
		}
		if rp.RopeTheta != 0 {
			c.RotaryEmbBase = rp.RopeTheta
		}
		if rp.PartialRotaryFactor != 0 {
			c.RotaryPct = rp.PartialRotaryFactor
		}
		c.RopeScaling, c.RopeParameters = nil, nil
	}
	if c.RotaryPct < 0 || c.RotaryPct > 1 {
		return invalid("rotary_pct %v must be in [0, 1]", c.RotaryPct)
	}
	if !(c.LayerNormEps > 0) {
		return invalid("layer_norm_eps %v must be positive", c.LayerNormEps)
	}
	if !(c.RotaryEmbBase > 0) {
		return invalid("rotary_emb_base %v must be positive", c.RotaryEmbBase)
	}
	if _, err := geluApproximation(c.HiddenAct); err != nil {
		return err
	}
	c.HeadSize = c.HiddenSize / c.NumAttentionHeads
	c.KVHeads = c.NumAttentionHeads
	c.RotaryNDims = int(float64(c.HeadSize) * c.RotaryPct)
	c.Rope = Rope{RopeType: "default", RopeTheta: c.RotaryEmbBase, PartialRotaryFactor: c.RotaryPct}
	return nil
}

func gptNeoXLayer(m *Model, i int) Layer {
	c := &m.Config
	p := fmt.Sprintf("gpt_neox.layers.%d.", i)
	bias := c.HasAttentionBias()
	ln := func(n string) Norm { return Norm{Path: p + n, eps: c.LayerNormEps} }
	return Layer{
		Norm1: ln("input_layernorm"), Norm2: ln("post_attention_layernorm"),
		QKV:  Linear{Path: p + "attention.query_key_value", bias: bias},
		O:    Linear{Path: p + "attention.dense", bias: bias},
		Up:   Linear{Path: p + "mlp.dense_h_to_4h", bias: true},
		Down: Linear{Path: p + "mlp.dense_4h_to_h", bias: true},
	}
}

// gptNeoXBlock is one transformer layer: parallel (Pythia) or sequential residual.
func gptNeoXBlock(m *Model, s *torch.Scope, l *Layer, x *torch.Tensor, r rotaryTables, kv *layerCache, past int64, mask *torch.Tensor) *torch.Tensor {
	attn := gptNeoXAttention(m, s, l, m.norm(s, &l.Norm1, x), r, kv, past, mask) // [B, T, H]
	if m.Config.UseParallelResidual {
		// x + attn(ln1(x)) + mlp(ln2(x))
		mlp := m.geluMLP(s, l, m.norm(s, &l.Norm2, x))
		return s.Add(s.Add(mlp, attn), x)
	}
	// x = x + attn(ln1(x)); x = x + mlp(ln2(x))
	x = s.Add(attn, x)
	return s.Add(m.geluMLP(s, l, m.norm(s, &l.Norm2, x)), x)
}

// gptNeoXAttention is self-attention with a fused, per-head QKV projection
// and partial rotary embeddings. mask nil means plain causal attention.
func gptNeoXAttention(m *Model, s *torch.Scope, l *Layer, h *torch.Tensor, r rotaryTables, kv *layerCache, past int64, mask *torch.Tensor) *torch.Tensor {
	if s.Err() != nil {
		return nil
	}
	shape := h.Shape()
	B, T := shape[0], shape[1]
	nh, hs := int64(m.Config.NumAttentionHeads), int64(m.Config.HeadSize)

	qkv := m.linear(s, h, &l.QKV) // [B, T, 3H]
	if T == 1 && kv != nil && (mask == nil || kv.rows != nil) {
		if y, ok := m.attendNew(s, qkv, kv, past); ok { // [B, 1, H]
			return m.linear(s, y, &l.O)
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
	if m.Config.RotaryNDims > 0 {
		q = m.applyRotary(s, q, r)
		k = m.applyRotary(s, k, r)
	}
	y := m.attend(s, q, k, v, kv, past, mask) // [B, T, H]
	return m.linear(s, y, &l.O)
}
