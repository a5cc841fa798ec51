// argmax_screen.c: exact argmax of x·wᵀ screened by an int8 copy of w
// (argmax_screen.h; the Go side and the reasoning are in argmax_linear.go).
#include "argmax_screen.h"

#include <math.h>
#include <stddef.h>

// The SIMD kernels are x86-64 only (GCC/Clang intrinsics, picked at run
// time with __builtin_cpu_supports); elsewhere (arm64) the portable C
// kernel is the only one, and the compiler may vectorise it for the target.
// GLM_PORTABLE forces that path on x86-64 too (scripts/check-portable).
#if defined(__x86_64__) && !defined(GLM_PORTABLE)
#define GLM_X86 1
#include <immintrin.h>
#endif

// round_up_float returns the smallest float ≥ d.
static float round_up_float(double d) {
	float f = (float)d;
	if ((double)f < d) f = nextafterf(f, INFINITY);
	return f;
}

// quantize_row writes q = round(v/s), s = max|v|/127 (0 for a zero row), and
// returns s; *err2 gets Σ(v − s·q)² and *q2 Σq², in double.
static float quantize_row(const float *v, int K, int8_t *q, double *err2, double *q2) {
	float amax = 0;
	for (int k = 0; k < K; k++) amax = fmaxf(amax, fabsf(v[k]));
	const float s = amax / 127.0f;
	double e = 0, n = 0;
	for (int k = 0; k < K; k++) {
		float t = s > 0 ? nearbyintf(v[k] / s) : 0;
		t = fminf(127.0f, fmaxf(-127.0f, t));
		q[k] = (int8_t)t;
		double d = (double)v[k] - (double)s * t;
		e += d * d;
		n += (double)t * t;
	}
	*err2 = e, *q2 = n;
	return s;
}

// The roundings of the double sums above are far below this relative margin.
#define MARGIN (1 + 1e-9)

void glm_screen_build(const float *w, int64_t r0, int64_t n, int K, int8_t *q, float *scale, float *err,
                      float *gain, int32_t *qsum) {
	for (int64_t r = r0; r < r0 + n; r++) {
		int8_t *qr = q + r * K;
		double e2, q2;
		const float s = quantize_row(w + r * K, K, qr, &e2, &q2);
		int32_t sum = 0;
		for (int k = 0; k < K; k++) sum += qr[k];
		scale[r] = s;
		err[r] = round_up_float(sqrt(e2) * MARGIN);
		gain[r] = round_up_float((double)s * sqrt(q2) * MARGIN);
		qsum[r] = sum;
	}
}

float glm_screen_quantize(const float *x, int K, int8_t *xq, uint8_t *xu, double *xnorm, double *xerr) {
	double n2 = 0;
	for (int k = 0; k < K; k++) n2 += (double)x[k] * x[k];
	if (!isfinite(n2)) return -1;
	double e2, q2;
	const float s = quantize_row(x, K, xq, &e2, &q2);
	for (int k = 0; k < K; k++) xu[k] = (uint8_t)(xq[k] + 128);
	*xnorm = sqrt(n2) * MARGIN;
	*xerr = sqrt(e2) * MARGIN;
	return s;
}

// dot4_* set d[j] = q_j·xq for the four int8 rows q + j·K, exactly (int32).

static void dot4_default(const int8_t *xq, const uint8_t *xu, const int8_t *q, const int32_t *qsum, int K,
                         int32_t d[4]) {
	(void)xu, (void)qsum;
	for (int j = 0; j < 4; j++) {
		const int8_t *qj = q + (ptrdiff_t)j * K;
		int32_t s = 0;
		for (int k = 0; k < K; k++) s += (int32_t)xq[k] * qj[k];
		d[j] = s;
	}
}

