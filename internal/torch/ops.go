package torch

import (
	lib "github.com/sugarme/gotch/libtch"
)

func b32(b bool) int32 {
	if b {
		return 1
	}
	return 0
}

// undefined is a process-wide undefined tensor, passed where libtorch takes an optional tensor.
var undefined lib.Ctensor

func none() lib.Ctensor {
	if undefined == nil {
		undefined = lib.AtNewTensor()
	}
	return undefined
}

func opt(t *Tensor) lib.Ctensor {
	if t == nil || t.c == nil {
		return none()
	}
	return t.c
}

// ---- creation ----

// Zeros returns a zero tensor.
func (s *Scope) Zeros(shape []int64, dtype DType, dev Device) *Tensor {
	if !s.ok("zeros") {
		return nil
	}
	var out lib.Ctensor
	lib.AtgZeros(&out, shape, len(shape), int32(dtype), int32(dev))
	return s.wrap("zeros", out)
}

// Empty returns an uninitialised tensor (for buffers that are written before
// they are read).
func (s *Scope) Empty(shape []int64, dtype DType, dev Device) *Tensor {
	if !s.ok("empty") {
		return nil
	}
	var out lib.Ctensor
	lib.AtgEmpty(&out, shape, len(shape), int32(dtype), int32(dev))
	return s.wrap("empty", out)
}

// Ones returns a tensor of ones.
func (s *Scope) Ones(shape []int64, dtype DType, dev Device) *Tensor {
	if !s.ok("ones") {
		return nil
	}
	var out lib.Ctensor
	lib.AtgOnes(&out, shape, len(shape), int32(dtype), int32(dev))
	return s.wrap("ones", out)
}

// Full returns a tensor filled with v.
func (s *Scope) Full(shape []int64, v float64, dtype DType, dev Device) *Tensor {
	if !s.ok("full") {
		return nil
	}
	sc := lib.AtsFloat(v)
	defer lib.AtsFree(sc)
	var out lib.Ctensor
	lib.AtgFull(&out, shape, len(shape), sc, int32(dtype), int32(dev))
	return s.wrap("full", out)
}

// Arange returns [start, end) with step 1.
func (s *Scope) Arange(start, end int64, dtype DType, dev Device) *Tensor {
	if !s.ok("arange") {
		return nil
	}
	a, b := lib.AtsInt(start), lib.AtsInt(end)
	defer lib.AtsFree(a)
	defer lib.AtsFree(b)
	var out lib.Ctensor
	lib.AtgArangeStart(&out, a, b, int32(dtype), int32(dev))
	return s.wrap("arange", out)
}

// Float32 makes a tensor from Go data, owned by the scope.
func (s *Scope) Float32(data []float32, shape ...int64) *Tensor {
	if !s.ok("from_float32") {
		return nil
	}
	t, err := FromFloat32(data, shape...)
	if err != nil {
		s.Fail(err)
		return nil
	}
	return s.Own(t)
}

// Int64 makes a tensor from Go data, owned by the scope.
func (s *Scope) Int64(data []int64, shape ...int64) *Tensor {
	if !s.ok("from_int64") {
		return nil
	}
	t, err := FromInt64(data, shape...)
	if err != nil {
		s.Fail(err)
		return nil
	}
	return s.Own(t)
}

// ---- conversion and layout ----

// To converts dtype and device (a no-op copy-free view when already there).
func (s *Scope) To(x *Tensor, dtype DType, dev Device) *Tensor {
	if !s.ok("to", x) {
		return nil
	}
	var out lib.Ctensor
	if x.Device() != dev {
		lib.AtgTo(&out, x.c, int32(dev))
		moved := s.wrap("to(device)", out)
		if moved == nil {
			return nil
		}
		x = moved
	}
	lib.AtgToDtype(&out, x.c, int32(dtype), 0, 0)
	return s.wrap("to(dtype)", out)
}

