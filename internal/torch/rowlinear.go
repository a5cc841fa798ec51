package torch

/*
#cgo LDFLAGS: -lm
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "blas.h"
#include "argmax_screen.h"
#include "argmax_screen_rows.h"
#include "gelu_rows.h"
#include "gemm_rows.h"
#include "gemv.h"

// glm_linear_rows computes one chunk of y[m, N] = x[m, K]·w[N, K]ᵀ + b[N]
// (row-major float32, b may be NULL): the n columns r0… of every row, which
// come from rows r0… of w. It writes them to out, row i at out + i·ldo (out
// is y + r0 with ldo N, or a helper's scratch buffer with ldo n). With act 1
// it then applies exact GELU, x·½·(1 + erf(x/√2)) (gelu_rows.c). With
// act 2 (SwiGLU) w is the gate's weight and wu, bu the up projection's: out
// gets silu(x·wᵀ + b) ⊙ (x·wuᵀ + bu) on the same columns. Returns -1 when
// it cannot allocate the up product's scratch.
static int glm_linear_rows(const float *x, const float *w, const float *b, const float *wu, const float *bu,
                           float *out, int ldo, int m, int K, int r0, int n, int act);

static void glm_product_rows(const float *x, const float *w, const float *b, float *out, int ldo,
                             int m, int K, int r0, int n) {
	if (m == 1 && glm_gemv_rows(x, w, b, out, K, r0, n)) return;
	float one = 1, beta = 0;
	if (b) {
		for (int i = 0; i < m; i++) memcpy(out + (int64_t)i * ldo, b + r0, (size_t)n * sizeof(float));
		beta = 1;
	}
	const float *wc = w + (int64_t)r0 * K;
	if (m == 1) {
		// Column-major, wc is [K, n] with lda K: out = wcᵀ·x.
		int inc = 1;
		sgemv_("T", &K, &n, &one, wc, &K, x, &inc, &beta, out, &inc);
	} else if (!glm_gemm_rows(x, wc, out, ldo, m, n, K, b != NULL)) {
		// Column-major, outᵀ[n, m] (ldc ldo) = wcᵀ[n, K]·xᵀ[K, m].
		sgemm_("T", "N", &n, &m, &K, &one, wc, &K, x, &K, &beta, out, &ldo);
	}
}

static int glm_linear_rows(const float *x, const float *w, const float *b, const float *wu, const float *bu,
                           float *out, int ldo, int m, int K, int r0, int n, int act) {
	glm_product_rows(x, w, b, out, ldo, m, K, r0, n);
	if (act == 1) {
		glm_gelu_rows(out, ldo, m, n);
	} else if (act == 2) {
		float stack[2048];
		float *u = (size_t)m * n <= 2048 ? stack : malloc(sizeof(float) * (size_t)m * n);
		if (!u) return -1;
		glm_product_rows(x, wu, bu, u, n, m, K, r0, n);
		for (int i = 0; i < m; i++) {
			float *o = out + (int64_t)i * ldo;
			const float *ui = u + (int64_t)i * n;
			for (int j = 0; j < n; j++) {
				float g = o[j];
				o[j] = g / (1.0f + expf(-g)) * ui[j];
			}
		}
		if (u != stack) free(u);
	}
	return 0;
}

// glm_copy_rows copies m rows of n floats from src (row stride n) to dst
// (row stride ldd).
static void glm_copy_rows(float *dst, int ldd, const float *src, int m, int n) {
	for (int i = 0; i < m; i++) memcpy(dst + (int64_t)i * ldd, src + (int64_t)i * n, (size_t)n * sizeof(float));
}
*/
import "C"

import (
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	lib "github.com/sugarme/gotch/libtch"
)

// RowLinearMaxRows is the most rows of x (batch × time) RowLinear computes
// itself; larger inputs are compute-bound and go to libtorch's Linear, whose
// GEMM is better there.
const RowLinearMaxRows = 16

