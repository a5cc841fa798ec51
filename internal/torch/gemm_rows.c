// gemm_rows.c: y = x·wᵀ for a few rows of x (gemm_rows.h).
//
// Why not BLAS: for 2–16 input rows MKL's sgemm first copies (packs) the
// weight chunk into its own panel layout, which for a matrix it reads only
// once costs about as much as the multiply itself. Here each weight row is
// read in place: a tile of 3 weight rows stays in L1 while it meets every
// input row, 4 input rows at a time, and the 12 running sums of 8 floats
// each are reduced once per tile.
//
// Why 4 input rows × 3 weight rows: the 12 sums, the 3 weight vectors and
// the input vector are exactly the 16 AVX2 registers. The earlier 3 × 4
// tile needed 17, and GCC kept one sum on the stack, a load and a store
// around every eighth multiply-add of the inner loop (objdump -d of this
// file shows it); the 4 × 3 tile has no stack access in that loop.
//
// Only the first pass over a tile of weight rows reads them from memory; the
// other passes find them in L1. That first pass also prefetches the next
// tile's rows, so the next tile's first pass does not wait on memory either:
// the weights are read once per call, and without the prefetch that pass
// stalled on them (bench/serve/step: the 16-row decoding step).
#include "gemm_rows.h"

// The AVX2 kernel is x86-64 only (GCC/Clang intrinsics, picked at run time);
// elsewhere, and with GLM_PORTABLE (scripts/check-portable), glm_gemm_rows
// returns 0 and RowLinear keeps BLAS.
#if defined(__x86_64__) && !defined(GLM_PORTABLE)
#define GLM_X86 1
#include <immintrin.h>
#endif

#if GLM_X86
#define AVX2 __attribute__((target("avx2,fma")))

// hsum returns the sum of a's 8 lanes, added in the order the earlier
// 4-row tile's hadd reduction added them, ((a0+a1)+(a2+a3)) +
// ((a4+a5)+(a6+a7)), so the products keep their last bit.
AVX2 static inline float hsum(__m256 a) {
	__m256 t = _mm256_hadd_ps(a, a);
	t = _mm256_hadd_ps(t, t); // lane 0: (a0+a1)+(a2+a3); lane 4: (a4+a5)+(a6+a7)
	return _mm_cvtss_f32(_mm_add_ss(_mm256_castps256_ps128(t), _mm256_extractf128_ps(t, 1)));
}

// tile computes mr (1–4) input rows times nr (1–4) weight rows, mr·nr ≤ 12
// (at most 12 sums, with nr weight vectors, in 16 registers). Always
// inlined with constant mr and nr, so the sums live in registers.
// pf, when not NULL, is the next tile's nr weight rows: one prefetch per
// 64-byte line of each as the loop passes the same offset in this tile.
AVX2 static inline __attribute__((always_inline)) void tile(const float *x, const float *w, float *out, int ldo,
                                                           int mr, int nr, int K, int beta, const float *pf) {
	__m256 acc[4][4];
	_Pragma("GCC unroll 4") for (int i = 0; i < mr; i++)
		_Pragma("GCC unroll 4") for (int j = 0; j < nr; j++) acc[i][j] = _mm256_setzero_ps();
	int k = 0;
	for (; k + 8 <= K; k += 8) {
		__m256 wv[4];
		_Pragma("GCC unroll 4") for (int j = 0; j < nr; j++) wv[j] = _mm256_loadu_ps(w + (long)j * K + k);
		if (pf && (k & 8)) { // every other step of 8 floats: once per line
			_Pragma("GCC unroll 4") for (int j = 0; j < nr; j++) _mm_prefetch((const char *)(pf + (long)j * K + k), _MM_HINT_T0);
		}
		_Pragma("GCC unroll 4") for (int i = 0; i < mr; i++) {
			__m256 xv = _mm256_loadu_ps(x + (long)i * K + k);
			_Pragma("GCC unroll 4") for (int j = 0; j < nr; j++) acc[i][j] = _mm256_fmadd_ps(xv, wv[j], acc[i][j]);
		}
	}
	_Pragma("GCC unroll 4") for (int i = 0; i < mr; i++) {
		_Pragma("GCC unroll 4") for (int j = 0; j < nr; j++) {
			float s = hsum(acc[i][j]);
			if (k < K) { // K not a multiple of 8
				float t = 0;
				for (int r = k; r < K; r++) t += x[(long)i * K + r] * w[(long)j * K + r];
				s += t;
			}
			float *o = out + (long)i * ldo + j;
			*o = beta ? *o + s : s;
		}
	}
}