#if GLM_X86
// AVX2: vpmaddubsw multiplies unsigned bytes by signed ones and adds
// adjacent pairs into int16 with saturation. With |xq| as the unsigned
// bytes and q carrying xq's sign (vpsignb), each product is xq_k·q_k and a
// pair is at most 2·127·127 = 32258 in magnitude (both are within ±127), so
// nothing saturates; vpmaddwd by ones then widens the pairs into int32.
// That is 32 weights in four instructions, half the work of widening both
// to int16 first. The multiplies still take about as long as memory takes
// to deliver the bytes, so the loop also prefetches the rows three blocks
// of four ahead (two cache lines per step cover a block of 4·K bytes in
// its K/32 steps): the loads then find them in cache instead of waiting on
// a stream the hardware prefetchers pick up late (rows of K bytes are short
// streams).
__attribute__((target("avx2"))) static void dot4_avx2(const int8_t *xq, const uint8_t *xu, const int8_t *q,
                                                      const int32_t *qsum, int K, int32_t d[4]) {
	(void)xu, (void)qsum;
	const __m256i ones = _mm256_set1_epi16(1);
	__m256i a[4] = {_mm256_setzero_si256(), _mm256_setzero_si256(), _mm256_setzero_si256(), _mm256_setzero_si256()};
	int k = 0;
	for (; k + 32 <= K; k += 32) {
		const __m256i x = _mm256_loadu_si256((const __m256i *)(xq + k));
		const __m256i ax = _mm256_abs_epi8(x);
		_mm_prefetch((const char *)(q + 12 * (ptrdiff_t)K + 2 * k), _MM_HINT_T0);
		_mm_prefetch((const char *)(q + 12 * (ptrdiff_t)K + 2 * k + 64), _MM_HINT_T0);
		for (int j = 0; j < 4; j++) {
			__m256i w = _mm256_sign_epi8(_mm256_loadu_si256((const __m256i *)(q + (ptrdiff_t)j * K + k)), x);
			a[j] = _mm256_add_epi32(a[j], _mm256_madd_epi16(_mm256_maddubs_epi16(ax, w), ones));
		}
	}
	for (int j = 0; j < 4; j++) {
		__m128i s4 = _mm_add_epi32(_mm256_castsi256_si128(a[j]), _mm256_extracti128_si256(a[j], 1));
		s4 = _mm_add_epi32(s4, _mm_shuffle_epi32(s4, _MM_SHUFFLE(1, 0, 3, 2)));
		s4 = _mm_add_epi32(s4, _mm_shuffle_epi32(s4, _MM_SHUFFLE(2, 3, 0, 1)));
		int32_t s = _mm_cvtsi128_si32(s4);
		for (int t = k; t < K; t++) s += (int32_t)xq[t] * q[(ptrdiff_t)j * K + t];
		d[j] = s;
	}
}

// AVX-512 VNNI: vpdpbusd multiplies 64 unsigned bytes (xu = xq + 128) by 64
// signed ones and adds each group of four into an int32 lane, so Σ xu·q =
// q·xq + 128·Σq.
__attribute__((target("avx512f,avx512bw,avx512vnni"))) static void dot4_vnni(const int8_t *xq, const uint8_t *xu,
                                                                            const int8_t *q, const int32_t *qsum,
                                                                            int K, int32_t d[4]) {
	(void)xq;
	__m512i a[4] = {_mm512_setzero_si512(), _mm512_setzero_si512(), _mm512_setzero_si512(), _mm512_setzero_si512()};
	for (int k = 0; k < K; k += 64) {
		const __mmask64 m = K - k >= 64 ? ~(__mmask64)0 : (((__mmask64)1 << (K - k)) - 1);
		__m512i x = _mm512_maskz_loadu_epi8(m, xu + k);
		for (int j = 0; j < 4; j++)
			a[j] = _mm512_dpbusd_epi32(a[j], x, _mm512_maskz_loadu_epi8(m, q + (ptrdiff_t)j * K + k));
	}
	for (int j = 0; j < 4; j++) d[j] = _mm512_reduce_add_epi32(a[j]) - 128 * qsum[j];
}
#endif

typedef void (*dot4_fn)(const int8_t *, const uint8_t *, const int8_t *, const int32_t *, int, int32_t *);

static dot4_fn chosen;