// RowLinear returns x·wᵀ + b like Linear (b may be nil), and is the speed
// path of decoding: for an input of at most RowLinearMaxRows rows, float32 on
// the CPU, with no gradient to record, it splits the rows of w into chunks
// that the worker thread and the helper threads of SetRowLinearThreads take
// one at a time, each computing its chunk with golamini's AVX2 kernels
// (gemv.c for one row, UseGEMVKernel; gemm_rows.c for several) or, on CPUs
// without AVX2, the BLAS inside libtorch (sgemv, sgemm). Anything else goes
// to Linear.
//
// Why: decoding a token is a chain of matrix-vector products that only read
// the weights (179 MB per token for pythia-70m), so its speed is memory
// bandwidth, which one core alone does not saturate. libtorch's own threads
// (OpenMP, static split, barriers) need every thread of the team on a core
// at the same moment: on a machine whose cores other processes also use,
// one descheduled thread stalls every product (bench/decode compares thread
// counts).
// Here whichever thread runs does the work: a helper that wakes late takes
// fewer chunks, and a chunk a helper holds when the worker has finished the
// rest is done by the worker too once it has waited about a chunk's time (the
// helper's late copy is dropped), so a preempted helper costs one chunk, never
// a scheduler time slice.
func (s *Scope) RowLinear(x, w, b *Tensor) *Tensor {
	if !s.ok("row_linear", x, w) {
		return nil
	}
	if !rowLinearEligible(x, w, b) {
		return s.Linear(x, w, b)
	}
	return s.rowLinear(x, []rowWeight{{w, b}}, 0, nil)
}

// RowLinearGELU returns Gelu(x·wᵀ + b, "none") (exact GELU), applying GELU to
// each chunk of RowLinear's output while it is still in cache. Speed helper:
// libtorch's exact GELU is one more op per layer and token, and the slowest
// of the small ones on the data a product has just evicted from the caches
// (several times its cost on warm data, and worse with a thread team that
// must wake up for it).
// Inputs RowLinear does not take go to Gelu(Linear(…)).
func (s *Scope) RowLinearGELU(x, w, b *Tensor) *Tensor {
	if !s.ok("row_linear_gelu", x, w) {
		return nil
	}
	if !rowLinearEligible(x, w, b) {
		return s.Gelu(s.Linear(x, w, b), "none")
	}
	return s.rowLinear(x, []rowWeight{{w, b}}, actGELU, nil)
}

// rowWeight is one weight matrix [N, K] and its bias [N] (nil: none).
type rowWeight struct{ w, b *Tensor }

// Activations a chunk applies (glm_linear_rows' act).
const (
	actNone = iota
	actGELU
	actSwiGLU
)

// rowLinear is RowLinear on inputs rowLinearEligible accepted: x times
// the weights ws side by side (their outputs concatenated along the last
// dimension, without concatenating the weights), with act applied; for
// actSwiGLU ws holds only the gate and up the up projection.
func (s *Scope) rowLinear(x *Tensor, ws []rowWeight, act int, up *rowWeight) *Tensor {
	xs := x.Shape()
	K := xs[len(xs)-1]
	m := int64(1)
	for _, d := range xs[:len(xs)-1] {
		m *= d
	}
	j := &rowJob{m: m, K: K, act: act, x: (*C.float)(lib.AtDataPtr(x.c))}
	inputs := []*Tensor{x}
	for _, rw := range ws {
		N := rw.w.Shape()[0]
		rows := chunkRows(N, 4*K)
		seg := rowSeg{w: (*C.float)(lib.AtDataPtr(rw.w.c)), N: N, rows: rows, col: j.N, first: j.n}
		if rw.b != nil && rw.b.c != nil {
			seg.b = (*C.float)(lib.AtDataPtr(rw.b.c))
		}
		j.segs = append(j.segs, seg)
		j.N += N
		j.n += (N + rows - 1) / rows
		j.rows = max(j.rows, rows)
		inputs = append(inputs, rw.w, rw.b)
	}
	if up != nil {
		j.wu = (*C.float)(lib.AtDataPtr(up.w.c))
		if up.b != nil && up.b.c != nil {
			j.bu = (*C.float)(lib.AtDataPtr(up.b.c))
		}
		inputs = append(inputs, up.w, up.b)
	}
	outShape := append(append([]int64{}, xs[:len(xs)-1]...), j.N)
	var out lib.Ctensor
	lib.AtgEmpty(&out, outShape, len(outShape), int32(Float32), int32(CPU))
	y := s.wrap("row_linear", out)
	if y == nil {
		return nil
	}
	j.y = (*C.float)(lib.AtDataPtr(y.c))
	pool.run(j, inputs...)
	if j.failed.Load() {
		s.Failf("torch: row_linear: out of memory for a chunk's scratch")
		return nil
	}
	return y
}

