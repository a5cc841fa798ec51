package torch

// #include "blas.h"
// #include "decode_attention.h"
import "C"

import (
	"fmt"
	"runtime"

	lib "github.com/sugarme/gotch/libtch"
)

// DecodeAttention is GPT-NeoX self-attention for one new position per row
// that may see every earlier position (incremental decoding without padding),
// from the fused QKV projection to the merged heads, in one call:
//
//   - qkv [B, 1, nh·3·hs] is the query_key_value output, per head q|k|v;
//   - q and k are rotated with row past of the rotary tables cos, sin
//     [P, hs] (laid out as the model's: cos|1 and (−sin_a)|sin_b|0 over the
//     first rot values; rot 0 means no rotary);
//   - k and v are written into the caches kCache, vCache [B, nh, cap, hs] at
//     position past;
//   - the result is softmax(q·kᵀ·scale)·v over positions 0…past, heads
//     merged: [B, 1, nh·hs].
//
// Speed helper: it replaces the 25 small libtorch ops per layer of the
// general path (views, index_select, mul, addcmul, selects, permutes, two
// cache copies, two matmuls, softmax, reshape). On the data a weight product
// has just evicted from the caches their fixed costs add up to a large share
// of a small model's token (bench/decode); this runs the same arithmetic in C and BLAS
// (sgemv) on a few kilobytes. Use DecodeAttentionOK first; everything else
// (prefill, padding masks, autograd, other dtypes, GPUs) takes the general
// path.
func (s *Scope) DecodeAttention(qkv, cos, sin *Tensor, rot int, kCache, vCache *Tensor, past int64, scale float64) *Tensor {
	if !s.ok("decode_attention", qkv, kCache, vCache) {
		return nil
	}
	if !DecodeAttentionOK(qkv, cos, sin, rot, kCache, vCache, past) {
		s.Failf("torch: decode_attention: inputs it does not take (check DecodeAttentionOK)")
		return nil
	}
	cs := kCache.Shape()
	B, nh, capacity, hs := cs[0], cs[1], cs[2], cs[3]
	y := s.attentionOut("decode_attention", B, nh*hs)
	if y == nil {
		return nil
	}
	cp, sp := tablePointers(cos, sin, rot)
	prev := C.glm_blas_sequential(1, 0)
	rc := C.glm_decode_attention((*C.float)(lib.AtDataPtr(qkv.c)), cp, sp, C.int(rot),
		(*C.float)(lib.AtDataPtr(kCache.c)), (*C.float)(lib.AtDataPtr(vCache.c)), (*C.float)(lib.AtDataPtr(y.c)),
		C.int(B), C.int(nh), C.int(hs), C.int64_t(capacity), C.int64_t(past), C.float(scale))
	C.glm_blas_sequential(0, prev)
	runtime.KeepAlive(qkv)
	runtime.KeepAlive(cos)
	runtime.KeepAlive(sin)
	runtime.KeepAlive(kCache)
	runtime.KeepAlive(vCache)
	if rc != 0 {
		s.Failf("torch: decode_attention: out of memory for %d positions", past+1)
		return nil
	}
	return y
}

// DecodeAttentionOK reports whether DecodeAttention takes these inputs:
// float32 CPU contiguous tensors of matching shapes, past inside the cache
// and the tables, no gradient to record, and libtorch's BLAS present.
func DecodeAttentionOK(qkv, cos, sin *Tensor, rot int, kCache, vCache *Tensor, past int64) bool {
	if !rowLinearAvailable() || qkv == nil || kCache == nil || vCache == nil {
		return false
	}
	ts := []*Tensor{qkv, kCache, vCache}
	if rot > 0 {
		if cos == nil || sin == nil {
			return false
		}
		ts = append(ts, cos, sin)
	}
	if !fusedInputsOK(ts) {
		return false
	}
	cs, vs, qs := kCache.Shape(), vCache.Shape(), qkv.Shape()
	if len(cs) != 4 || fmt.Sprint(cs) != fmt.Sprint(vs) || len(qs) != 3 {
		return false
	}
	B, nh, capacity, hs := cs[0], cs[1], cs[2], cs[3]
	if qs[0] != B || qs[1] != 1 || qs[2] != 3*nh*hs || past < 0 || past >= capacity || int64(rot) > hs || rot%2 != 0 {
		return false
	}
	return rotaryTablesOK(cos, sin, rot, hs, past) && !needsGrad(ts)
}

