package torch

/*
#cgo LDFLAGS: -lm
#include <math.h>
#include <stdint.h>
#include <string.h>
#include "blas.h"

// glm_linear_rows computes columns [r0, r0+n) of y[m, N] = x[m, K]·w[N, K]ᵀ + b[N]
// (all row-major float32, b may be NULL): rows r0… of w are one chunk of work.
// With gelu set it then applies exact GELU to them, as ATen writes it:
// x·½·(1 + erf(x/√2)).
static void glm_linear_rows(const float *x, const float *w, const float *b, float *y,
                            int m, int K, int N, int r0, int n, int gelu) {
	float one = 1, beta = 0;
	if (b) {
		for (int i = 0; i < m; i++) memcpy(y + (int64_t)i * N + r0, b + r0, (size_t)n * sizeof(float));
		beta = 1;
	}
	const float *wc = w + (int64_t)r0 * K;
	if (m == 1) {
		// Column-major, wc is [K, n] with lda K: y[r0:] = wcᵀ·x.
		int inc = 1;
		sgemv_("T", &K, &n, &one, wc, &K, x, &inc, &beta, y + r0, &inc);
	} else {
		// Column-major, yᵀ[n, m] (ldc N) = wcᵀ[n, K]·xᵀ[K, m].
		sgemm_("T", "N", &n, &m, &K, &one, wc, &K, x, &K, &beta, y + r0, &N);
	}
	if (gelu) {
		const float alpha = (float)M_SQRT1_2;
		for (int i = 0; i < m; i++) {
			float *yi = y + (int64_t)i * N + r0;
			for (int j = 0; j < n; j++) {
				float v = yi[j];
				yi[j] = v * 0.5f * (1.0f + erff(v * alpha));
			}
		}
	}
}
*/
import "C"