// rowLinearEligible reports whether RowLinear may compute x·wᵀ + b itself.
func rowLinearEligible(x, w, b *Tensor) bool {
	if !rowLinearAvailable() {
		return false
	}
	ts := []*Tensor{x, w}
	if b != nil && b.c != nil {
		ts = append(ts, b)
	}
	for _, t := range ts {
		if t.Device() != CPU || t.DType() != Float32 || !lib.AtIsContiguous(t.c) {
			return false
		}
	}
	xs, ws := x.Shape(), w.Shape()
	if len(xs) < 1 || len(ws) != 2 || xs[len(xs)-1] != ws[1] || ws[0] == 0 || ws[1] == 0 {
		return false // let Linear report the shape error
	}
	if b != nil && b.c != nil {
		if bs := b.Shape(); len(bs) != 1 || bs[0] != ws[0] {
			return false
		}
	}
	m := int64(1)
	for _, d := range xs[:len(xs)-1] {
		m *= d
	}
	if m < 1 || m > RowLinearMaxRows {
		return false
	}
	if gradEnabled() {
		for _, t := range ts {
			if t.RequiresGrad() {
				return false // autograd must see the op
			}
		}
	}
	return true
}

// gradEnabled reports libtorch's grad mode on the calling thread.
func gradEnabled() bool {
	prev := setGradEnabled(false)
	setGradEnabled(prev)
	return prev
}

// chunkBytes is about how much of w one chunk reads: small enough that the
// last chunks even out the threads' finishing times and that a chunk redone
// by the worker costs little (256 KB: 10–25 µs), large enough that the
// per-chunk overhead (a BLAS call, two atomic operations) stays near 5%.
const chunkBytes = 256 << 10

// chunkRows is the number of rows of w (rowBytes each) per chunk: chunkBytes'
// worth, but at least 64 and at most N, and a multiple of 16 below N (the
// screening job's blocks of GLM_SCREEN_BLOCK rows never straddle chunks).
func chunkRows(N, rowBytes int64) int64 {
	r := max(64, chunkBytes/rowBytes)
	r = (r + 15) &^ 15
	return min(r, N)
}

var (
	blasOnce sync.Once
	blasOK   bool
)

func rowLinearAvailable() bool {
	blasOnce.Do(func() { blasOK = C.glm_blas_available() != 0 })
	return blasOK
}

// ---- sharing a product between threads ----

// Chunk states. A chunk is claimed from rowJob.next by exactly one thread;
// the worker computes its own straight into y (state owned), a helper into
// its scratch buffer (computing), then copies it into y (publishing) unless
// the worker has taken the chunk over meanwhile (owned again).
const (
	chunkFree int32 = iota
	chunkComputing
	chunkPublishing
	chunkDone
	chunkOwned // by the worker, which writes y itself
)

// rowJob is one RowLinear call shared between the worker and the helpers.
type rowJob struct {
	m, K, N int64 // N: columns of y, over all segments
	rows, n int64 // most rows of w per chunk, number of chunks
	act     int
	x, y    *C.float
	segs    []rowSeg
	wu, bu  *C.float // actSwiGLU: the up projection beside the gate in segs[0]
	failed  atomic.Bool
	// With q set the job is ArgmaxLinear's screening pass instead: y gets
	// the scores of glm_screen_rows_m for the inputs quantized in xq, xu, sx.
	q         *C.int8_t
	scale, sx *C.float
	qsum      *C.int32_t
	xq        *C.int8_t
	xu        *C.uint8_t
	seven     bool // xu holds 7-bit inputs for glm_screen_rows7 (xq unused)
	// With lohi set too, the interval ends of each block of
	// GLM_SCREEN_BLOCK rows go to lohi [m, blocks, 2] (glm_screen_bounds
	// over err, gain and the inputs' xnorm, xerr).
	lohi        *C.double
	err, gain   *C.float
	xnorm, xerr *C.double
	// With attn set the job is RowAttention's: chunk i is batch row i's
	// attention, y its merged heads [B, nh·hs] as one row (m 1).
	attn *attnRows

	next   atomic.Int64   // next chunk to claim
	state  []atomic.Int32 // per chunk
	left   atomic.Int64   // chunks not in y yet
	inside atomic.Int32   // helpers inside helpWith: they may still read x, w, b
	keep   []*Tensor      // handles keeping x, w, b alive for late helpers
}