// Contiguous returns x laid out contiguously.
func (s *Scope) Contiguous(x *Tensor) *Tensor {
	if !s.ok("contiguous", x) {
		return nil
	}
	var out lib.Ctensor
	lib.AtgContiguous(&out, x.c)
	return s.wrap("contiguous", out)
}

// View reshapes without copying (x must be viewable).
func (s *Scope) View(x *Tensor, shape ...int64) *Tensor {
	if !s.ok("view", x) {
		return nil
	}
	var out lib.Ctensor
	lib.AtgView(&out, x.c, shape, len(shape))
	return s.wrap("view", out)
}

// Reshape reshapes, copying when needed.
func (s *Scope) Reshape(x *Tensor, shape ...int64) *Tensor {
	if !s.ok("reshape", x) {
		return nil
	}
	var out lib.Ctensor
	lib.AtgReshape(&out, x.c, shape, len(shape))
	return s.wrap("reshape", out)
}

// Permute reorders dimensions.
func (s *Scope) Permute(x *Tensor, dims ...int64) *Tensor {
	if !s.ok("permute", x) {
		return nil
	}
	var out lib.Ctensor
	lib.AtgPermute(&out, x.c, dims, len(dims))
	return s.wrap("permute", out)
}

// Transpose swaps two dimensions.
func (s *Scope) Transpose(x *Tensor, d0, d1 int64) *Tensor {
	if !s.ok("transpose", x) {
		return nil
	}
	var out lib.Ctensor
	lib.AtgTranspose(&out, x.c, d0, d1)
	return s.wrap("transpose", out)
}

// Narrow returns x[..., start:start+length, ...] along dim (a view).
func (s *Scope) Narrow(x *Tensor, dim, start, length int64) *Tensor {
	if !s.ok("narrow", x) {
		return nil
	}
	var out lib.Ctensor
	lib.AtgNarrow(&out, x.c, dim, start, length)
	return s.wrap("narrow", out)
}

// Select returns x[..., index, ...] along dim, dropping that dimension.
func (s *Scope) Select(x *Tensor, dim, index int64) *Tensor {
	if !s.ok("select", x) {
		return nil
	}
	var out lib.Ctensor
	lib.AtgSelect(&out, x.c, dim, index)
	return s.wrap("select", out)
}

// Unsqueeze inserts a dimension of size 1.
func (s *Scope) Unsqueeze(x *Tensor, dim int64) *Tensor {
	if !s.ok("unsqueeze", x) {
		return nil
	}
	var out lib.Ctensor
	lib.AtgUnsqueeze(&out, x.c, dim)
	return s.wrap("unsqueeze", out)
}

// Cat concatenates along dim.
func (s *Scope) Cat(dim int64, xs ...*Tensor) *Tensor {
	if !s.ok("cat", xs...) {
		return nil
	}
	cs := make([]lib.Ctensor, len(xs))
	for i, x := range xs {
		cs[i] = x.c
	}
	var out lib.Ctensor
	lib.AtgCat(&out, cs, len(cs), dim)
	return s.wrap("cat", out)
}

// Detach returns x cut from the autograd graph.
func (s *Scope) Detach(x *Tensor) *Tensor {
	if !s.ok("detach", x) {
		return nil
	}
	var out lib.Ctensor
	lib.AtgDetach(&out, x.c)
	return s.wrap("detach", out)
}

// IndexSelect gathers rows of x along dim at the int64 indices idx.
func (s *Scope) IndexSelect(x *Tensor, dim int64, idx *Tensor) *Tensor {
	if !s.ok("index_select", x, idx) {
		return nil
	}
	var out lib.Ctensor
	lib.AtgIndexSelect(&out, x.c, dim, idx.c)
	return s.wrap("index_select", out)
}

