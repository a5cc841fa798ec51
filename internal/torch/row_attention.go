package torch

// #include "blas.h"
// #include "row_attention.h"
import "C"

import (
	"runtime"

	lib "github.com/sugarme/gotch/libtch"
)

// RowAttention is DecodeAttention for rows of different lengths (a
// continuous batch, whose rows joined at different times): row b holds its
// positions 0…past[b]−1 in cache columns 0…past[b]−1; its new token is
// position past[b] (rotary row past[b]), its key and value are written at
// column past[b], and it attends over columns 0…past[b]. Shapes as
// DecodeAttention's: qkv [B, 1, nh·3·hs] (per head q|k|v), caches [B, nh,
// cap, hs], result [B, 1, nh·hs].
//
// Speed helper: the general path for such rows attends over every column
// any row uses, with a mask per row, in about 30 small libtorch ops per
// layer; here each row reads only its own columns. Use RowAttentionOK first.
func (s *Scope) RowAttention(qkv, cos, sin *Tensor, rot int, kCache, vCache *Tensor, past []int64, scale float64) *Tensor {
	if !s.ok("row_attention", qkv, kCache, vCache) {
		return nil
	}
	if !RowAttentionOK(qkv, cos, sin, rot, kCache, vCache, past) {
		s.Failf("torch: row_attention: inputs it does not take (check RowAttentionOK)")
		return nil
	}
	cs := kCache.Shape()
	B, nh, capacity, hs := cs[0], cs[1], cs[2], cs[3]
	y := s.attentionOut("row_attention", B, nh*hs)
	if y == nil {
		return nil
	}
	cp, sp := tablePointers(cos, sin, rot)
	prev := C.glm_blas_sequential(1, 0)
	rc := C.glm_row_attention((*C.float)(lib.AtDataPtr(qkv.c)), cp, sp, C.int(rot),
		(*C.float)(lib.AtDataPtr(kCache.c)), (*C.float)(lib.AtDataPtr(vCache.c)), (*C.float)(lib.AtDataPtr(y.c)),
		C.int(B), C.int(nh), C.int(hs), C.int64_t(capacity), (*C.int64_t)(&past[0]), C.float(scale))
	C.glm_blas_sequential(0, prev)
	runtime.KeepAlive(qkv)
	runtime.KeepAlive(cos)
	runtime.KeepAlive(sin)
	runtime.KeepAlive(kCache)
	runtime.KeepAlive(vCache)
	if rc != 0 {
		s.Failf("torch: row_attention: out of memory")
		return nil
	}
	return y
}

// RowAttentionOK reports whether RowAttention takes these inputs: what
// DecodeAttentionOK asks, with one length per row, every one inside the
// cache and the rotary tables.
func RowAttentionOK(qkv, cos, sin *Tensor, rot int, kCache, vCache *Tensor, past []int64) bool {
	top, ok := rowLengthsOK(kCache, past)
	return ok && DecodeAttentionOK(qkv, cos, sin, rot, kCache, vCache, top)
}

// RowAttentionGrouped is DecodeAttentionGrouped for rows of different
// lengths, as RowAttention is DecodeAttention's: row b's new token is
// position past[b], written at column past[b], attending over columns
// 0…past[b]. Use RowAttentionGroupedOK first.
func (s *Scope) RowAttentionGrouped(qkv, cos, sin *Tensor, rot int, qNorm, kNorm *Tensor, eps float64,
	kCache, vCache *Tensor, past []int64, scale float64) *Tensor {
	if !s.ok("row_attention_grouped", qkv, kCache, vCache) {
		return nil
	}
	if !RowAttentionGroupedOK(qkv, cos, sin, rot, qNorm, kNorm, kCache, vCache, past) {
		s.Failf("torch: row_attention_grouped: inputs it does not take (check RowAttentionGroupedOK)")
		return nil
	}
	cs := kCache.Shape()
	B, nkv, capacity, hs := cs[0], cs[1], cs[2], cs[3]
	nh := qkv.Shape()[2]/hs - 2*nkv
	y := s.attentionOut("row_attention_grouped", B, nh*hs)
	if y == nil {
		return nil
	}
	cp, sp := tablePointers(cos, sin, rot)
	qn, kn := normPointers(qNorm, kNorm)
	prev := C.glm_blas_sequential(1, 0)
	rc := C.glm_row_attention_grouped((*C.float)(lib.AtDataPtr(qkv.c)), cp, sp, C.int(rot), qn, kn, C.float(eps),
		(*C.float)(lib.AtDataPtr(kCache.c)), (*C.float)(lib.AtDataPtr(vCache.c)), (*C.float)(lib.AtDataPtr(y.c)),
		C.int(B), C.int(nh), C.int(nkv), C.int(hs), C.int64_t(capacity), (*C.int64_t)(&past[0]), C.float(scale))
	C.glm_blas_sequential(0, prev)
	runtime.KeepAlive(qkv)
	runtime.KeepAlive(cos)
	runtime.KeepAlive(sin)
	runtime.KeepAlive(qNorm)
	runtime.KeepAlive(kNorm)
	runtime.KeepAlive(kCache)
	runtime.KeepAlive(vCache)
	if rc != 0 {
		s.Failf("torch: row_attention_grouped: out of memory")
		return nil
	}
	return y
}

// RowAttentionGroupedOK reports whether RowAttentionGrouped takes these
// inputs: what DecodeAttentionGroupedOK asks, with one length per row,
// every one inside the cache and the rotary tables.
func RowAttentionGroupedOK(qkv, cos, sin *Tensor, rot int, qNorm, kNorm, kCache, vCache *Tensor, past []int64) bool {
	top, ok := rowLengthsOK(kCache, past)
	return ok && DecodeAttentionGroupedOK(qkv, cos, sin, rot, qNorm, kNorm, kCache, vCache, top)
}

// rowLengthsOK reports whether past has one non-negative length per row of
// the cache [B, …], and returns the longest.
func rowLengthsOK(kCache *Tensor, past []int64) (int64, bool) {
	if kCache == nil || kCache.c == nil {
		return 0, false
	}
	cs := kCache.Shape()
	if len(cs) != 4 || int64(len(past)) != cs[0] || len(past) == 0 {
		return 0, false
	}
	var top int64
	for _, p := range past {
		if p < 0 {
			return 0, false
		}
		top = max(top, p)
	}
	return top, true
}