// rowSeg is one weight of a job: its chunks are first… of the job's, and
// write columns col… of y.
type rowSeg struct {
	w, b                *C.float
	N, rows, col, first int64
}

// span returns chunk i's segment, its first row in that weight and its
// number of rows.
func (j *rowJob) span(i int64) (*rowSeg, int64, int64) {
	k := len(j.segs) - 1
	for k > 0 && j.segs[k].first > i {
		k--
	}
	sg := &j.segs[k]
	r0 := (i - sg.first) * sg.rows
	return sg, r0, min(sg.rows, sg.N-r0)
}

// chunk computes chunk i into out with row stride ldo.
func (j *rowJob) chunk(i int64, out *C.float, ldo int64) {
	sg, r0, n := j.span(i)
	if j.attn != nil {
		if !j.attn.rows(i, 1, out) {
			j.failed.Store(true)
		}
		return
	}
	if j.q != nil && j.seven {
		C.glm_screen_rows7(j.xu, j.sx, C.int(j.m), j.q, j.scale, j.qsum, out, C.int(ldo), C.int(j.K), C.int64_t(r0), C.int(n))
		return
	}
	if j.q != nil {
		C.glm_screen_rows_m(j.xq, j.xu, j.sx, C.int(j.m), j.q, j.scale, j.qsum, out, C.int(ldo), C.int(j.K), C.int64_t(r0), C.int(n))
		return
	}
	if C.glm_linear_rows(j.x, sg.w, sg.b, j.wu, j.bu, out, C.int(ldo), C.int(j.m), C.int(j.K), C.int(r0), C.int(n), C.int(j.act)) != 0 {
		j.failed.Store(true)
	}
}

// bounds writes chunk i's interval ends from its scores at out (row
// stride ldo) when j is a screening job that keeps them.
func (j *rowJob) bounds(i int64, out *C.float, ldo int64) {
	if j.lohi == nil {
		return
	}
	_, r0, n := j.span(i)
	blocks := (j.N + C.GLM_SCREEN_BLOCK - 1) / C.GLM_SCREEN_BLOCK
	C.glm_screen_bounds(out, C.int(ldo), C.int(j.m), (*C.float)(unsafe.Add(unsafe.Pointer(j.err), 4*r0)),
		(*C.float)(unsafe.Add(unsafe.Pointer(j.gain), 4*r0)), j.xnorm, j.xerr, C.int(n),
		(*C.double)(unsafe.Add(unsafe.Pointer(j.lohi), 8*2*(r0/C.GLM_SCREEN_BLOCK))), C.int64_t(2*blocks))
}

// into returns the place in y where chunk i starts.
func (j *rowJob) into(i int64) *C.float {
	sg, r0, _ := j.span(i)
	return (*C.float)(unsafe.Add(unsafe.Pointer(j.y), 4*(sg.col+r0)))
}

// helpWith is a helper's share of j: claim chunks, compute each into
// scratch, publish it unless the worker took it over.
func (j *rowJob) helpWith(scratch []float32) {
	j.inside.Add(1)
	defer j.inside.Add(-1)
	for {
		i := j.next.Add(1) - 1
		if i >= j.n {
			return
		}
		if !j.state[i].CompareAndSwap(chunkFree, chunkComputing) {
			continue // the worker took it over before we started
		}
		if d := testHelperPause.Load(); d > 0 {
			time.Sleep(time.Duration(d))
		}
		_, _, n := j.span(i)
		out := (*C.float)(unsafe.Pointer(unsafe.SliceData(scratch)))
		j.chunk(i, out, n)
		if j.state[i].CompareAndSwap(chunkComputing, chunkPublishing) {
			j.bounds(i, out, n)
			C.glm_copy_rows(j.into(i), C.int(j.N), out, C.int(j.m), C.int(n))
			j.state[i].Store(chunkDone)
			j.left.Add(-1)
		}
	}
}

