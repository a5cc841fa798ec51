package torch

/*
#cgo CFLAGS: -O3
#include "argmax_screen.h"
#include "argmax_screen_rows.h"

// glm_screen_dot4 (argmax_screen.c) sets d[j] = q_j·xq for the four rows
// q + j·K with the kernel in use (tests); xu = xq + 128 and qsum_j = Σ q_j.
// Declared here rather than in argmax_screen.h: cgo compiles its probes of
// this preamble from a file in the temporary directory, where a stray copy
// of an older argmax_screen.h would hide a new declaration.
void glm_screen_dot4(const int8_t *xq, const uint8_t *xu, const int8_t *q, const int32_t *qsum, int K, int32_t *d);
*/
import "C"

import (
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"unsafe"

	lib "github.com/sugarme/gotch/libtch"
)

// ArgmaxIndex is an int8 copy of a float32 weight w [N, K] with per-row
// scales and error bounds, for ArgmaxLinear. It does not own w, and it
// describes w as it was when built: rebuild it after w changes.
type ArgmaxIndex struct {
	w     *Tensor // the weight it screens (not owned)
	q     *Tensor // [N, K] int8 (stored as uint8): round(w_r/scale_r)
	scale *Tensor // [N] float32: max|w_r|/127
	err   *Tensor // [N] float32: ≥ ‖w_r − scale_r·q_r‖
	gain  *Tensor // [N] float32: ≥ scale_r·‖q_r‖
	qsum  *Tensor // [N] int32: Σ q_r
	N, K  int64
}