// DecodeAttentionGrouped is DecodeAttention for the Llama-style families:
// grouped-query attention of one new position per row over the KV cache,
// from the concatenated projections to the merged heads, in one call:
//
//   - qkv [B, 1, (nh + 2·nkv)·hs] is the query, key and value projections
//     side by side (RowLinearCat), each with its heads in order;
//   - qNorm, kNorm [hs] (nil: none) are Qwen3's per-head RMSNorm weights,
//     applied with eps before the rotary;
//   - q and k are rotated with row past of the rotary tables cos, sin [P, hs]
//     (the model's layout; rot 0: none);
//   - k and v are written into the caches kCache, vCache [B, nkv, cap, hs]
//     at position past;
//   - the result is softmax(q·kᵀ·scale)·v over positions 0…past, query head
//     h reading key/value head h/(nh/nkv), heads merged: [B, 1, nh·hs].
//
// Speed helper: it replaces the views, norms, two rotaries, permutes, two
// cache copies and attention ops of the general path (about 15 small
// libtorch ops per layer and token). Use DecodeAttentionGroupedOK first.
func (s *Scope) DecodeAttentionGrouped(qkv, cos, sin *Tensor, rot int, qNorm, kNorm *Tensor, eps float64,
	kCache, vCache *Tensor, past int64, scale float64) *Tensor {
	if !s.ok("decode_attention_grouped", qkv, kCache, vCache) {
		return nil
	}
	if !DecodeAttentionGroupedOK(qkv, cos, sin, rot, qNorm, kNorm, kCache, vCache, past) {
		s.Failf("torch: decode_attention_grouped: inputs it does not take (check DecodeAttentionGroupedOK)")
		return nil
	}
	cs := kCache.Shape()
	B, nkv, capacity, hs := cs[0], cs[1], cs[2], cs[3]
	nh := qkv.Shape()[2]/hs - 2*nkv
	y := s.attentionOut("decode_attention_grouped", B, nh*hs)
	if y == nil {
		return nil
	}
	cp, sp := tablePointers(cos, sin, rot)
	qn, kn := normPointers(qNorm, kNorm)
	prev := C.glm_blas_sequential(1, 0)
	rc := C.glm_decode_attention_grouped((*C.float)(lib.AtDataPtr(qkv.c)), cp, sp, C.int(rot), qn, kn, C.float(eps),
		(*C.float)(lib.AtDataPtr(kCache.c)), (*C.float)(lib.AtDataPtr(vCache.c)), (*C.float)(lib.AtDataPtr(y.c)),
		C.int(B), C.int(nh), C.int(nkv), C.int(hs), C.int64_t(capacity), C.int64_t(past), C.float(scale))
	C.glm_blas_sequential(0, prev)
	runtime.KeepAlive(qkv)
	runtime.KeepAlive(cos)
	runtime.KeepAlive(sin)
	runtime.KeepAlive(qNorm)
	runtime.KeepAlive(kNorm)
	runtime.KeepAlive(kCache)
	runtime.KeepAlive(vCache)
	if rc != 0 {
		s.Failf("torch: decode_attention_grouped: out of memory for %d positions", past+1)
		return nil
	}
	return y
}

