package torch

// #include <stdlib.h>
// #include "fused.h"
import "C"

import (
	"runtime"
	"unsafe"

	lib "github.com/sugarme/gotch/libtch"
)

// Rotary is GPT-NeoX's rotary embedding of x [B, T, heads, D] with tables
// cos, sin [1 or B, T, 1, D] laid out as cos|1 and (−sin_a)|sin_b|0 over the
// first rot values (model.ensureRotary): y = x·cos + swap(x)·sin, where swap
// exchanges the halves a, b of the first rot values and passes the rest
// through. It is one op, forward and backward (rotary.cpp), for float32 CPU
// tensors whose last dimension is contiguous (x may be a strided view, such
// as a slice of a fused QKV projection); RotaryOK says whether it applies.
//
// Speed helper for training: the same arithmetic as Mul, a Cat of three
// narrowed views and Addcmul, whose backward zero-fills and adds a tensor of
// x's size for every view (about 0.05 s of a 2.2 s pythia-70m step on 2
// cores); here the forward and the backward are one pass each.
func (s *Scope) Rotary(x, cos, sin *Tensor, rot int) *Tensor {
	if !s.ok("rotary", x, cos, sin) {
		return nil
	}
	var out unsafe.Pointer
	msg := C.gl_rotary(&out, unsafe.Pointer(x.c), unsafe.Pointer(cos.c), unsafe.Pointer(sin.c), C.int64_t(rot))
	runtime.KeepAlive(x)
	runtime.KeepAlive(cos)
	runtime.KeepAlive(sin)
	if err := fusedErr("rotary", msg); err != nil {
		s.Fail(err)
		return nil
	}
	return s.Own(&Tensor{c: lib.Ctensor(out)})
}

// RotaryOK reports whether Rotary takes x, cos and sin.
func RotaryOK(x, cos, sin *Tensor) bool {
	for _, t := range []*Tensor{x, cos, sin} {
		if t == nil || t.c == nil || t.Device() != CPU || t.DType() != Float32 || t.Dim() != 4 {
			return false
		}
	}
	xs, cs := x.Shape(), cos.Shape()
	var stride [4]int64
	lib.AtStride(x.c, unsafe.Pointer(&stride[0]))
	return stride[3] == 1 && lib.AtIsContiguous(cos.c) && lib.AtIsContiguous(sin.c) &&
		(cs[0] == 1 || cs[0] == xs[0]) && cs[1] == xs[1] && cs[2] == 1 && cs[3] == xs[3]
}
