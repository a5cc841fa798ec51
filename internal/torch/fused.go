package torch

// Training kernels gotch does not bind, written against ATen in fused.cpp
// (declared in fused.h): the fused loss head, the fused AdamW step, the
// gradient norm, set-to-none gradients and mask-free causal attention.

// #cgo CXXFLAGS: -std=c++17 -O3
// #cgo LDFLAGS: -ltorch_cpu -lc10
// #include <stdlib.h>
// #include "fused.h"
import "C"

import (
	"errors"
	"fmt"
	"runtime"
	"unsafe"

	lib "github.com/sugarme/gotch/libtch"
)

// fusedErr turns a fused.cpp error (malloc'd, or NULL) into a Go error.
func fusedErr(op string, msg *C.char) error {
	if msg == nil {
		return nil
	}
	defer C.free(unsafe.Pointer(msg))
	return fmt.Errorf("torch: %s: %w", op, errors.New(C.GoString(msg)))
}

// tensorArray copies tensor handles into a C array (an undefined tensor stands
// for nil) and returns it with the function that frees it.
func tensorArray(ts []*Tensor) (*unsafe.Pointer, func()) {
	p := C.malloc(C.size_t(max(1, len(ts))) * C.size_t(unsafe.Sizeof(unsafe.Pointer(nil))))
	arr := unsafe.Slice((*unsafe.Pointer)(p), max(1, len(ts)))
	for i, t := range ts {
		if t == nil || t.c == nil {
			arr[i] = unsafe.Pointer(none())
		} else {
			arr[i] = unsafe.Pointer(t.c)
		}
	}
	return (*unsafe.Pointer)(p), func() { C.free(p) }
}

// CrossEntropyOptions control LinearCrossEntropy.
type CrossEntropyOptions struct {
	// IgnoreIndex: targets equal to it add nothing to the loss (PyTorch's
	// ignore_index, −100 by default).
	IgnoreIndex int64
	// GradScale is the upstream gradient backward is expected to bring: the
	// factor the caller multiplies the loss by before calling Backward (for
	// example 1/(label tokens)). The gradients are made for it during the
	// forward pass; another upstream gradient costs one more pass over them.
	// 0 means 1.
	GradScale float64
	// ChunkRows is how many rows of logits exist at a time (0: equal chunks
	// of at most about 128 MB of logits each, or of up to 640 rows where
	// those take at most 512 MB: taller blocks for large vocabularies).
	ChunkRows int
}

// DefaultCrossEntropyOptions ignores −100 and expects an upstream gradient of 1.
func DefaultCrossEntropyOptions() CrossEntropyOptions {
	return CrossEntropyOptions{IgnoreIndex: -100, GradScale: 1}
}

// LinearCrossEntropy returns the summed cross-entropy of the logits x·wᵀ
// (x [N, H], w [V, H], no bias) against int64 targets [N]: the same value
// and gradients as CrossEntropySum(Linear(x, w, nil), targets) without
// materialising the [N, V] logits, their log-softmax and its gradient.
// Rows go through in chunks; rows whose target is ignored skip the matrix
// products. Under autograd the gradients of x and w are computed during
// this call (one set of matrix products for forward and backward) and held
// until Backward; without grad mode only the loss is computed.
func (s *Scope) LinearCrossEntropy(x, w, targets *Tensor, o CrossEntropyOptions) *Tensor {
	if !s.ok("linear_cross_entropy", x, w, targets) {
		return nil
	}
	scale := o.GradScale
	if scale == 0 {
		scale = 1
	}
	var out unsafe.Pointer
	msg := C.gl_linear_cross_entropy(&out, unsafe.Pointer(x.c), unsafe.Pointer(w.c), unsafe.Pointer(targets.c),
		C.int64_t(o.IgnoreIndex), C.double(scale), C.int64_t(o.ChunkRows))
	runtime.KeepAlive(x)
	runtime.KeepAlive(w)
	runtime.KeepAlive(targets)
	if err := fusedErr("linear_cross_entropy", msg); err != nil {
		s.Fail(err)
		return nil
	}
	return s.Own(&Tensor{c: lib.Ctensor(out)})
}