import (
	"math/bits"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

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
// one at a time, each computing its chunk with the BLAS inside libtorch
// (sgemv/sgemm); whether the helpers join is learnt per matrix size from the
// speed each way has had (see sharing). Anything else goes to Linear.
//
// Why: decoding a token is a chain of matrix-vector products that only read
// the weights (179 MB per token for pythia-70m), so its speed is memory
// bandwidth. libtorch's own threads (OpenMP, static split, spinning barriers)
// need every thread of the team on a core at the same moment; on a machine
// whose cores other processes also use, a descheduled thread stalls each
// product (measured here under load: 2 OpenMP threads 3–6 tokens/s, 1 thread
// 20–45, HF transformers the same). Taking chunks from a shared counter lets
// whichever thread is running do the work: with idle cores both read memory
// at once, on a busy machine the running one finishes alone.
func (s *Scope) RowLinear(x, w, b *Tensor) *Tensor {
	if !s.ok("row_linear", x, w) {
		return nil
	}
	if !rowLinearEligible(x, w, b) {
		return s.Linear(x, w, b)
	}
	return s.rowLinear(x, w, b, false)
}

// RowLinearGELU returns Gelu(x·wᵀ + b, "none") (exact GELU), applying GELU to
// each chunk of RowLinear's output while it is still in cache. Speed helper:
// libtorch's exact GELU is one more op per layer and token, and the slowest
// of the small ones on the data a product has just evicted from the caches
// (measured: about 80 µs for 2,048 values after a 103 MB product against
// 9 µs warm, both with 1 thread; 60–380 µs with libtorch's 2 threads).
// Inputs RowLinear does not take go to Gelu(Linear(…)).
func (s *Scope) RowLinearGELU(x, w, b *Tensor) *Tensor {
	if !s.ok("row_linear_gelu", x, w) {
		return nil
	}
	if !rowLinearEligible(x, w, b) {
		return s.Gelu(s.Linear(x, w, b), "none")
	}
	return s.rowLinear(x, w, b, true)
}

// rowLinear is RowLinear on inputs rowLinearEligible accepted.
func (s *Scope) rowLinear(x, w, b *Tensor, gelu bool) *Tensor {
	xs, ws := x.Shape(), w.Shape()
	K, N := xs[len(xs)-1], ws[0]
	m := int64(1)
	for _, d := range xs[:len(xs)-1] {
		m *= d
	}
	outShape := append(append([]int64{}, xs[:len(xs)-1]...), N)
	var out lib.Ctensor
	lib.AtgEmpty(&out, outShape, len(outShape), int32(Float32), int32(CPU))
	y := s.wrap("row_linear", out)
	if y == nil {
		return nil
	}
	xp := (*C.float)(lib.AtDataPtr(x.c))
	wp := (*C.float)(lib.AtDataPtr(w.c))
	var bp *C.float
	if b != nil && b.c != nil {
		bp = (*C.float)(lib.AtDataPtr(b.c))
	}
	yp := (*C.float)(lib.AtDataPtr(y.c))
	rows := chunkRows(N, K)
	chunks := (N + rows - 1) / rows
	size := sizeClass(N * K * 4)
	share := chunks > 1 && sharing.choose(size)
	start := time.Now()
	runChunks(chunks, share, func(i int64) {
		r0 := i * rows
		n := min(rows, N-r0)
		C.glm_linear_rows(xp, wp, bp, yp, C.int(m), C.int(K), C.int(N), C.int(r0), C.int(n), C.int(b32(gelu)))
	})
	if chunks > 1 {
		sharing.observe(size, share, time.Since(start))
	}
	runtime.KeepAlive(x)
	runtime.KeepAlive(w)
	runtime.KeepAlive(b)
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

// chunkRows picks how many rows of w one chunk holds: about 256 KB of weights
// (so the last chunks even out the threads' finishing times) but at least 64
// rows (so per-chunk overhead stays small) and at most N.
var ChunkBytes int64 = 256 << 10

func chunkRows(N, K int64) int64 {
	r := max(64, ChunkBytes/(4*K))
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

// ---- the helper threads ----

// rowJob is one RowLinear call shared between threads.
type rowJob struct {
	next, done atomic.Int64
	n          int64
	fn         func(int64)
	finished   chan struct{} // closed by whoever finishes the last chunk
}

// work takes chunks until none are left.
func (j *rowJob) work() {
	for {
		i := j.next.Add(1) - 1
		if i >= j.n {
			return
		}
		j.fn(i)
		if j.done.Add(1) == j.n {
			close(j.finished)
		}
	}
}

var (
	helpersMu sync.Mutex
	helpers   []chan *rowJob
	helperN   = defaultRowLinearThreads() - 1
)

// defaultRowLinearThreads is the number of CPUs this process may run on.
func defaultRowLinearThreads() int { return runtime.NumCPU() }

// SetRowLinearThreads sets how many threads RowLinear uses, the worker
// included (default: the number of CPUs this process may run on). 1 keeps
// everything on the worker.
func SetRowLinearThreads(n int) {
	helpersMu.Lock()
	defer helpersMu.Unlock()
	helperN = max(0, n-1)
}

// helperCount is the number of helper threads RowLinear may use.
func helperCount() int {
	helpersMu.Lock()
	defer helpersMu.Unlock()
	return helperN
}

// startHelpers returns the helper queues, starting helper threads as needed.
func startHelpers() []chan *rowJob {
	helpersMu.Lock()
	defer helpersMu.Unlock()
	for len(helpers) < helperN {
		ch := make(chan *rowJob, 1)
		helpers = append(helpers, ch)
		go func() {
			// A thread of its own that only calls BLAS, single-threaded.
			runtime.LockOSThread()
			C.glm_blas_sequential(1, 0)
			for {
				j, ok := receiveSoon(ch)
				if !ok {
					return
				}
				j.work()
			}
		}()
	}
	return helpers[:helperN]
}

// helperSpin is how long a helper polls for the next job before it sleeps.
// Decoding calls RowLinear every 10–50 µs; waking a sleeping thread costs
// about as much, so a helper that slept between calls would join each one late.
const helperSpin = 50 * time.Microsecond

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

// runChunks runs fn(0…n−1) on the worker, and on the helpers too when share is
// set, and returns when all are done. Chunks are handed out one at a time, so
// a helper that is late simply takes fewer.
func runChunks(n int64, share bool, fn func(int64)) {
	j := &rowJob{n: n, fn: fn, finished: make(chan struct{})}
	if share && n > 1 {
		for _, h := range startHelpers() {
			select {
			case h <- j:
			default: // busy: we do not wait for it
			}
		}
	}
	prev := C.glm_blas_sequential(1, 0)
	j.work()
	C.glm_blas_sequential(0, prev)
	if j.done.Load() < n {
		<-j.finished
	}
}

// ---- when to share ----

// sharing decides, per size of weight matrix, whether RowLinear hands chunks
// to the helper threads or keeps them on the worker, from the speed each way
// has had lately. Why: sharing pays when the cores are free and memory
// bandwidth is left (a 103 MB product ran at 21 GB/s alone and 38–43 GB/s
// shared on this 2-core machine), but it can cost: a chunk a helper has taken
// must be finished before the product returns, and a helper descheduled by
// another process's work makes the worker wait for it; with the memory bus
// already saturated a second reader adds nothing. Measured on the 24 layer
// matrices of pythia-70m (1–4 MB each), in turns a minute apart: shared
// 34.9 vs alone 22.9 GB/s (best of 30), then 13.2 vs 17.9. Which way wins
// changes with the load, so RowLinear keeps measuring. The choice never
// changes results: the chunks and their arithmetic are the same either way.
var sharing = &shareStats{}

// shareOverride forces the choice in tests: 1 always share, −1 never, 0 learn.
var shareOverride int

// shareStats holds, per size class and way (0 alone, 1 shared), a moving
// average of the seconds per call and the number of calls.
type shareStats struct {
	mu    sync.Mutex
	secs  [64][2]float64
	calls [64][2]int
}

// sharingProbeEvery is how often (in calls of a size class) the way that is
// currently slower is tried again, so a change in load is noticed.
const sharingProbeEvery = 16

// sizeClass buckets a matrix size in bytes by its power of two.
func sizeClass(bytes int64) int { return bits.Len64(uint64(bytes)) }

// choose reports whether the next call of this size class should share.
func (st *shareStats) choose(size int) bool {
	if helperCount() == 0 {
		return false
	}
	if shareOverride != 0 {
		return shareOverride > 0
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	c, t := st.calls[size], st.secs[size]
	switch {
	case c[1] < 3: // learn both ways first
		return true
	case c[0] < 3:
		return false
	}
	best := t[1] <= t[0]
	if (c[0]+c[1])%sharingProbeEvery == 0 {
		return !best
	}
	return best
}

// observe records how long a call of this size class took.
func (st *shareStats) observe(size int, shared bool, d time.Duration) {
	way := 0
	if shared {
		way = 1
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	const keep = 0.8 // weight of the past in the moving average
	if st.calls[size][way] == 0 {
		st.secs[size][way] = d.Seconds()
	} else {
		st.secs[size][way] = keep*st.secs[size][way] + (1-keep)*d.Seconds()
	}
	st.calls[size][way]++
}