// dot4 picks the widest kernel this CPU runs, once. All give the same sums.
static dot4_fn dot4(void) {
	dot4_fn fn = __atomic_load_n(&chosen, __ATOMIC_RELAXED);
	if (!fn) {
		fn = dot4_default;
#if GLM_X86
		__builtin_cpu_init();
		if (__builtin_cpu_supports("avx512vnni") && __builtin_cpu_supports("avx512bw")) fn = dot4_vnni;
		else if (__builtin_cpu_supports("avx2")) fn = dot4_avx2;
#endif
		__atomic_store_n(&chosen, fn, __ATOMIC_RELAXED);
	}
	return fn;
}

int glm_screen_set_kernel(int k) {
	dot4_fn fn = 0;
	switch (k) {
	case 1: fn = dot4_default; break;
#if GLM_X86
	case 2:
		__builtin_cpu_init();
		if (__builtin_cpu_supports("avx2")) fn = dot4_avx2; else return 0;
		break;
	case 3:
		__builtin_cpu_init();
		if (__builtin_cpu_supports("avx512vnni") && __builtin_cpu_supports("avx512bw")) fn = dot4_vnni; else return 0;
		break;
#else
	case 2: case 3: return 0;
#endif
	}
	__atomic_store_n(&chosen, fn, __ATOMIC_RELAXED);
	return 1;
}

void glm_screen_dot4(const int8_t *xq, const uint8_t *xu, const int8_t *q, const int32_t *qsum, int K,
                     int32_t *d) {
	dot4()(xq, xu, q, qsum, K, d);
}

void glm_screen_rows(const int8_t *xq, const uint8_t *xu, float sx, const int8_t *q, const float *scale,
                     const int32_t *qsum, float *out, int K, int64_t r0, int n) {
	const dot4_fn f = dot4();
	int j = 0;
	int32_t d[4];
	for (; j + 4 <= n; j += 4) {
		f(xq, xu, q + (r0 + j) * K, qsum + r0 + j, K, d);
		for (int t = 0; t < 4; t++) out[j + t] = (float)((double)scale[r0 + j + t] * sx * d[t]);
	}
	for (; j < n; j++) {
		const int8_t *qr = q + (r0 + j) * K;
		int32_t s = 0;
		for (int k = 0; k < K; k++) s += (int32_t)xq[k] * qr[k];
		out[j] = (float)((double)scale[r0 + j] * sx * s);
	}
}

void glm_screen_rows_m(const int8_t *xq, const uint8_t *xu, const float *sx, int m, const int8_t *q,
                       const float *scale, const int32_t *qsum, float *out, int ldo, int K, int64_t r0, int n) {
	for (int i = 0; i < m; i++)
		glm_screen_rows(xq + (ptrdiff_t)i * K, xu + (ptrdiff_t)i * K, sx[i], q, scale, qsum, out + (ptrdiff_t)i * ldo, K,
		                r0, n);
}

int64_t glm_screen_select(const float *x, const float *w, const float *a, const float *err, const float *gain,
                          double xnorm, double xerr, int64_t N, int K, int64_t *candidates) {
	// a_r is the exact integer dot product scaled with up to three float
	// roundings (int32 → float above 2²⁴, the double product → float):
	// a relative 2⁻²⁰ covers them.
	const double rel = ldexp(1.0, -20);
	double lo = -INFINITY;
	for (int64_t r = 0; r < N; r++) {
		double v = (double)a[r] - ((double)err[r] * xnorm + (double)gain[r] * xerr + fabs((double)a[r]) * rel);
		if (v > lo) lo = v;
	}
	int64_t best = -1, n = 0;
	double bestv = -INFINITY;
	for (int64_t r = 0; r < N; r++) {
		if ((double)a[r] + ((double)err[r] * xnorm + (double)gain[r] * xerr + fabs((double)a[r]) * rel) < lo)
			continue;
		const float *wr = w + r * K;
		double v = 0;
		for (int k = 0; k < K; k++) v += (double)wr[k] * x[k];
		n++;
		if (best < 0 || v > bestv) best = r, bestv = v;
	}
	*candidates = n;
	return best;
}
