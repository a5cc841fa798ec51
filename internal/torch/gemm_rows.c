// gemm_rows.c: y = x·wᵀ for a few rows of x (gemm_rows.h).
//
// Why not BLAS: for 2–16 input rows MKL's sgemm first copies (packs) the
// weight chunk into its own panel layout, which for a matrix it reads only
// once costs about as much as the multiply itself. Here each weight row is
// read in place: a tile of 4 weight rows stays in L1 while it meets every
// input row, 3 input rows at a time, and the 12 running sums of 8 floats
// each are reduced once per tile.
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

// sum4 returns the four horizontal sums of a, b, c, d.
AVX2 static inline __m128 sum4(__m256 a, __m256 b, __m256 c, __m256 d) {
	__m256 t = _mm256_hadd_ps(_mm256_hadd_ps(a, b), _mm256_hadd_ps(c, d)); // per 128-bit half: a, b, c, d
	return _mm_add_ps(_mm256_castps256_ps128(t), _mm256_extractf128_ps(t, 1));
}

// store4 writes (beta 0) or adds (beta 1) v to o[0..3].
AVX2 static inline void store4(float *o, __m128 v, int beta) {
	if (beta) v = _mm_add_ps(v, _mm_loadu_ps(o));
	_mm_storeu_ps(o, v);
}

// tile4 computes mr (1–3) input rows times 4 weight rows. Always inlined
// with a constant mr, so the sums live in registers.
// pf, when not NULL, is the next tile's 4 weight rows: one prefetch per
// 64-byte line of each as the loop passes the same offset in this tile.
AVX2 static inline __attribute__((always_inline)) void tile4(const float *x, const float *w, float *out, int ldo,
                                                            int mr, int K, int beta, const float *pf) {
	__m256 acc[3][4];
	_Pragma("GCC unroll 3") for (int i = 0; i < mr; i++)
		_Pragma("GCC unroll 4") for (int j = 0; j < 4; j++) acc[i][j] = _mm256_setzero_ps();
	int k = 0;
	for (; k + 8 <= K; k += 8) {
		__m256 wv[4];
		_Pragma("GCC unroll 4") for (int j = 0; j < 4; j++) wv[j] = _mm256_loadu_ps(w + (long)j * K + k);
		if (pf && (k & 8)) { // every other step of 8 floats: once per line
			_Pragma("GCC unroll 4") for (int j = 0; j < 4; j++) _mm_prefetch((const char *)(pf + (long)j * K + k), _MM_HINT_T0);
		}
		_Pragma("GCC unroll 3") for (int i = 0; i < mr; i++) {
			__m256 xv = _mm256_loadu_ps(x + (long)i * K + k);
			_Pragma("GCC unroll 4") for (int j = 0; j < 4; j++) acc[i][j] = _mm256_fmadd_ps(xv, wv[j], acc[i][j]);
		}
	}
	_Pragma("GCC unroll 3") for (int i = 0; i < mr; i++) {
		__m128 s = sum4(acc[i][0], acc[i][1], acc[i][2], acc[i][3]);
		if (k < K) { // K not a multiple of 8
			float t[4] = {0, 0, 0, 0};
			for (int j = 0; j < 4; j++)
				for (int r = k; r < K; r++) t[j] += x[(long)i * K + r] * w[(long)j * K + r];
			s = _mm_add_ps(s, _mm_loadu_ps(t));
		}
		store4(out + (long)i * ldo, s, beta);
	}
}

// tile1 computes mr (1–3) input rows times one weight row.
AVX2 static inline __attribute__((always_inline)) void tile1(const float *x, const float *w, float *out, int ldo,
                                                            int mr, int K, int beta) {
	__m256 acc[3];
	_Pragma("GCC unroll 3") for (int i = 0; i < mr; i++) acc[i] = _mm256_setzero_ps();
	int k = 0;
	for (; k + 8 <= K; k += 8) {
		__m256 wv = _mm256_loadu_ps(w + k);
		_Pragma("GCC unroll 3") for (int i = 0; i < mr; i++) acc[i] = _mm256_fmadd_ps(_mm256_loadu_ps(x + (long)i * K + k), wv, acc[i]);
	}
	_Pragma("GCC unroll 3") for (int i = 0; i < mr; i++) {
		__m128 h = _mm_add_ps(_mm256_castps256_ps128(acc[i]), _mm256_extractf128_ps(acc[i], 1));
		h = _mm_hadd_ps(h, h);
		h = _mm_hadd_ps(h, h);
		float s = _mm_cvtss_f32(h);
		for (int r = k; r < K; r++) s += x[(long)i * K + r] * w[r];
		out[(long)i * ldo] = beta ? out[(long)i * ldo] + s : s;
	}
}

AVX2 static void gemm_avx2(const float *x, const float *w, float *out, int ldo, int m, int n, int K, int beta) {
	int j = 0;
	for (; j + 4 <= n; j += 4) {
		const float *wj = w + (long)j * K;
		const float *pf = j + 8 <= n ? wj + 4L * K : 0; // the next tile, for the first pass
		int i = 0;
		for (; i + 3 <= m; i += 3, pf = 0) tile4(x + (long)i * K, wj, out + (long)i * ldo + j, ldo, 3, K, beta, pf);
		if (m - i == 2) tile4(x + (long)i * K, wj, out + (long)i * ldo + j, ldo, 2, K, beta, pf);
		if (m - i == 1) tile4(x + (long)i * K, wj, out + (long)i * ldo + j, ldo, 1, K, beta, pf);
	}
	for (; j < n; j++) {
		const float *wj = w + (long)j * K;
		int i = 0;
		for (; i + 3 <= m; i += 3) tile1(x + (long)i * K, wj, out + (long)i * ldo + j, ldo, 3, K, beta);
		if (m - i == 2) tile1(x + (long)i * K, wj, out + (long)i * ldo + j, ldo, 2, K, beta);
		if (m - i == 1) tile1(x + (long)i * K, wj, out + (long)i * ldo + j, ldo, 1, K, beta);
	}
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
