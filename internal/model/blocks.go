package model

import "github.com/golamini/golamini/internal/torch"

// The model in segments, for training code that runs blocks one at a time
// (gradient checkpointing recomputes each block during backward).

// Segments holds what every block of one plain causal pass needs.
type Segments struct {
	cos, sin, mask *torch.Tensor
}

// Prepare returns the rotary tables and causal mask for a [B, T] pass
// without cache, allocated in s.
func (m *Model) Prepare(s *torch.Scope, B, T int64) Segments {
	cos, sin := m.rotary(s, B, T, 0, nil)
	return Segments{cos: cos, sin: sin, mask: causalMask(s, T, T, 0, m.Device)}
}

// Embed looks up ids [B, T] (int64) in embed_in: [B, T, H].
func (m *Model) Embed(s *torch.Scope, ids *torch.Tensor) *torch.Tensor {
	if m.Device != torch.CPU {
		ids = s.To(ids, torch.Int64, m.Device)
	}
	return s.Embedding(m.EmbedIn, ids)
}

// Block runs transformer layer i on x [B, T, H].
func (m *Model) Block(s *torch.Scope, i int, x *torch.Tensor, seg Segments) *torch.Tensor {
	return m.block(s, &m.Layers[i], x, seg.cos, seg.sin, nil, 0, seg.mask)
}

// Final applies the final LayerNorm: [B, T, H].
func (m *Model) Final(s *torch.Scope, x *torch.Tensor) *torch.Tensor {
	return s.LayerNorm(x, m.FinalLNW, m.FinalLNB, m.Config.LayerNormEps)
}
