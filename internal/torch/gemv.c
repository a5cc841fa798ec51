// gemv.c: the one-row product of a decoding step (gemv.h).
//
// Decoding a token reads every weight once, so the product runs at the
// speed memory delivers the rows. MKL's sgemv inside libtorch takes its
// generic code path on CPUs that are not Intel's; this kernel streams four
// rows at a time with AVX2 FMAs, which keeps more loads in flight per core.
#include "gemv.h"

#include <stddef.h>

#if defined(__x86_64__) && !defined(GLM_PORTABLE)
#define GLM_X86 1
#include <immintrin.h>
#endif

#if GLM_X86
// hsum8 adds the eight lanes of v pairwise.
__attribute__((target("avx2,fma"))) static inline float hsum8(__m256 v) {
	__m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
	s = _mm_add_ps(s, _mm_movehl_ps(s, s));
	s = _mm_add_ss(s, _mm_movehdup_ps(s));
	return _mm_cvtss_f32(s);
}

// dot_tail adds x[k…K)·a[k…K) to the lanes' sum (K not a multiple of 8).
static inline float dot_tail(const float *a, const float *x, int k, int K) {
	float s = 0;
	for (; k < K; k++) s += a[k] * x[k];
	return s;
}

__attribute__((target("avx2,fma"))) static void gemv_avx2(const float *x, const float *w, const float *b, float *out,
                                                          int K, int64_t r0, int n) {
	const int K8 = K & ~7;
	int j = 0;
	for (; j + 4 <= n; j += 4) {
		const float *a0 = w + (r0 + j) * (int64_t)K, *a1 = a0 + K, *a2 = a1 + K, *a3 = a2 + K;
		__m256 s0 = _mm256_setzero_ps(), s1 = _mm256_setzero_ps(), s2 = _mm256_setzero_ps(), s3 = _mm256_setzero_ps();
		for (int k = 0; k < K8; k += 8) {
			const __m256 xv = _mm256_loadu_ps(x + k);
			s0 = _mm256_fmadd_ps(_mm256_loadu_ps(a0 + k), xv, s0);
			s1 = _mm256_fmadd_ps(_mm256_loadu_ps(a1 + k), xv, s1);
			s2 = _mm256_fmadd_ps(_mm256_loadu_ps(a2 + k), xv, s2);
			s3 = _mm256_fmadd_ps(_mm256_loadu_ps(a3 + k), xv, s3);
		}
		float d0 = hsum8(s0), d1 = hsum8(s1), d2 = hsum8(s2), d3 = hsum8(s3);
		if (K8 < K) {
			d0 += dot_tail(a0, x, K8, K), d1 += dot_tail(a1, x, K8, K);
			d2 += dot_tail(a2, x, K8, K), d3 += dot_tail(a3, x, K8, K);
		}
		if (b) d0 += b[r0 + j], d1 += b[r0 + j + 1], d2 += b[r0 + j + 2], d3 += b[r0 + j + 3];
		out[j] = d0, out[j + 1] = d1, out[j + 2] = d2, out[j + 3] = d3;
	}
	for (; j < n; j++) {
		const float *a = w + (r0 + j) * (int64_t)K;
		__m256 s = _mm256_setzero_ps();
		for (int k = 0; k < K8; k += 8) s = _mm256_fmadd_ps(_mm256_loadu_ps(a + k), _mm256_loadu_ps(x + k), s);
		float d = hsum8(s) + dot_tail(a, x, K8, K);
		out[j] = b ? d + b[r0 + j] : d;
	}
}
#endif

typedef void (*gemv_fn)(const float *, const float *, const float *, float *, int, int64_t, int);

static int picked;          // 0: not yet
static gemv_fn chosen_gemv; // NULL: BLAS

static gemv_fn gemv(void) {
	if (!__atomic_load_n(&picked, __ATOMIC_ACQUIRE)) glm_gemv_set_kernel(0);
	return __atomic_load_n(&chosen_gemv, __ATOMIC_RELAXED);
}

int glm_gemv_set_kernel(int k) {
	gemv_fn fn = 0;
	if (k == 0) {
#if GLM_X86
		__builtin_cpu_init();
		if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) fn = gemv_avx2;
#endif
	} else if (k != 1) {
		return 0;
	}
	__atomic_store_n(&chosen_gemv, fn, __ATOMIC_RELAXED);
	__atomic_store_n(&picked, 1, __ATOMIC_RELEASE);
	return 1;
}

int glm_gemv_rows(const float *x, const float *w, const float *b, float *out, int K, int64_t r0, int n) {
	const gemv_fn fn = gemv();
	if (!fn) return 0;
	fn(x, w, b, out, K, r0, n);
	return 1;
}
