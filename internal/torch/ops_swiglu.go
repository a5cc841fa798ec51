package torch

import lib "github.com/sugarme/gotch/libtch"

// Ops the Llama-style families need beyond GPT-NeoX's: SiLU for the SwiGLU
// MLP and Expand for sharing one key/value head among several query heads
// (grouped-query attention).

// Silu returns x·sigmoid(x).
func (s *Scope) Silu(x *Tensor) *Tensor { return s.unary("silu", lib.AtgSilu, x) }

// Expand returns a view of x broadcast to shape (−1 keeps a dimension); no
// data is copied.
func (s *Scope) Expand(x *Tensor, shape ...int64) *Tensor {
	if !s.ok("expand", x) {
		return nil
	}
	var out lib.Ctensor
	lib.AtgExpand(&out, x.c, shape, len(shape), 0)
	return s.wrap("expand", out)
}