// Gather picks x's values along dim at idx (same rank as x).
func (s *Scope) Gather(x *Tensor, dim int64, idx *Tensor) *Tensor {
	if !s.ok("gather", x, idx) {
		return nil
	}
	var out lib.Ctensor
	lib.AtgGather(&out, x.c, dim, idx.c, 0)
	return s.wrap("gather", out)
}

// ---- arithmetic ----

// Add returns a + b (broadcasting).
func (s *Scope) Add(a, b *Tensor) *Tensor {
	if !s.ok("add", a, b) {
		return nil
	}
	var out lib.Ctensor
	lib.AtgAdd(&out, a.c, b.c)
	return s.wrap("add", out)
}

// Sub returns a − b.
func (s *Scope) Sub(a, b *Tensor) *Tensor {
	if !s.ok("sub", a, b) {
		return nil
	}
	var out lib.Ctensor
	lib.AtgSub(&out, a.c, b.c)
	return s.wrap("sub", out)
}

// Mul returns a · b elementwise.
func (s *Scope) Mul(a, b *Tensor) *Tensor {
	if !s.ok("mul", a, b) {
		return nil
	}
	var out lib.Ctensor
	lib.AtgMul(&out, a.c, b.c)
	return s.wrap("mul", out)
}

// Div returns a / b elementwise.
func (s *Scope) Div(a, b *Tensor) *Tensor {
	if !s.ok("div", a, b) {
		return nil
	}
	var out lib.Ctensor
	lib.AtgDiv(&out, a.c, b.c)
	return s.wrap("div", out)
}

// MulScalar returns x · v.
func (s *Scope) MulScalar(x *Tensor, v float64) *Tensor {
	if !s.ok("mul_scalar", x) {
		return nil
	}
	sc := lib.AtsFloat(v)
	defer lib.AtsFree(sc)
	var out lib.Ctensor
	lib.AtgMulScalar(&out, x.c, sc)
	return s.wrap("mul_scalar", out)
}

// AddScalar returns x + v.
func (s *Scope) AddScalar(x *Tensor, v float64) *Tensor {
	if !s.ok("add_scalar", x) {
		return nil
	}
	sc := lib.AtsFloat(v)
	defer lib.AtsFree(sc)
	var out lib.Ctensor
	lib.AtgAddScalar(&out, x.c, sc)
	return s.wrap("add_scalar", out)
}

// Neg returns −x.
func (s *Scope) Neg(x *Tensor) *Tensor { return s.unary("neg", lib.AtgNeg, x) }

// Cos returns cos(x).
func (s *Scope) Cos(x *Tensor) *Tensor { return s.unary("cos", lib.AtgCos, x) }

// Sin returns sin(x).
func (s *Scope) Sin(x *Tensor) *Tensor { return s.unary("sin", lib.AtgSin, x) }

// Exp returns exp(x).
func (s *Scope) Exp(x *Tensor) *Tensor { return s.unary("exp", lib.AtgExp, x) }

// Log returns log(x).
func (s *Scope) Log(x *Tensor) *Tensor { return s.unary("log", lib.AtgLog, x) }

// Sqrt returns √x.
func (s *Scope) Sqrt(x *Tensor) *Tensor { return s.unary("sqrt", lib.AtgSqrt, x) }

// Rsqrt returns 1/√x.
func (s *Scope) Rsqrt(x *Tensor) *Tensor { return s.unary("rsqrt", lib.AtgRsqrt, x) }

// Square returns x².
func (s *Scope) Square(x *Tensor) *Tensor { return s.unary("square", lib.AtgSquare, x) }

// Reciprocal returns 1/x.
func (s *Scope) Reciprocal(x *Tensor) *Tensor { return s.unary("reciprocal", lib.AtgReciprocal, x) }

func (s *Scope) unary(name string, f func(*lib.Ctensor, lib.Ctensor), x *Tensor) *Tensor {
	if !s.ok(name, x) {
		return nil
	}
	var out lib.Ctensor
	f(&out, x.c)
	return s.wrap(name, out)
}

