package model

import (
	"fmt"

	"github.com/golamini/golamini/internal/torch"
)

// Llama and the families built like it: HF's LlamaForCausalLM (Llama 2/3,
// SmolLM, TinyLlama), MistralForCausalLM, Qwen2ForCausalLM and
// Qwen3ForCausalLM. Pre-norm residual blocks with RMSNorm, grouped-query
// attention with rotary embeddings, and a SwiGLU MLP. The families differ
// only in configuration (family.go): which projections have biases
// (Qwen2's q/k/v, attention_bias, mlp_bias), Qwen3's per-head q/k RMSNorm,
// Mistral's sliding window.

func llamaLayer(m *Model, i int) Layer {
	c := &m.Config
	p := fmt.Sprintf("model.layers.%d.", i)
	qkvBias, oBias, mlpBias := c.HasAttentionBias(), c.HasAttentionBias(), c.MLPBias
	switch c.ModelType {
	case "mistral":
		qkvBias, oBias, mlpBias = false, false, false
	case "qwen2":
		qkvBias, oBias, mlpBias = true, false, false
	case "qwen3":
		mlpBias = false
	}
	rms := func(n string) Norm { return Norm{Path: p + n, eps: c.RMSNormEps, rms: true} }
	l := Layer{
		Norm1: rms("input_layernorm"), Norm2: rms("post_attention_layernorm"),
		Q:    Linear{Path: p + "self_attn.q_proj", bias: qkvBias},
		K:    Linear{Path: p + "self_attn.k_proj", bias: qkvBias},
		V:    Linear{Path: p + "self_attn.v_proj", bias: qkvBias},
		O:    Linear{Path: p + "self_attn.o_proj", bias: oBias},
		Gate: Linear{Path: p + "mlp.gate_proj", bias: mlpBias},
		Up:   Linear{Path: p + "mlp.up_proj", bias: mlpBias},
		Down: Linear{Path: p + "mlp.down_proj", bias: mlpBias},
	}
	if c.ModelType == "qwen3" {
		l.QNorm, l.KNorm = rms("self_attn.q_norm"), rms("self_attn.k_norm")
	}
	return l
}

// llamaBlock is one decoder layer:
//
//	x = x + o_proj(attention(input_layernorm(x)))
//	x = x + down_proj(silu(gate_proj(h)) ⊙ up_proj(h)), h = post_attention_layernorm(x)
func llamaBlock(m *Model, s *torch.Scope, l *Layer, x *torch.Tensor, r rotaryTables, kv *layerCache, past int64, mask *torch.Tensor) *torch.Tensor {
	x = s.Add(x, llamaAttention(m, s, l, m.norm(s, &l.Norm1, x), r, kv, past, mask)) // [B, T, H]
	return s.Add(x, m.swiGLU(s, l, m.norm(s, &l.Norm2, x)))                          // [B, T, H]
}

// llamaAttention projects h [B, T, H] to nh query and nkv key/value heads,
// normalises q and k per head (Qwen3), rotates them and attends.
func llamaAttention(m *Model, s *torch.Scope, l *Layer, h *torch.Tensor, r rotaryTables, kv *layerCache, past int64, mask *torch.Tensor) *torch.Tensor {
	if s.Err() != nil {
		return nil
	}
	if y, ok := m.attendGroupedNew(s, l, h, kv, past, mask); ok { // [B, 1, nh·hd]: a decoding step
		return m.linear(s, y, &l.O)
	}
	c := &m.Config
	sh := h.Shape()
	B, T := sh[0], sh[1]
	nh, nkv, hd := int64(c.NumAttentionHeads), int64(c.KVHeads), int64(c.HeadSize)
	q := s.View(m.linear(s, h, &l.Q), B, T, nh, hd)  // [B, T, nh, hd]
	k := s.View(m.linear(s, h, &l.K), B, T, nkv, hd) // [B, T, nkv, hd]
	v := s.View(m.linear(s, h, &l.V), B, T, nkv, hd) // [B, T, nkv, hd]
	if l.QNorm.W != nil {
		q = m.norm(s, &l.QNorm, q) // over hd, per head
		k = m.norm(s, &l.KNorm, k)
	}
	q = m.applyRotary(s, q, r)
	k = m.applyRotary(s, k, r)
	y := m.attend(s, q, k, v, kv, past, mask) // [B, T, nh·hd]
	return m.linear(s, y, &l.O)               // [B, T, H]
}