// NewArgmaxIndex builds the index of w [N, K] (float32, CPU, contiguous):
// one pass over w, on as many threads as RowLinear uses.
func NewArgmaxIndex(w *Tensor) (*ArgmaxIndex, error) {
	if w == nil || w.c == nil {
		return nil, fmt.Errorf("torch: argmax index: weight is undefined")
	}
	ws := w.Shape()
	if len(ws) != 2 || ws[0] == 0 || ws[1] == 0 || w.Device() != CPU || w.DType() != Float32 || !lib.AtIsContiguous(w.c) {
		return nil, fmt.Errorf("torch: argmax index: weight must be a contiguous non-empty float32 CPU matrix, got %v %v on %v", ws, w.DType(), w.Device())
	}
	N, K := ws[0], ws[1]
	if K > 1<<16 {
		return nil, fmt.Errorf("torch: argmax index: rows of %d values are too long (int32 sums)", K)
	}
	s := NewScope()
	defer s.Close()
	ix := &ArgmaxIndex{w: w, N: N, K: K}
	ix.q = s.Empty([]int64{N, K}, Uint8, CPU)
	ix.scale = s.Empty([]int64{N}, Float32, CPU)
	ix.err = s.Empty([]int64{N}, Float32, CPU)
	ix.gain = s.Empty([]int64{N}, Float32, CPU)
	ix.qsum = s.Empty([]int64{N}, Int32, CPU)
	if err := s.Err(); err != nil {
		return nil, fmt.Errorf("torch: argmax index: %w", err)
	}
	for _, t := range []*Tensor{ix.q, ix.scale, ix.err, ix.gain, ix.qsum} {
		s.Keep(t)
	}
	ix.q.AdviseHugePages()
	wp := (*C.float)(lib.AtDataPtr(w.c))
	qp := (*C.int8_t)(lib.AtDataPtr(ix.q.c))
	sp, ep, gp := (*C.float)(lib.AtDataPtr(ix.scale.c)), (*C.float)(lib.AtDataPtr(ix.err.c)), (*C.float)(lib.AtDataPtr(ix.gain.c))
	qs := (*C.int32_t)(lib.AtDataPtr(ix.qsum.c))
	// Rows in chunks of about 1 MB of w, shared by plain goroutines (a
	// one-off pass: no need for RowLinear's protocol).
	per := max(1, (1<<20)/(4*K))
	var next atomic.Int64
	work := func() {
		for {
			r0 := next.Add(per) - per
			if r0 >= N {
				return
			}
			C.glm_screen_build(wp, C.int64_t(r0), C.int64_t(min(per, N-r0)), C.int(K), qp, sp, ep, gp, qs)
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
func (ix *ArgmaxIndex) Bytes() int64 { return ix.N*ix.K + 16*ix.N }

// Free releases the index (not w).
func (ix *ArgmaxIndex) Free() {
	if ix == nil {
		return
	}
	for _, t := range []*Tensor{ix.q, ix.scale, ix.err, ix.gain, ix.qsum} {
		t.Free()
	}
}

// ArgmaxLinear returns, for each row of x [..., K], the first index of the
// largest value of x·wᵀ, w being the weight ix was built from: int64
// [rows] with rows the product of x's leading dimensions. It is the exact
// argmax, not an approximation: it equals Argmax(Linear(x, w)) up to float
// rounding (the candidates' values are computed in double, so only values
// within about 1e-6 of each other can order differently than in float32).
//
// Speed helper for greedy decoding. The head of a language model is most of
// what a decoding step reads (pythia-70m: embed_out is 103 MB of the 179 MB
// of float32 weights a token streams), and greedy decoding needs only where
// its largest value is. ArgmaxLinear quantizes x to int8 too and computes
// every a_r = scale_r·sx·(q_r·xq) with exact integer dot products (AVX-512
// VNNI where the CPU has it) from a quarter of w's bytes. Every true value
// lies within a proven radius of its score:
//
//	|w_r·x − a_r| ≤ ‖w_r − scale_r·q_r‖·‖x‖ + scale_r·‖q_r‖·‖x − sx·xq‖
//
// (Cauchy–Schwarz on both quantization errors, plus a margin for float
// rounding). Only the rows whose interval reaches the largest lower end —
// a handful — are computed exactly, in double from w, and the largest wins.
// The screening pass keeps the largest ends of each block of 16 rows as it
// goes (on every thread that scores a chunk), so finding those rows looks
// at the few blocks that reach, not at every row again.
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
	K := ix.K
	xp := (*C.float)(lib.AtDataPtr(x.c))
	crows := chunkRows(ix.N, K)
	chunks := (ix.N + crows - 1) / crows
	// The quantized inputs, in C memory the helpers may read: xq [rows, K]
	// int8, xu [rows, K] uint8, sx [rows] float32.
	buf := s.Empty([]int64{rows * (2*K + 4)}, Uint8, CPU)
	a := s.Empty([]int64{rows, ix.N}, Float32, CPU) // the scores
	// xnorm [rows], xerr [rows] and the interval ends of each block of
	// GLM_SCREEN_BLOCK rows of w, lohi [rows, blocks, 2]. chunkRows' chunks
	// start at multiples of 16 (the block), so each block is one chunk's.
	blocks := (ix.N + C.GLM_SCREEN_BLOCK - 1) / C.GLM_SCREEN_BLOCK
	dbuf := s.Empty([]int64{2*rows + 2*blocks*rows}, Float64, CPU)
	if s.Err() != nil {
		return nil, 0, true
	}
	defer s.Drop(a, buf, dbuf)
	bp := unsafe.Pointer(lib.AtDataPtr(buf.c))
	xq, xu := (*C.int8_t)(bp), (*C.uint8_t)(unsafe.Add(bp, rows*K))
	sx := unsafe.Slice((*float32)(unsafe.Add(bp, 2*rows*K)), rows) // 4-aligned: libtorch aligns storage to 64
	dp := unsafe.Pointer(lib.AtDataPtr(dbuf.c))
	xnorm := unsafe.Slice((*float64)(dp), rows)
	xerr := unsafe.Slice((*float64)(unsafe.Add(dp, 8*rows)), rows)
	lohi := (*C.double)(unsafe.Add(dp, 16*rows))
	// Several rows on a CPU without VNNI: the 7-bit inputs of
	// argmax_screen_rows.c, several times faster there.
	seven := rows > 1 && screen7()
	for i := range rows {
		if seven {
			v := C.glm_screen_quantize7((*C.float)(unsafe.Add(unsafe.Pointer(xp), 4*i*K)), C.int(K),
				(*C.uint8_t)(unsafe.Add(unsafe.Pointer(xu), i*K)),
				(*C.double)(unsafe.Pointer(&xnorm[i])), (*C.double)(unsafe.Pointer(&xerr[i])))
			if v < 0 {
				return nil, 0, false
			}
			sx[i] = float32(v)
			continue
		}
		v := C.glm_screen_quantize((*C.float)(unsafe.Add(unsafe.Pointer(xp), 4*i*K)), C.int(K),
			(*C.int8_t)(unsafe.Add(unsafe.Pointer(xq), i*K)), (*C.uint8_t)(unsafe.Add(unsafe.Pointer(xu), i*K)),
			(*C.double)(unsafe.Pointer(&xnorm[i])), (*C.double)(unsafe.Pointer(&xerr[i])))
		if v < 0 {
			return nil, 0, false
		}
		sx[i] = float32(v)
	}
	ep, gp := (*C.float)(lib.AtDataPtr(ix.err.c)), (*C.float)(lib.AtDataPtr(ix.gain.c))
	j := &rowJob{
		m: rows, K: K, N: ix.N, rows: crows, n: chunks,
		segs: []rowSeg{{N: ix.N, rows: crows}},
		y:    (*C.float)(lib.AtDataPtr(a.c)),
		q:    (*C.int8_t)(lib.AtDataPtr(ix.q.c)), scale: (*C.float)(lib.AtDataPtr(ix.scale.c)),
		qsum: (*C.int32_t)(lib.AtDataPtr(ix.qsum.c)),
		xq:   xq, xu: xu, sx: (*C.float)(unsafe.Pointer(unsafe.SliceData(sx))), seven: seven,
		lohi: lohi, err: ep, gain: gp,
		xnorm: (*C.double)(unsafe.Pointer(unsafe.SliceData(xnorm))), xerr: (*C.double)(unsafe.Pointer(unsafe.SliceData(xerr))),
	}
	pool.run(j, buf, dbuf, ix.q, ix.scale, ix.qsum, ix.err, ix.gain)
	ap := (*C.float)(lib.AtDataPtr(a.c))
	wp := (*C.float)(lib.AtDataPtr(ix.w.c))
	best := make([]int64, rows)
	var computed int64
	for i := range rows {
		var n C.int64_t
		best[i] = int64(C.glm_screen_select((*C.float)(unsafe.Add(unsafe.Pointer(xp), 4*i*K)), wp,
			(*C.float)(unsafe.Add(unsafe.Pointer(ap), 4*i*ix.N)), ep, gp, C.double(xnorm[i]), C.double(xerr[i]),
			C.int64_t(ix.N), C.int(K), (*C.double)(unsafe.Add(unsafe.Pointer(lohi), 16*i*blocks)), &n))
		computed += int64(n)
	}
	runtime.KeepAlive(x)
	runtime.KeepAlive(ix.w)
	runtime.KeepAlive(ix.err)
	runtime.KeepAlive(ix.gain)
	t, err := FromInt64(best, rows)
	if err != nil {
		s.Fail(fmt.Errorf("torch: argmax_linear: %w", err))
		return nil, 0, true
	}
	return s.Own(t), computed, true
}

// setScreenKernel picks ArgmaxLinear's dot-product kernel (tests): 0 the
// widest the CPU runs, 1 portable C, 2 AVX2, 3 AVX-512 VNNI; false when the
// CPU lacks it.
func setScreenKernel(k int) bool { return C.glm_screen_set_kernel(C.int(k)) != 0 }

// screen7Mode is 0 (screen7 asks the CPU), 1 (never) or 2 (always; tests).
var screen7Mode atomic.Int32

// screen7 reports whether ArgmaxLinear screens several rows with the 7-bit
// inputs of argmax_screen_rows.c.
func screen7() bool {
	switch screen7Mode.Load() {
	case 1:
		return false
	case 2:
		return true
	}
	screen7Once.Do(func() { screen7Preferred = C.glm_screen7_preferred() != 0 })
	return screen7Preferred
}

var (
	screen7Once      sync.Once
	screen7Preferred bool
)

// screenDot4 returns the dot products of xq with the four rows of q [4, K]
// (K = len(xq)) as the kernel in use computes them (tests).
func screenDot4(xq, q []int8) [4]int32 {
	K := len(xq)
	xu := make([]uint8, K)
	for k, v := range xq {
		xu[k] = uint8(int(v) + 128)
	}
	qsum := make([]int32, 4)
	for j := range 4 {
		for _, v := range q[j*K : (j+1)*K] {
			qsum[j] += int32(v)
		}
	}
	var d [4]int32
	C.glm_screen_dot4((*C.int8_t)(unsafe.Pointer(unsafe.SliceData(xq))), (*C.uint8_t)(unsafe.Pointer(unsafe.SliceData(xu))),
		(*C.int8_t)(unsafe.Pointer(unsafe.SliceData(q))), (*C.int32_t)(unsafe.Pointer(unsafe.SliceData(qsum))), C.int(K),
		(*C.int32_t)(unsafe.Pointer(&d[0])))
	return d
}