// workerShare is the worker's share of j: claim and compute chunks until
// none are left, wait up to grace for the helpers' chunks, then compute any
// they still hold itself.
func (j *rowJob) workerShare() {
	var slowest time.Duration
	for {
		i := j.next.Add(1) - 1
		if i >= j.n {
			break
		}
		if !j.state[i].CompareAndSwap(chunkFree, chunkOwned) {
			continue
		}
		start := time.Now()
		j.chunk(i, j.into(i), j.N)
		j.bounds(i, j.into(i), j.N)
		slowest = max(slowest, time.Since(start))
		j.left.Add(-1)
	}
	// A helper that is running finishes its chunk in about a chunk's time.
	grace := max(2*slowest, 5*time.Microsecond)
	deadline := time.Now().Add(grace)
	for j.left.Load() > 0 && time.Now().Before(deadline) {
	}
	for i := int64(0); j.left.Load() > 0 && i < j.n; i++ {
		for {
			st := j.state[i].Load()
			if st == chunkDone || st == chunkOwned {
				break
			}
			if st == chunkPublishing {
				continue // a copy of a few hundred floats is under way
			}
			if j.state[i].CompareAndSwap(st, chunkOwned) { // free or computing: ours now
				if st == chunkComputing {
					takenOver.Add(1)
				}
				j.chunk(i, j.into(i), j.N)
				j.bounds(i, j.into(i), j.N)
				j.left.Add(-1)
				break
			}
		}
	}
}

// takenOver counts chunks the worker took over from a helper (for tests).
var takenOver atomic.Int64

// testHelperPause makes helpers pause before each chunk (tests: a helper
// descheduled mid-chunk).
var testHelperPause atomic.Int64

// rowPool is the worker's side of the helper threads.
type rowPool struct {
	mu      sync.Mutex
	helpers []chan *rowJob
	want    int       // helper threads to use
	late    []*rowJob // finished jobs a helper was still inside
}

var pool = &rowPool{want: defaultRowLinearThreads() - 1}

// defaultRowLinearThreads is the number of CPUs this process may run on.
func defaultRowLinearThreads() int { return runtime.NumCPU() }

// SetRowLinearThreads sets how many threads RowLinear uses, the worker
// included (default: the number of CPUs this process may run on). 1 keeps
// everything on the worker.
func SetRowLinearThreads(n int) {
	pool.mu.Lock()
	defer pool.mu.Unlock()
	pool.want = max(0, n-1)
}

// RowLinearThreads returns how many threads RowLinear uses, the worker
// included.
func RowLinearThreads() int {
	pool.mu.Lock()
	defer pool.mu.Unlock()
	return pool.want + 1
}

// helperSpin is how long a helper polls for the next job before it sleeps.
// Decoding calls RowLinear every 10–50 µs; waking a sleeping thread costs
// about as much, so a helper that slept between calls would join each one late.
const helperSpin = 50 * time.Microsecond

// start returns the queues of the helpers to use, starting threads as needed.
func (p *rowPool) start() []chan *rowJob {
	p.mu.Lock()
	defer p.mu.Unlock()
	for len(p.helpers) < p.want {
		ch := make(chan *rowJob, 1)
		p.helpers = append(p.helpers, ch)
		go helper(ch)
	}
	return p.helpers[:p.want]
}

// helper is a thread of its own that only calls BLAS, single-threaded.
func helper(ch chan *rowJob) {
	runtime.LockOSThread()
	C.glm_blas_sequential(1, 0)
	var scratch []float32
	for {
		j, ok := receiveSoon(ch)
		if !ok {
			return
		}
		if need := int(j.m * j.rows); len(scratch) < need {
			scratch = make([]float32, need)
		}
		j.helpWith(scratch)
	}
}

// receiveSoon polls ch for helperSpin, then blocks on it.
func receiveSoon(ch chan *rowJob) (*rowJob, bool) {
	deadline := time.Now().Add(helperSpin)
	for time.Now().Before(deadline) {
		select {
		case j, ok := <-ch:
			return j, ok
		default:
		}
	}
	j, ok := <-ch
	return j, ok
}

