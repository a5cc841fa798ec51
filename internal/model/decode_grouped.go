package model

import (
	"math"
	"sync/atomic"

	"github.com/golamini/golamini/internal/torch"
)

// attendGroupedNew is the Llama-style families' attention of a decoding
// step (one new position per row, no padding, KV cache) up to the merged
// heads, [B, 1, nh·hd]: the query, key and value projections as one
// RowLinearCat job (each weight read where it lies: no concatenated copy),
// then torch.DecodeAttentionGrouped (Qwen3's q/k norms, rotary, cache
// write, grouped-query attention) in one call. ok is false where those
// calls do not take the model's tensors (another dtype or device, a
// LinearHook such as LoRA's that must see every projection, a full cache)
// and the general path must run. Speed helper: the general path is about
// 20 small libtorch ops per layer beside the products; the results are the
// same within float32 rounding (TestFusedDecodeMatchesGeneralPath).
func (m *Model) attendGroupedNew(s *torch.Scope, l *Layer, h *torch.Tensor, kv *layerCache, past int64, mask *torch.Tensor) (*torch.Tensor, bool) {
	c := &m.Config
	if !fusedDecode || m.LinearHook != nil || kv == nil || (mask != nil && kv.rows == nil) || s.Err() != nil ||
		m.DType != torch.Float32 || m.Device != torch.CPU || h.Shape()[1] != 1 || past >= kv.k.Shape()[2] {
		return nil, false
	}
	qkv := s.RowLinearCat(h, []*torch.Tensor{l.Q.W, l.K.W, l.V.W}, []*torch.Tensor{l.Q.B, l.K.B, l.V.B}) // [B, 1, (nh+2·nkv)·hd]
	if s.Err() != nil {
		return nil, false
	}
	scale := 1 / math.Sqrt(float64(c.HeadSize))
	if kv.rows != nil { // rows of their own lengths (Pass.RowLens)
		if W := int64(c.Window); (W > 0 && past+1 > W) || !torch.RowAttentionGroupedOK(qkv, m.cos, m.sin, c.RotaryNDims, l.QNorm.W, l.KNorm.W, kv.k, kv.v, kv.rows) {
			s.Drop(qkv)
			return nil, false
		}
		groupedSteps.Add(1)
		return s.RowAttentionGrouped(qkv, m.cos, m.sin, c.RotaryNDims, l.QNorm.W, l.KNorm.W, c.RMSNormEps,
			kv.k, kv.v, kv.rows, scale), true
	}
	if !torch.DecodeAttentionGroupedOK(qkv, m.cos, m.sin, c.RotaryNDims, l.QNorm.W, l.KNorm.W, kv.k, kv.v, past) {
		s.Drop(qkv)
		return nil, false
	}
	groupedSteps.Add(1)
	return s.DecodeAttentionGrouped(qkv, m.cos, m.sin, c.RotaryNDims, l.QNorm.W, l.KNorm.W, c.RMSNormEps,
		kv.k, kv.v, past, scale), true
}

// groupedSteps counts the layer steps attendGroupedNew ran fused (tests:
// the fused path is taken where it should be).
var groupedSteps atomic.Int64