// CausalAttention is scaled dot-product attention with a causal mask
// (query i sees keys ≤ i) over [B, heads, T, D] tensors, passed to libtorch
// as is_causal with no mask tensor, so it may use its flash-attention
// kernel (an explicit mask forces the slower math path). For T == S only
// (no KV cache in front of the queries).
func (s *Scope) CausalAttention(q, k, v *Tensor, scale float64) *Tensor {
	if !s.ok("causal_attention", q, k, v) {
		return nil
	}
	var out unsafe.Pointer
	msg := C.gl_causal_attention(&out, unsafe.Pointer(q.c), unsafe.Pointer(k.c), unsafe.Pointer(v.c), C.double(scale))
	runtime.KeepAlive(q)
	runtime.KeepAlive(k)
	runtime.KeepAlive(v)
	if err := fusedErr("causal_attention", msg); err != nil {
		s.Fail(err)
		return nil
	}
	return s.Own(&Tensor{c: lib.Ctensor(out)})
}

// AdamWOptions are torch.optim.AdamW's hyper-parameters for one step.
type AdamWOptions struct {
	LR, Beta1, Beta2, Eps float64
	// WeightDecay is decoupled: p ← p·(1 − lr·wd) for parameters with Decay set.
	WeightDecay float64
	// Decay says per parameter whether weight decay applies (nil: all).
	Decay []bool
	// Step is the 1-based step count (for bias correction).
	Step int
	// GradScale multiplies every gradient before the update (gradient
	// clipping's coefficient); 0 means 1. The gradients are not modified.
	GradScale float64
}

// AdamW applies one AdamW step to params in place, reading grads and
// updating the moment estimates m (exp_avg) and v (exp_avg_sq): the update
// of torch.optim.AdamW (foreach=False) in one pass over each parameter
// instead of about ten tensor ops. A nil or undefined gradient skips its
// parameter.
func AdamW(params, grads, m, v []*Tensor, o AdamWOptions) error {
	n := len(params)
	if len(grads) != n || len(m) != n || len(v) != n || (o.Decay != nil && len(o.Decay) != n) {
		return fmt.Errorf("torch: adamw: %d params, %d grads, %d exp_avg, %d exp_avg_sq, %d decay flags", n, len(grads), len(m), len(v), len(o.Decay))
	}
	if o.Step < 1 {
		return fmt.Errorf("torch: adamw: step %d (must be ≥ 1)", o.Step)
	}
	if n == 0 {
		return nil
	}
	for i := range params {
		if params[i] == nil || params[i].c == nil || m[i] == nil || m[i].c == nil || v[i] == nil || v[i].c == nil {
			return fmt.Errorf("torch: adamw: parameter %d or its state is undefined", i)
		}
	}
	decay := C.malloc(C.size_t(n))
	defer C.free(decay)
	d := unsafe.Slice((*byte)(decay), n)
	for i := range d {
		d[i] = 1
		if o.Decay != nil && !o.Decay[i] {
			d[i] = 0
		}
	}
	scale := o.GradScale
	if scale == 0 {
		scale = 1
	}
	ps, freeP := tensorArray(params)
	defer freeP()
	gs, freeG := tensorArray(grads)
	defer freeG()
	ms, freeM := tensorArray(m)
	defer freeM()
	vs, freeV := tensorArray(v)
	defer freeV()
	msg := C.gl_adamw(ps, gs, ms, vs, (*C.uint8_t)(decay), C.int(n),
		C.double(o.LR), C.double(o.Beta1), C.double(o.Beta2), C.double(o.Eps), C.double(o.WeightDecay),
		C.int64_t(o.Step), C.double(scale))
	runtime.KeepAlive(params)
	runtime.KeepAlive(grads)
	runtime.KeepAlive(m)
	runtime.KeepAlive(v)
	return fusedErr("adamw", msg)
}

// GradNorm returns the total 2-norm of grads as
// torch.nn.utils.clip_grad_norm_ computes it (the norm of the per-tensor
// norms, in float32), in one call. Nil or undefined gradients are skipped.
func GradNorm(grads []*Tensor) (float64, error) {
	if len(grads) == 0 {
		return 0, nil
	}
	gs, free := tensorArray(grads)
	defer free()
	var out C.double
	msg := C.gl_grad_norm(gs, C.int(len(grads)), &out)
	runtime.KeepAlive(grads)
	return float64(out), fusedErr("grad_norm", msg)
}

// DropGrad sets t's gradient to undefined, as PyTorch's
// zero_grad(set_to_none=True) does: the next backward then stores its
// gradient directly instead of adding it into a zeroed buffer (one pass
// less over every gradient, and no pass to zero them).
func (t *Tensor) DropGrad() error {
	if t == nil || t.c == nil {
		return errors.New("torch: drop_grad: undefined tensor")
	}
	return fusedErr("drop_grad", C.gl_drop_grad(unsafe.Pointer(t.c)))
}