// run computes j on the worker and, when it has several chunks, the helpers,
// and returns when y is complete. inputs are the tensors behind j's input
// pointers: a helper the worker overtook may still be reading them after run
// returns, so run then keeps handles to them until that helper is out.
func (p *rowPool) run(j *rowJob, inputs ...*Tensor) {
	p.release()
	j.state = make([]atomic.Int32, j.n)
	j.left.Store(j.n)
	var helpers []chan *rowJob
	if j.n > 1 {
		helpers = p.start()
	}
	for _, h := range helpers {
		select {
		case h <- j:
		default: // still holding an earlier job: it will find this one finished
		}
	}
	prev := C.glm_blas_sequential(1, 0)
	j.workerShare()
	C.glm_blas_sequential(0, prev)
	if len(helpers) > 0 && j.inside.Load() > 0 {
		for _, t := range inputs {
			if t != nil && t.c != nil {
				j.keep = append(j.keep, t.ShallowClone())
			}
		}
		p.late = append(p.late, j)
	}
	runtime.KeepAlive(inputs)
}

// release frees the handles of late jobs whose helpers have left.
func (p *rowPool) release() {
	kept := p.late[:0]
	for _, j := range p.late {
		if j.inside.Load() > 0 {
			kept = append(kept, j)
			continue
		}
		for _, t := range j.keep {
			t.Free()
		}
	}
	clear(p.late[len(kept):])
	p.late = kept
}

// RowLinearCat returns x times the weights ws side by side plus their
// biases bs (nil entries: none), [..., ΣN_i]: the same as concatenating the
// outputs of Linear(x, ws[i], bs[i]) along the last dimension. Speed
// helper for decoding: projections that read the same input (a layer's
// query, key and value) run as one RowLinear job, each weight read in place
// (no concatenated copy of the weights), so the threads wake once instead
// of three times. Inputs RowLinear does not take go to Cat of Linears.
func (s *Scope) RowLinearCat(x *Tensor, ws, bs []*Tensor) *Tensor {
	if !s.ok("row_linear_cat", append([]*Tensor{x}, ws...)...) {
		return nil
	}
	if len(bs) != len(ws) || len(ws) == 0 {
		s.Failf("torch: row_linear_cat: %d weights and %d biases", len(ws), len(bs))
		return nil
	}
	rws := make([]rowWeight, len(ws))
	eligible := true
	for i := range ws {
		rws[i] = rowWeight{ws[i], bs[i]}
		eligible = eligible && rowLinearEligible(x, ws[i], bs[i])
	}
	if !eligible {
		ys := make([]*Tensor, len(ws))
		for i := range ws {
			ys[i] = s.Linear(x, ws[i], bs[i])
		}
		return s.Cat(-1, ys...)
	}
	return s.rowLinear(x, rws, actNone, nil)
}

// RowLinearSwiGLU returns silu(x·wgᵀ + bg) ⊙ (x·wuᵀ + bu) (biases may be
// nil), the gated part of the Llama MLP. Speed helper for decoding: both
// products run as one RowLinear job whose chunks compute the same columns
// of the gate and up projections and combine them while in cache, instead
// of two products and two more libtorch ops on data the products have
// evicted. Inputs RowLinear does not take go to Mul(Silu(Linear), Linear).
func (s *Scope) RowLinearSwiGLU(x, wg, bg, wu, bu *Tensor) *Tensor {
	if !s.ok("row_linear_swiglu", x, wg, wu) {
		return nil
	}
	if !rowLinearEligible(x, wg, bg) || !rowLinearEligible(x, wu, bu) || fmtShape(wg) != fmtShape(wu) {
		return s.Mul(s.Silu(s.Linear(x, wg, bg)), s.Linear(x, wu, bu))
	}
	return s.rowLinear(x, []rowWeight{{wg, bg}}, actSwiGLU, &rowWeight{wu, bu})
}

func fmtShape(t *Tensor) string { return fmt.Sprint(t.Shape()) }

// UseGEMVKernel chooses how RowLinear computes a one-row product: with
// golamini's own kernel where this CPU runs it (on, the default; x86-64
// with AVX2 and FMA), or always with the BLAS inside libtorch (off). It
// returns false when on was asked for and the CPU has no such kernel.
// For tests and benchmarks that compare the two.
func UseGEMVKernel(on bool) bool {
	if on {
		return C.glm_gemv_set_kernel(0) != 0 && C.glm_gemv_rows(nil, nil, nil, nil, 0, 0, 0) != 0
	}
	return C.glm_gemv_set_kernel(1) != 0
}