// PowScalarBase returns base^x elementwise.
func (s *Scope) PowScalarBase(base float64, x *Tensor) *Tensor {
	if !s.ok("pow", x) {
		return nil
	}
	sc := lib.AtsFloat(base)
	defer lib.AtsFree(sc)
	var out lib.Ctensor
	lib.AtgPowScalar(&out, sc, x.c)
	return s.wrap("pow", out)
}

// Outer returns the outer product of two vectors.
func (s *Scope) Outer(a, b *Tensor) *Tensor {
	if !s.ok("outer", a, b) {
		return nil
	}
	var out lib.Ctensor
	lib.AtgOuter(&out, a.c, b.c)
	return s.wrap("outer", out)
}

// Addcmul returns x + a·b elementwise (broadcasting), in one pass.
func (s *Scope) Addcmul(x, a, b *Tensor) *Tensor {
	if !s.ok("addcmul", x, a, b) {
		return nil
	}
	var out lib.Ctensor
	lib.AtgAddcmul(&out, x.c, a.c, b.c)
	return s.wrap("addcmul", out)
}

// ---- reductions ----

// Sum returns the sum of all elements (as dtype).
func (s *Scope) Sum(x *Tensor, dtype DType) *Tensor {
	if !s.ok("sum", x) {
		return nil
	}
	var out lib.Ctensor
	lib.AtgSum(&out, x.c, int32(dtype))
	return s.wrap("sum", out)
}

// SumDim sums over dims.
func (s *Scope) SumDim(x *Tensor, keepdim bool, dims ...int64) *Tensor {
	if !s.ok("sum_dim", x) {
		return nil
	}
	var out lib.Ctensor
	lib.AtgSumDimIntlist(&out, x.c, dims, len(dims), b32(keepdim), int32(x.DType()))
	return s.wrap("sum_dim", out)
}

// Mean returns the mean of all elements.
func (s *Scope) Mean(x *Tensor) *Tensor {
	if !s.ok("mean", x) {
		return nil
	}
	var out lib.Ctensor
	lib.AtgMean(&out, x.c, int32(x.DType()))
	return s.wrap("mean", out)
}

// MeanDim averages over dims.
func (s *Scope) MeanDim(x *Tensor, keepdim bool, dims ...int64) *Tensor {
	if !s.ok("mean_dim", x) {
		return nil
	}
	var out lib.Ctensor
	lib.AtgMeanDim(&out, x.c, dims, len(dims), b32(keepdim), int32(x.DType()))
	return s.wrap("mean_dim", out)
}

// Norm returns the 2-norm of all elements.
func (s *Scope) Norm(x *Tensor) *Tensor { return s.unary("norm", lib.AtgNorm, x) }

// Argmax returns the index of the maximum along dim.
func (s *Scope) Argmax(x *Tensor, dim int64, keepdim bool) *Tensor {
	if !s.ok("argmax", x) {
		return nil
	}
	var out lib.Ctensor
	lib.AtgArgmax(&out, x.c, dim, 0, b32(keepdim))
	return s.wrap("argmax", out)
}

// LogSumExp reduces over dim.
func (s *Scope) LogSumExp(x *Tensor, dim int64, keepdim bool) *Tensor {
	if !s.ok("logsumexp", x) {
		return nil
	}
	var out lib.Ctensor
	d := []int64{dim}
	lib.AtgLogsumexp(&out, x.c, d, 1, b32(keepdim))
	return s.wrap("logsumexp", out)
}

// ---- neural network ----

// Linear returns x·wᵀ + b (b may be nil).
func (s *Scope) Linear(x, w, b *Tensor) *Tensor {
	if !s.ok("linear", x, w) {
		return nil
	}
	var out lib.Ctensor
	lib.AtgLinear(&out, x.c, w.c, opt(b))
	return s.wrap("linear", out)
}

