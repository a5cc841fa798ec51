// argmax_screen.c: exact argmax of x·wᵀ screened by an int8 copy of w
// (argmax_screen.h; the Go side and the reasoning are in argmax_linear.go).
#include "argmax_screen.h"

#include <math.h>
#include <stddef.h>

// Elsewhere than x86-64 (and with GLM_PORTABLE) the portable C kernels are
// the only ones, and the compiler may vectorise them for the target.
#include "cpu_x86.h"

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

// screen_radius is the half-width of a row's interval around its score a:
// err·‖x‖ + gain·‖x − sx·xq‖ (xnorm, xerr) plus a relative 2⁻²⁰ of a, which
// covers a's own roundings (int32 → float above 2²⁴, the double product →
// float: up to three). bounds_16_avx2 computes the same three products
// and two sums in the same order (AVX2 without FMA, so nothing is fused),
// so a block's largest upper end bounds every row's upper end as
// glm_screen_select recomputes it here.
static inline double screen_radius(float a, float err, float gain, double xnorm, double xerr) {
	return (double)err * xnorm + (double)gain * xerr + fabs((double)a) * 0x1p-20;
}

// bounds_block writes the largest lower and upper ends of n ≤ 16 rows.
static void bounds_block(const float *a, const float *err, const float *gain, double xnorm, double xerr, int n,
                         double *lohi) {
	double lo = -INFINITY, hi = -INFINITY;
	for (int r = 0; r < n; r++) {
		const double rad = screen_radius(a[r], err[r], gain[r], xnorm, xerr);
		const double l = (double)a[r] - rad, h = (double)a[r] + rad;
		lo = l > lo ? l : lo; // not fmax: a library call per row (NaN rules)
		hi = h > hi ? h : hi;
	}
	lohi[0] = lo, lohi[1] = hi;
}

#if GLM_X86
// bounds_16_avx2 is bounds_block for 16 rows, four at a time in double.
__attribute__((target("avx2"))) static void bounds_16_avx2(const float *a, const float *err, const float *gain,
                                                           double xnorm, double xerr, double *lohi) {
	const __m256d xn = _mm256_set1_pd(xnorm), xe = _mm256_set1_pd(xerr), rel = _mm256_set1_pd(0x1p-20);
	const __m256d sign = _mm256_set1_pd(-0.0);
	__m256d lo = _mm256_set1_pd(-INFINITY), hi = lo;
	for (int r = 0; r < 16; r += 4) {
		const __m256d av = _mm256_cvtps_pd(_mm_loadu_ps(a + r));
		const __m256d ev = _mm256_cvtps_pd(_mm_loadu_ps(err + r));
		const __m256d gv = _mm256_cvtps_pd(_mm_loadu_ps(gain + r));
		const __m256d rad = _mm256_add_pd(_mm256_add_pd(_mm256_mul_pd(ev, xn), _mm256_mul_pd(gv, xe)),
		                                  _mm256_mul_pd(_mm256_andnot_pd(sign, av), rel));
		lo = _mm256_max_pd(lo, _mm256_sub_pd(av, rad));
		hi = _mm256_max_pd(hi, _mm256_add_pd(av, rad));
	}
	// Lanes 0–3 of lo and hi reduced to one value each.
	__m256d t = _mm256_max_pd(_mm256_unpacklo_pd(lo, hi), _mm256_unpackhi_pd(lo, hi)); // lo0|hi0 lo1|hi1 per half
	__m128d u = _mm_max_pd(_mm256_castpd256_pd128(t), _mm256_extractf128_pd(t, 1));
	_mm_storeu_pd(lohi, u);
}
#endif


void glm_screen_bounds(const float *a, int lda, int m, const float *err, const float *gain, const double *xnorm,
                       const double *xerr, int n, double *lohi, int64_t ldl) {
	const int avx2 = glm_avx2_fma();
	for (int i = 0; i < m; i++) {
		const float *ai = a + (long)i * lda;
		double *li = lohi + i * ldl;
		for (int r = 0; r < n; r += GLM_SCREEN_BLOCK, li += 2) {
			const int nb = n - r < GLM_SCREEN_BLOCK ? n - r : GLM_SCREEN_BLOCK;
#if GLM_X86
			if (avx2 && nb == 16) {
				bounds_16_avx2(ai + r, err + r, gain + r, xnorm[i], xerr[i], li);
				continue;
			}
#endif
			bounds_block(ai + r, err + r, gain + r, xnorm[i], xerr[i], nb, li);
		}
	}
	(void)avx2;
}

