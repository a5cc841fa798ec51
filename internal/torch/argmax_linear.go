package torch

// #cgo CFLAGS: -O3
// #include "argmax_screen.h"
import "C"

import (
	"fmt"
	"runtime"
	"sync/atomic"
	"unsafe"

	lib "github.com/sugarme/gotch/libtch"
)

// ArgmaxIndex is an int8 copy of a float32 weight w [N, K] with, per row, a
// scale and an error bound, for ArgmaxLinear. It does not own w, and it
// describes w as it was when built: rebuild it after w changes.
type ArgmaxIndex struct {
	w     *Tensor // the weight it screens (not owned)
	q     *Tensor // [N, K] int8 (stored as uint8), round(w/scale)
	scale *Tensor // [N] float32, max|w_r|/127
	bound *Tensor // [N] float32, see glm_screen_build
	N, K  int64
}

// NewArgmaxIndex builds the index of w [N, K] (float32, CPU, contiguous):
// one pass over w, shared between the worker and RowLinear's helper threads.
func NewArgmaxIndex(w *Tensor) (*ArgmaxIndex, error) {
	if w == nil || w.c == nil {
		return nil, fmt.Errorf("torch: argmax index: weight is undefined")
	}
	ws := w.Shape()
	if len(ws) != 2 || ws[0] == 0 || ws[1] == 0 || w.Device() != CPU || w.DType() != Float32 || !lib.AtIsContiguous(w.c) {
		return nil, fmt.Errorf("torch: argmax index: weight must be a contiguous non-empty float32 CPU matrix, got %v %v on %v", ws, w.DType(), w.Device())
	}
	N, K := ws[0], ws[1]
	if K > 1<<24 {
		return nil, fmt.Errorf("torch: argmax index: rows of %d values are too long", K)
	}
	s := NewScope()
	defer s.Close()
	ix := &ArgmaxIndex{w: w, N: N, K: K}
	ix.q = s.Empty([]int64{N, K}, Uint8, CPU)
	ix.scale = s.Empty([]int64{N}, Float32, CPU)
	ix.bound = s.Empty([]int64{N}, Float32, CPU)
	if err := s.Err(); err != nil {
		return nil, fmt.Errorf("torch: argmax index: %w", err)
	}
	s.Keep(ix.q)
	s.Keep(ix.scale)
	s.Keep(ix.bound)
	ix.q.AdviseHugePages()
	wp := (*C.float)(lib.AtDataPtr(w.c))
	qp := (*C.int8_t)(lib.AtDataPtr(ix.q.c))
	sp, bp := (*C.float)(lib.AtDataPtr(ix.scale.c)), (*C.float)(lib.AtDataPtr(ix.bound.c))
	// Rows in chunks of about 1 MB of w, spread over the helper threads' cores
	// with plain goroutines (a one-off pass: no need for the pool's protocol).
	per := max(1, (1<<20)/(4*K))
	var next atomic.Int64
	work := func() {
		for {
			r0 := next.Add(per) - per
			if r0 >= N {
				return
			}
			C.glm_screen_build(wp, C.int64_t(r0), C.int64_t(min(per, N-r0)), C.int(K), qp, sp, bp)
		}
	}
	threads := RowLinearThreads()
	done := make(chan struct{}, threads)
	for range threads - 1 {
		go func() { work(); done <- struct{}{} }()
	}
	work()
	for range threads - 1 {
		<-done
	}
	runtime.KeepAlive(w)
	return ix, nil
}

// Bytes is the memory the index holds.
func (ix *ArgmaxIndex) Bytes() int64 { return ix.N*ix.K + 8*ix.N }

// Free releases the index (not w).
func (ix *ArgmaxIndex) Free() {
	if ix == nil {
		return
	}
	ix.q.Free()
	ix.scale.Free()
	ix.bound.Free()
}