// Matmul returns a·b with broadcasting.
func (s *Scope) Matmul(a, b *Tensor) *Tensor {
	if !s.ok("matmul", a, b) {
		return nil
	}
	var out lib.Ctensor
	lib.AtgMatmul(&out, a.c, b.c)
	return s.wrap("matmul", out)
}

// LayerNorm normalises over the last dimension with weight w and bias b.
func (s *Scope) LayerNorm(x, w, b *Tensor, eps float64) *Tensor {
	if !s.ok("layer_norm", x, w) {
		return nil
	}
	shape := x.Shape()
	last := []int64{shape[len(shape)-1]}
	var out lib.Ctensor
	lib.AtgLayerNorm(&out, x.c, last, 1, w.c, opt(b), eps, 1)
	return s.wrap("layer_norm", out)
}

// Embedding looks up rows of w at the int64 ids.
func (s *Scope) Embedding(w, ids *Tensor) *Tensor {
	if !s.ok("embedding", w, ids) {
		return nil
	}
	var out lib.Ctensor
	lib.AtgEmbedding(&out, w.c, ids.c, -1, 0, 0)
	return s.wrap("embedding", out)
}

// Softmax over dim, computed in dtype.
func (s *Scope) Softmax(x *Tensor, dim int64, dtype DType) *Tensor {
	if !s.ok("softmax", x) {
		return nil
	}
	var out lib.Ctensor
	lib.AtgSoftmax(&out, x.c, dim, int32(dtype))
	return s.wrap("softmax", out)
}

// LogSoftmax over dim, computed in dtype.
func (s *Scope) LogSoftmax(x *Tensor, dim int64, dtype DType) *Tensor {
	if !s.ok("log_softmax", x) {
		return nil
	}
	var out lib.Ctensor
	lib.AtgLogSoftmax(&out, x.c, dim, int32(dtype))
	return s.wrap("log_softmax", out)
}

// Attention is scaled dot-product attention softmax(q·kᵀ·scale + mask)·v
// over [B, heads, T, D] tensors; mask (optional) is boolean (true = keep) or
// additive float, broadcastable to [B, heads, T, S].
func (s *Scope) Attention(q, k, v, mask *Tensor, causal bool, scale float64) *Tensor {
	if !s.ok("scaled_dot_product_attention", q, k, v) {
		return nil
	}
	var out lib.Ctensor
	lib.AtgScaledDotProductAttention(&out, q.c, k.c, v.c, opt(mask), 0, b32(causal), scale, 0)
	return s.wrap("scaled_dot_product_attention", out)
}

// CrossEntropySum returns the summed cross-entropy of logits [N, V] against
// int64 targets [N], skipping targets equal to ignoreIndex.
func (s *Scope) CrossEntropySum(logits, targets *Tensor, ignoreIndex int64) *Tensor {
	if !s.ok("cross_entropy", logits, targets) {
		return nil
	}
	var out lib.Ctensor
	lib.AtgCrossEntropyLoss(&out, logits.c, targets.c, none(), 2 /* sum */, ignoreIndex, 0)
	return s.wrap("cross_entropy", out)
}

// MaskedFill returns x with v where mask is true.
func (s *Scope) MaskedFill(x, mask *Tensor, v float64) *Tensor {
	if !s.ok("masked_fill", x, mask) {
		return nil
	}
	sc := lib.AtsFloat(v)
	defer lib.AtsFree(sc)
	var out lib.Ctensor
	lib.AtgMaskedFill(&out, x.c, mask.c, sc)
	return s.wrap("masked_fill", out)
}

// Tril keeps the lower triangle (diagonal offset d).
func (s *Scope) Tril(x *Tensor, d int64) *Tensor {
	if !s.ok("tril", x) {
		return nil
	}
	var out lib.Ctensor
	lib.AtgTril(&out, x.c, d)
	return s.wrap("tril", out)
}