// dot_exact returns w·x in double. Products of floats are exact in double;
// four running sums break the chain of dependent additions (the scalar
// chain of one sum was most of select's time with 50–100 candidates).
static double dot_exact_default(const float *w, const float *x, int K) {
	double s[4] = {0, 0, 0, 0};
	int k = 0;
	for (; k + 4 <= K; k += 4)
		for (int j = 0; j < 4; j++) s[j] += (double)w[k + j] * x[k + j];
	for (; k < K; k++) s[0] += (double)w[k] * x[k];
	return (s[0] + s[1]) + (s[2] + s[3]);
}

#if GLM_X86
__attribute__((target("avx2,fma"))) static double dot_exact_avx2(const float *w, const float *x, int K) {
	__m256d a0 = _mm256_setzero_pd(), a1 = a0, a2 = a0, a3 = a0;
	int k = 0;
	for (; k + 16 <= K; k += 16) {
		a0 = _mm256_fmadd_pd(_mm256_cvtps_pd(_mm_loadu_ps(w + k)), _mm256_cvtps_pd(_mm_loadu_ps(x + k)), a0);
		a1 = _mm256_fmadd_pd(_mm256_cvtps_pd(_mm_loadu_ps(w + k + 4)), _mm256_cvtps_pd(_mm_loadu_ps(x + k + 4)), a1);
		a2 = _mm256_fmadd_pd(_mm256_cvtps_pd(_mm_loadu_ps(w + k + 8)), _mm256_cvtps_pd(_mm_loadu_ps(x + k + 8)), a2);
		a3 = _mm256_fmadd_pd(_mm256_cvtps_pd(_mm_loadu_ps(w + k + 12)), _mm256_cvtps_pd(_mm_loadu_ps(x + k + 12)), a3);
	}
	__m256d a = _mm256_add_pd(_mm256_add_pd(a0, a1), _mm256_add_pd(a2, a3));
	__m128d h = _mm_add_pd(_mm256_castpd256_pd128(a), _mm256_extractf128_pd(a, 1));
	double sum = _mm_cvtsd_f64(_mm_add_sd(h, _mm_unpackhi_pd(h, h)));
	for (; k < K; k++) sum += (double)w[k] * x[k];
	return sum;
}
#endif

static double dot_exact(const float *w, const float *x, int K) {
#if GLM_X86
	if (glm_avx2_fma()) return dot_exact_avx2(w, x, K);
#endif
	return dot_exact_default(w, x, K);
}

int64_t glm_screen_select(const float *x, const float *w, const float *a, const float *err, const float *gain,
                          double xnorm, double xerr, int64_t N, int K, const double *lohi, int64_t *candidates) {
	const int64_t blocks = (N + GLM_SCREEN_BLOCK - 1) / GLM_SCREEN_BLOCK;
	double lo = -INFINITY;
	for (int64_t c = 0; c < blocks; c++)
		if (lohi[2 * c] > lo) lo = lohi[2 * c];
	int64_t best = -1, n = 0;
	double bestv = -INFINITY;
	for (int64_t c = 0; c < blocks; c++) {
		if (lohi[2 * c + 1] < lo) continue; // no row of this block reaches lo
		const int64_t end = c + 1 < blocks ? (c + 1) * GLM_SCREEN_BLOCK : N;
		for (int64_t r = c * GLM_SCREEN_BLOCK; r < end; r++) {
			if ((double)a[r] + screen_radius(a[r], err[r], gain[r], xnorm, xerr) < lo) continue;
			const double v = dot_exact(w + r * K, x, K);
			n++;
			if (best < 0 || v > bestv) best = r, bestv = v;
		}
	}
	*candidates = n;
	return best;
}