// rows runs tile over every input row for one tile of nr weight rows; only
// the first pass (the first 4 input rows) prefetches.
#define ROWS(nr)                                                                                                 \
	do {                                                                                                     \
		int i = 0;                                                                                       \
		for (; i + 4 <= m; i += 4, pf = 0) tile(x + (long)i * K, wj, out + (long)i * ldo + j, ldo, 4, nr, K, beta, pf); \
		if (m - i == 3) tile(x + (long)i * K, wj, out + (long)i * ldo + j, ldo, 3, nr, K, beta, pf);     \
		if (m - i == 2) tile(x + (long)i * K, wj, out + (long)i * ldo + j, ldo, 2, nr, K, beta, pf);     \
		if (m - i == 1) tile(x + (long)i * K, wj, out + (long)i * ldo + j, ldo, 1, nr, K, beta, pf);     \
	} while (0)

// gemm_avx2 takes weight rows 3 at a time; for one or two input rows,
// whose products are memory-bound, 4 at a time (8 sums), which keeps more
// weight rows streaming per pass (bench: m = 2 ran 10–20 % slower with 3).
AVX2 static void gemm_avx2(const float *x, const float *w, float *out, int ldo, int m, int n, int K, int beta) {
	int j = 0;
	if (m <= 2) {
		for (; j + 4 <= n; j += 4) {
			const float *wj = w + (long)j * K;
			const float *pf = j + 8 <= n ? wj + 4L * K : 0; // the next tile
			if (m == 2) tile(x, wj, out + j, ldo, 2, 4, K, beta, pf);
			else tile(x, wj, out + j, ldo, 1, 4, K, beta, pf);
		}
	}
	for (; j + 3 <= n; j += 3) {
		const float *wj = w + (long)j * K;
		const float *pf = j + 6 <= n ? wj + 3L * K : 0; // the next tile, for the first pass
		ROWS(3);
	}
	const float *wj = w + (long)j * K, *pf = 0;
	if (n - j == 2) ROWS(2);
	if (n - j == 1) ROWS(1);
}
#endif

typedef void (*gemm_fn)(const float *, const float *, float *, int, int, int, int, int);

static int chosen_set;
static gemm_fn chosen;

static gemm_fn kernel(void) {
	if (!__atomic_load_n(&chosen_set, __ATOMIC_ACQUIRE)) {
		gemm_fn fn = 0;
#if GLM_X86
		__builtin_cpu_init();
		if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) fn = gemm_avx2;
#endif
		__atomic_store_n(&chosen, fn, __ATOMIC_RELAXED);
		__atomic_store_n(&chosen_set, 1, __ATOMIC_RELEASE);
	}
	return __atomic_load_n(&chosen, __ATOMIC_RELAXED);
}

int glm_gemm_rows(const float *x, const float *w, float *out, int ldo, int m, int n, int K, int beta) {
	gemm_fn fn = kernel();
	if (!fn) return 0;
	fn(x, w, out, ldo, m, n, K, beta);
	return 1;
}

int glm_gemm_rows_set_kernel(int k) {
	gemm_fn fn = 0;
	switch (k) {
	case 0: __atomic_store_n(&chosen_set, 0, __ATOMIC_RELEASE); return 1;
	case 1: break;
	case 2:
#if GLM_X86
		__builtin_cpu_init();
		if (!__builtin_cpu_supports("avx2") || !__builtin_cpu_supports("fma")) return 0;
		fn = gemm_avx2;
		break;
#else
		return 0;
#endif
	default: return 0;
	}
	__atomic_store_n(&chosen, fn, __ATOMIC_RELAXED);
	__atomic_store_n(&chosen_set, 1, __ATOMIC_RELEASE);
	return 1;
}