// ClampMin returns max(x, v).
func (s *Scope) ClampMin(x *Tensor, v float64) *Tensor {
	if !s.ok("clamp_min", x) {
		return nil
	}
	sc := lib.AtsFloat(v)
	defer lib.AtsFree(sc)
	var out lib.Ctensor
	lib.AtgClampMin(&out, x.c, sc)
	return s.wrap("clamp_min", out)
}

// Randn returns standard normal samples from libtorch's generator.
func (s *Scope) Randn(shape []int64, dtype DType, dev Device) *Tensor {
	if !s.ok("randn") {
		return nil
	}
	var out lib.Ctensor
	lib.AtgRandn(&out, shape, len(shape), int32(dtype), int32(dev))
	return s.wrap("randn", out)
}

// ---- in place (optimizers, caches) ----

// AddInPlace does x += a.
func (s *Scope) AddInPlace(x, a *Tensor) {
	if !s.ok("add_", x, a) {
		return
	}
	var out lib.Ctensor
	lib.AtgAdd_(&out, x.c, a.c)
	s.inplace("add_", out)
}

// SubInPlace does x −= a.
func (s *Scope) SubInPlace(x, a *Tensor) {
	if !s.ok("sub_", x, a) {
		return
	}
	var out lib.Ctensor
	lib.AtgSub_(&out, x.c, a.c)
	s.inplace("sub_", out)
}

// MulInPlace does x *= a.
func (s *Scope) MulInPlace(x, a *Tensor) {
	if !s.ok("mul_", x, a) {
		return
	}
	var out lib.Ctensor
	lib.AtgMul_(&out, x.c, a.c)
	s.inplace("mul_", out)
}

// MulScalarInPlace does x *= v.
func (s *Scope) MulScalarInPlace(x *Tensor, v float64) {
	if !s.ok("mul_scalar_", x) {
		return
	}
	sc := lib.AtsFloat(v)
	defer lib.AtsFree(sc)
	var out lib.Ctensor
	lib.AtgMulScalar_(&out, x.c, sc)
	s.inplace("mul_scalar_", out)
}

// AddcmulInPlace does x += a·b.
func (s *Scope) AddcmulInPlace(x, a, b *Tensor) {
	if !s.ok("addcmul_", x, a, b) {
		return
	}
	var out lib.Ctensor
	lib.AtgAddcmul_(&out, x.c, a.c, b.c)
	s.inplace("addcmul_", out)
}

// AddcdivInPlace does x += a/b.
func (s *Scope) AddcdivInPlace(x, a, b *Tensor) {
	if !s.ok("addcdiv_", x, a, b) {
		return
	}
	var out lib.Ctensor
	lib.AtgAddcdiv_(&out, x.c, a.c, b.c)
	s.inplace("addcdiv_", out)
}

// LerpInPlace does x += w·(end − x).
func (s *Scope) LerpInPlace(x, end *Tensor, w float64) {
	if !s.ok("lerp_", x, end) {
		return
	}
	sc := lib.AtsFloat(w)
	defer lib.AtsFree(sc)
	var out lib.Ctensor
	lib.AtgLerp_(&out, x.c, end.c, sc)
	s.inplace("lerp_", out)
}

// ZeroInPlace sets x to zero.
func (s *Scope) ZeroInPlace(x *Tensor) {
	if !s.ok("zero_", x) {
		return
	}
	var out lib.Ctensor
	lib.AtgZero_(&out, x.c)
	s.inplace("zero_", out)
}

// Copy copies src into dst in place.
func (s *Scope) Copy(dst, src *Tensor) {
	if !s.ok("copy_", dst, src) {
		return
	}
	s.Fail(dst.CopyFrom(src))
}

// NormalInPlace fills x with N(mean, std²) samples.
func (s *Scope) NormalInPlace(x *Tensor, mean, std float64) {
	if !s.ok("normal_", x) {
		return
	}
	var out lib.Ctensor
	lib.AtgNormal_(&out, x.c, mean, std)
	s.inplace("normal_", out)
}
