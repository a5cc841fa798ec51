package torch

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
	a := newAttnRows(qkv, cp, sp, rot, kCache, vCache, nh, nh, hs, capacity, past, scale)
	C.glm_row_attention_write(a.qkv, cp, sp, a.rot, a.kc, a.vc, C.int(B), a.nh, a.hs, a.capacity, (*C.int64_t)(&past[0]))
	if !s.attendRows(y, a, qkv, cos, sin, kCache, vCache) {
		s.Failf("torch: row_attention: out of memory")
		return nil
	}
	return y
}

// attnRows is the attending half of a RowAttention(Grouped) call, after
// the worker has written every row's key and value into the caches: it only
// reads them, so its rows can be attended on several threads.
type attnRows struct {
	qkv, cos, sin, kc, vc, qnorm *C.float
	rot, nh, nkv, hs             C.int
	eps, scale                   C.float
	capacity                     C.int64_t
	past                         []int64
	grouped                      bool
}

// newAttnRows describes a call's inputs (past is copied: a helper the
// worker overtook may still read it after the call returns).
func newAttnRows(qkv *Tensor, cp, sp *C.float, rot int, kCache, vCache *Tensor, nh, nkv, hs, capacity int64, past []int64,
	scale float64) *attnRows {
	return &attnRows{
		qkv: (*C.float)(lib.AtDataPtr(qkv.c)), cos: cp, sin: sp, rot: C.int(rot),
		kc: (*C.float)(lib.AtDataPtr(kCache.c)), vc: (*C.float)(lib.AtDataPtr(vCache.c)),
		nh: C.int(nh), nkv: C.int(nkv), hs: C.int(hs), capacity: C.int64_t(capacity), past: append([]int64(nil), past...),
		scale: C.float(scale),
	}
}

// rows attends batch rows b0…b0+nb−1 into y (row b0's heads first); false
// when C cannot allocate its scratch.
func (a *attnRows) rows(b0, nb int64, y *C.float) bool {
	pp := (*C.int64_t)(&a.past[0])
	if a.grouped {
		return C.glm_row_attention_grouped_rows(a.qkv, a.cos, a.sin, a.rot, a.qnorm, a.eps, a.kc, a.vc, y, C.int(b0), C.int(nb),
			a.nh, a.nkv, a.hs, a.capacity, pp, a.scale) == 0
	}
	return C.glm_row_attention_rows(a.qkv, a.cos, a.sin, a.rot, a.kc, a.vc, y, C.int(b0), C.int(nb), a.nh, a.hs, a.capacity,
		pp, a.scale) == 0
}

// attendRows runs a over every row into y [B, 1, nh·hs], one row per chunk
// shared with RowLinear's helper threads (rowJob). Why: with 16 rows the
// attention was a tenth of the worker's step while the helper waited
// (bench/serve/step); each row reads only its own cache, so the rows split
// like a product's chunks. inputs are the tensors behind a's pointers.
func (s *Scope) attendRows(y *Tensor, a *attnRows, inputs ...*Tensor) bool {
	B := int64(len(a.past))
	width := int64(a.nh) * int64(a.hs)
	j := &rowJob{m: 1, K: 1, N: B * width, rows: width, n: B, attn: a,
		segs: []rowSeg{{N: B * width, rows: width}}, y: (*C.float)(lib.AtDataPtr(y.c))}
	pool.run(j, append(inputs, y)...)
	return !j.failed.Load()
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
	a := newAttnRows(qkv, cp, sp, rot, kCache, vCache, nh, nkv, hs, capacity, past, scale)
	a.grouped, a.qnorm, a.eps = true, qn, C.float(eps)
	rc := C.glm_row_attention_grouped_write(a.qkv, cp, sp, a.rot, kn, a.eps, a.kc, a.vc, C.int(B), a.nh, a.nkv, a.hs,
		a.capacity, (*C.int64_t)(&past[0]))
	runtime.KeepAlive(kNorm)
	if rc != 0 || !s.attendRows(y, a, qkv, cos, sin, kCache, vCache, qNorm) {
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