// DecodeAttentionGroupedOK reports whether DecodeAttentionGrouped takes
// these inputs: float32 CPU contiguous tensors of matching shapes (qNorm
// and kNorm both nil or both [hs]), nh a multiple of nkv, past inside the
// cache and the tables, no gradient to record, and libtorch's BLAS present.
func DecodeAttentionGroupedOK(qkv, cos, sin *Tensor, rot int, qNorm, kNorm, kCache, vCache *Tensor, past int64) bool {
	if !rowLinearAvailable() || qkv == nil || kCache == nil || vCache == nil || (qNorm == nil) != (kNorm == nil) {
		return false
	}
	ts := []*Tensor{qkv, kCache, vCache}
	if rot > 0 {
		if cos == nil || sin == nil {
			return false
		}
		ts = append(ts, cos, sin)
	}
	if qNorm != nil {
		ts = append(ts, qNorm, kNorm)
	}
	if !fusedInputsOK(ts) {
		return false
	}
	cs, vs, qs := kCache.Shape(), vCache.Shape(), qkv.Shape()
	if len(cs) != 4 || fmt.Sprint(cs) != fmt.Sprint(vs) || len(qs) != 3 {
		return false
	}
	B, nkv, capacity, hs := cs[0], cs[1], cs[2], cs[3]
	if nkv < 1 || hs < 1 || qs[0] != B || qs[1] != 1 || qs[2]%hs != 0 {
		return false
	}
	nh := qs[2]/hs - 2*nkv
	if nh < nkv || nh%nkv != 0 || past < 0 || past >= capacity || int64(rot) > hs || rot%2 != 0 {
		return false
	}
	if qNorm != nil {
		if qn, kn := qNorm.Shape(), kNorm.Shape(); len(qn) != 1 || qn[0] != hs || len(kn) != 1 || kn[0] != hs {
			return false
		}
	}
	return rotaryTablesOK(cos, sin, rot, hs, past) && !needsGrad(ts)
}

// fusedInputsOK reports whether the fused decode calls can read ts in place:
// defined, contiguous float32 tensors on the CPU.
func fusedInputsOK(ts []*Tensor) bool {
	for _, t := range ts {
		if t.c == nil || t.Device() != CPU || t.DType() != Float32 || !lib.AtIsContiguous(t.c) {
			return false
		}
	}
	return true
}

// rotaryTablesOK reports whether cos and sin [positions, hs] cover position
// past for rot rotary dimensions (rot 0: no rotary, no tables needed).
func rotaryTablesOK(cos, sin *Tensor, rot int, hs, past int64) bool {
	if rot == 0 {
		return true
	}
	ct, st := cos.Shape(), sin.Shape()
	return len(ct) == 2 && fmt.Sprint(ct) == fmt.Sprint(st) && ct[1] == hs && past < ct[0]
}

// needsGrad reports whether autograd would have to see a call on ts: the
// fused calls record no graph.
func needsGrad(ts []*Tensor) bool {
	if !gradEnabled() {
		return false
	}
	for _, t := range ts {
		if t.RequiresGrad() {
			return true
		}
	}
	return false
}

// attentionOut allocates the merged heads [B, 1, width] of the fused
// attention call op.
func (s *Scope) attentionOut(op string, B, width int64) *Tensor {
	shape := []int64{B, 1, width}
	var out lib.Ctensor
	lib.AtgEmpty(&out, shape, len(shape), int32(Float32), int32(CPU))
	return s.wrap(op, out)
}

// tablePointers returns the rotary tables' data (nil without rotary).
func tablePointers(cos, sin *Tensor, rot int) (*C.float, *C.float) {
	if rot == 0 {
		return nil, nil
	}
	return (*C.float)(lib.AtDataPtr(cos.c)), (*C.float)(lib.AtDataPtr(sin.c))
}

// normPointers returns Qwen3's per-head norm weights' data (nil without).
func normPointers(qNorm, kNorm *Tensor) (*C.float, *C.float) {
	if qNorm == nil {
		return nil, nil
	}
	return (*C.float)(lib.AtDataPtr(qNorm.c)), (*C.float)(lib.AtDataPtr(kNorm.c))
}