// ArgmaxLinear returns, for each row of x [..., K], the first index of the
// largest value of x·wᵀ, w being the weight ix was built from: int64
// [rows] with rows the product of x's leading dimensions. It is the exact
// argmax, not an approximation: within the bounds of float arithmetic it
// equals Argmax(Linear(x, w)) (both round the same sums in different orders,
// so only logits within about 1e-6 of each other can order differently).
//
// Speed helper for greedy decoding. The head of a language model is most of
// what a decoding step reads (pythia-70m: embed_out is 103 MB of the 179 MB
// of float32 weights a token streams), and greedy decoding needs only the
// position of its largest logit. ArgmaxLinear reads the int8 copy instead (a
// quarter of the bytes) to get every logit to within a proven bound:
// |w_r·x − scale_r·(q_r·x)| ≤ bound_r·‖x‖ (Cauchy–Schwarz on the
// quantization error, plus float32 rounding), then computes exactly, in
// double precision from w itself, only the rows whose upper bound reaches
// the largest lower bound — a handful of rows — and takes the largest.
// Inputs it does not take (more than RowLinearMaxRows rows, other dtypes or
// devices, autograd, non-finite x) go to Argmax(Linear(x, w)).
func (s *Scope) ArgmaxLinear(x *Tensor, ix *ArgmaxIndex) *Tensor {
	if ix == nil {
		s.Failf("torch: argmax_linear: no index")
		return nil
	}
	if !s.ok("argmax_linear", x, ix.w) {
		return nil
	}
	xs := x.Shape()
	rows := int64(1)
	for _, d := range xs[:max(0, len(xs)-1)] {
		rows *= d
	}
	if !rowLinearEligible(x, ix.w, nil) {
		return s.Argmax(s.View(s.Linear(x, ix.w, nil), rows, ix.N), 1, false) // [rows]
	}
	best, _, ok := s.argmaxScreened(x, ix, rows)
	if !ok {
		return s.Argmax(s.View(s.Linear(x, ix.w, nil), rows, ix.N), 1, false) // [rows]
	}
	return best
}

// argmaxScreened is ArgmaxLinear's screened path on eligible inputs. It
// returns the indices [rows], the number of rows computed exactly, and false
// when some row of x is not finite (the caller falls back).
func (s *Scope) argmaxScreened(x *Tensor, ix *ArgmaxIndex, rows int64) (*Tensor, int64, bool) {
	a := s.Empty([]int64{rows, ix.N}, Float32, CPU) // screening scores
	if s.Err() != nil {
		return nil, 0, true
	}
	defer s.Drop(a)
	crows := chunkRows(ix.N, ix.K)
	j := &rowJob{
		m: rows, K: ix.K, N: ix.N, rows: crows, n: (ix.N + crows - 1) / crows,
		x: (*C.float)(lib.AtDataPtr(x.c)), y: (*C.float)(lib.AtDataPtr(a.c)),
		q: (*C.int8_t)(lib.AtDataPtr(ix.q.c)), scale: (*C.float)(lib.AtDataPtr(ix.scale.c)),
	}
	pool.run(j, x, ix.q, ix.scale)
	xp := (*C.float)(lib.AtDataPtr(x.c))
	ap := (*C.float)(lib.AtDataPtr(a.c))
	wp := (*C.float)(lib.AtDataPtr(ix.w.c))
	bp := (*C.float)(lib.AtDataPtr(ix.bound.c))
	best := make([]int64, rows)
	var computed int64
	for i := range rows {
		var n C.int64_t
		r := C.glm_screen_select((*C.float)(unsafe.Add(unsafe.Pointer(xp), 4*i*ix.K)), wp,
			(*C.float)(unsafe.Add(unsafe.Pointer(ap), 4*i*ix.N)), bp, C.int64_t(ix.N), C.int(ix.K), &n)
		if r < 0 {
			return nil, 0, false
		}
		best[i] = int64(r)
		computed += int64(n)
	}
	runtime.KeepAlive(x)
	runtime.KeepAlive(ix.w)
	runtime.KeepAlive(ix.bound)
	t, err := FromInt64(best, rows)
	if err != nil {
		s.Fail(fmt.Errorf("torch: argmax_linear: %w", err))
		return nil, 0, true
	}
	return s.Own(t), computed, true
}
