package torch

/*
#include <math.h>
#include <stdint.h>

// glm_rms_norm_rows writes y = w ⊙ x·rsqrt(mean(x²) + eps) for each of the
// rows of x [rows, D] (float32; the sum of squares in double, then float as
// HF's float32 mean).
static void glm_rms_norm_rows(const float *x, const float *w, float *y, int64_t rows, int64_t D, float eps) {
	for (int64_t i = 0; i < rows; i++) {
		const float *xi = x + i * D;
		float *yi = y + i * D;
		double ss = 0;
		for (int64_t j = 0; j < D; j++) ss += (double)xi[j] * xi[j];
		float r = 1.0f / sqrtf((float)(ss / (double)D) + eps);
		for (int64_t j = 0; j < D; j++) yi[j] = w[j] * (xi[j] * r);
	}
}
*/
import "C"

import (
	"runtime"

	lib "github.com/sugarme/gotch/libtch"
)

// RMSNormRows returns w ⊙ x·rsqrt(mean(x²) + eps) over the last dimension
// of x [..., D] with w [D] (HF's LlamaRMSNorm in float32), in one pass. Speed
// helper for decoding: libtorch runs it as six ops (square, mean, add,
// rsqrt, two muls), each with its allocation and dispatch, on a few
// kilobytes; a Llama-style layer has two per token. Use RMSNormRowsOK first.
func (s *Scope) RMSNormRows(x, w *Tensor, eps float64) *Tensor {
	if !s.ok("rms_norm_rows", x, w) {
		return nil
	}
	if !RMSNormRowsOK(x, w) {
		s.Failf("torch: rms_norm_rows: inputs it does not take (check RMSNormRowsOK)")
		return nil
	}
	xs := x.Shape()
	D := xs[len(xs)-1]
	var out lib.Ctensor
	lib.AtgEmpty(&out, xs, len(xs), int32(Float32), int32(CPU))
	y := s.wrap("rms_norm_rows", out)
	if y == nil {
		return nil
	}
	C.glm_rms_norm_rows((*C.float)(lib.AtDataPtr(x.c)), (*C.float)(lib.AtDataPtr(w.c)), (*C.float)(lib.AtDataPtr(y.c)),
		C.int64_t(x.Numel()/D), C.int64_t(D), C.float(eps))
	runtime.KeepAlive(x)
	runtime.KeepAlive(w)
	return y
}

// RMSNormRowsOK reports whether RMSNormRows takes x and w: float32 CPU
// contiguous tensors, w [D] for x [..., D] of at most RowLinearMaxRows rows,
// and no gradient to record.
func RMSNormRowsOK(x, w *Tensor) bool {
	if x == nil || w == nil || x.c == nil || w.c == nil {
		return false
	}
	for _, t := range []*Tensor{x, w} {
		if t.Device() != CPU || t.DType() != Float32 || !lib.AtIsContiguous(t.c) {
			return false
		}
	}
	xs, ws := x.Shape(), w.Shape()
	if len(xs) < 1 || len(ws) != 1 || ws[0] != xs[len(xs)-1] || ws[0] == 0 {
		return false
	}
	if rows := x.Numel() / ws[0]; rows < 1 || rows > RowLinearMaxRows {
		return false
	}
	if gradEnabled() && (x.RequiresGrad() || w.RequiresGrad()) {
		return false
	}
	return true
}
