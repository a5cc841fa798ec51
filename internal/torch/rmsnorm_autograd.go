package torch

// #include <stdlib.h>
// #include "fused.h"
import "C"

import (
	"runtime"
	"unsafe"

	lib "github.com/sugarme/gotch/libtch"
)

// RMSNorm returns w ⊙ x·rsqrt(mean(x²) + eps) over the last dimension of
// x [..., D] with w [D] (HF's LlamaRMSNorm in float32) as one op, forward
// and backward (rmsnorm.cpp), recording autograd when x or w requires grad.
// RMSNormOK says whether it takes x and w.
//
// Speed helper for training and prefill: libtorch runs the norm as six ops
// forward (square, mean, add, rsqrt, two muls) and about ten backward, each a
// pass over an activation-sized tensor and some of them kept for backward;
// here the forward is one pass and saves x and one value per row, and the
// backward is one pass for x's gradient and w's together.
func (s *Scope) RMSNorm(x, w *Tensor, eps float64) *Tensor {
	if !s.ok("rms_norm", x, w) {
		return nil
	}
	var out unsafe.Pointer
	msg := C.gl_rms_norm(&out, unsafe.Pointer(x.c), unsafe.Pointer(w.c), C.double(eps))
	runtime.KeepAlive(x)
	runtime.KeepAlive(w)
	if err := fusedErr("rms_norm", msg); err != nil {
		s.Fail(err)
		return nil
	}
	return s.Own(&Tensor{c: lib.Ctensor(out)})
}

// RMSNormOK reports whether RMSNorm takes x and w: float32 CPU tensors,
// w a contiguous [D] for a non-empty x [..., D].
func RMSNormOK(x, w *Tensor) bool {
	if x == nil || w == nil || x.c == nil || w.c == nil {
		return false
	}
	for _, t := range []*Tensor{x, w} {
		if t.Device() != CPU || t.DType() != Float32 {
			return false
		}
	}
	xs, ws := x.Shape(), w.Shape()
	return len(xs) >= 1 && len(ws) == 1 && ws[0] == xs[len(xs)-1] && ws[0] > 0 && x.Numel() > 0 &&
		lib.AtIsContiguous(w.c)
}
