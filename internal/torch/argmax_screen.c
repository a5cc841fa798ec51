// argmax_screen.c: exact argmax of x·wᵀ screened by an int8 copy of w
// (argmax_screen.h; the Go side and the reasoning are in argmax_linear.go).
#include "argmax_screen.h"

#include <immintrin.h>
#include <math.h>
#include <stddef.h>

// Unit roundoff of float32 and γ_K = K·u/(1 − K·u), the bound on the relative
// error of a K-term float32 dot product in any order (Higham, Accuracy and
// Stability of Numerical Algorithms, §3.1).
static double gamma_k(int K) {
	const double u = ldexp(1.0, -24);
	return K * u / (1 - K * u);
}

// round_up_float returns the smallest float ≥ d.
static float round_up_float(double d) {
	float f = (float)d;
	if ((double)f < d) f = nextafterf(f, INFINITY);
	return f;
}

void glm_screen_build(const float *w, int64_t r0, int64_t n, int K, int8_t *q, float *scale, float *bound) {
	const double g = gamma_k(K);
	for (int64_t r = r0; r < r0 + n; r++) {
		const float *wr = w + r * K;
		int8_t *qr = q + r * K;
		float amax = 0;
		for (int k = 0; k < K; k++) amax = fmaxf(amax, fabsf(wr[k]));
		float s = amax / 127.0f;
		double err2 = 0, q2 = 0;
		for (int k = 0; k < K; k++) {
			float v = s > 0 ? nearbyintf(wr[k] / s) : 0;
			v = fminf(127.0f, fmaxf(-127.0f, v));
			qr[k] = (int8_t)v;
			double d = (double)wr[k] - (double)s * v;
			err2 += d * d;
			q2 += (double)v * v;
		}
		scale[r] = s;
		// The quantization error, the dot product's rounding, and a margin for
		// the roundings of these sums themselves.
		bound[r] = round_up_float((sqrt(err2) + g * s * sqrt(q2)) * (1 + 1e-6) + 1e-30);
	}
}

// dot4_* compute q_j·x for the four int8 rows q, q+K, q+2K, q+3K.
static void dot4_default(const float *x, const int8_t *q, int K, float out[4]) {
	for (int j = 0; j < 4; j++) {
		const int8_t *qj = q + (ptrdiff_t)j * K;
		float s = 0;
		for (int k = 0; k < K; k++) s += x[k] * (float)qj[k];
		out[j] = s;
	}
}

__attribute__((target("avx2,fma"))) static void dot4_avx2(const float *x, const int8_t *q, int K, float out[4]) {
	__m256 a[4] = {_mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps()};
	int k = 0;
	for (; k + 8 <= K; k += 8) {
		__m256 h = _mm256_loadu_ps(x + k);
		for (int j = 0; j < 4; j++) {
			__m128i b = _mm_loadl_epi64((const __m128i *)(q + (ptrdiff_t)j * K + k));
			a[j] = _mm256_fmadd_ps(h, _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(b)), a[j]);
		}
	}
	for (int j = 0; j < 4; j++) {
		float l[8];
		_mm256_storeu_ps(l, a[j]);
		float s = ((l[0] + l[1]) + (l[2] + l[3])) + ((l[4] + l[5]) + (l[6] + l[7]));
		for (int t = k; t < K; t++) s += x[t] * (float)q[(ptrdiff_t)j * K + t];
		out[j] = s;
	}
}

__attribute__((target("avx512f"))) static void dot4_avx512(const float *x, const int8_t *q, int K, float out[4]) {
	__m512 a[4] = {_mm512_setzero_ps(), _mm512_setzero_ps(), _mm512_setzero_ps(), _mm512_setzero_ps()};
	int k = 0;
	for (; k + 16 <= K; k += 16) {
		__m512 h = _mm512_loadu_ps(x + k);
		for (int j = 0; j < 4; j++) {
			__m128i b = _mm_loadu_si128((const __m128i *)(q + (ptrdiff_t)j * K + k));
			a[j] = _mm512_fmadd_ps(h, _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(b)), a[j]);
		}
	}
	for (int j = 0; j < 4; j++) {
		float s = _mm512_reduce_add_ps(a[j]);
		for (int t = k; t < K; t++) s += x[t] * (float)q[(ptrdiff_t)j * K + t];
		out[j] = s;
	}
}

typedef void (*dot4_fn)(const float *, const int8_t *, int, float *);

// dot4 picks the widest kernel this CPU runs, once.
static dot4_fn dot4(void) {
	static dot4_fn chosen;
	dot4_fn fn = __atomic_load_n(&chosen, __ATOMIC_RELAXED);
	if (!fn) {
		__builtin_cpu_init();
		if (__builtin_cpu_supports("avx512f")) fn = dot4_avx512;
		else if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) fn = dot4_avx2;
		else fn = dot4_default;
		__atomic_store_n(&chosen, fn, __ATOMIC_RELAXED);
	}
	return fn;
}

// screen_dot1 is q·x for one int8 row.
static float screen_dot1(const float *x, const int8_t *q, int K) {
	float s = 0;
	for (int k = 0; k < K; k++) s += x[k] * (float)q[k];
	return s;
}

void glm_screen_rows(const float *x, const int8_t *q, const float *scale, float *out, int ldo,
                     int m, int K, int64_t r0, int n) {
	for (int i = 0; i < m; i++) {
		const float *xi = x + (ptrdiff_t)i * K;
		float *oi = out + (ptrdiff_t)i * ldo;
		const dot4_fn f = dot4();
		int j = 0;
		for (; j + 4 <= n; j += 4) {
			float d[4];
			f(xi, q + (r0 + j) * K, K, d);
			for (int t = 0; t < 4; t++) oi[j + t] = scale[r0 + j + t] * d[t];
		}
		for (; j < n; j++) oi[j] = scale[r0 + j] * screen_dot1(xi, q + (r0 + j) * K, K);
	}
}

int64_t glm_screen_select(const float *x, const float *w, const float *a, const float *bound, int64_t N, int K,
                          int64_t *candidates) {
	*candidates = 0;
	double hn2 = 0;
	for (int k = 0; k < K; k++) hn2 += (double)x[k] * x[k];
	const double hn = sqrt(hn2) * (1 + 1e-9);
	if (!isfinite(hn)) return -1;
	// a_r itself is scale_r·fl(dot) rounded once more: a relative 2⁻²⁰ covers it.
	const double rel = ldexp(1.0, -20);
	double lo = -INFINITY;
	for (int64_t r = 0; r < N; r++) {
		double v = (double)a[r] - (double)bound[r] * hn - fabs((double)a[r]) * rel;
		if (v > lo) lo = v;
	}
	int64_t best = -1, n = 0;
	double bestv = -INFINITY;
	for (int64_t r = 0; r < N; r++) {
		if ((double)a[r] + (double)bound[r] * hn + fabs((double)a[r]) * rel < lo) continue;
		const float *wr = w + r * K;
		double v = 0;
		for (int k = 0; k < K; k++) v += (double)wr[k] * x[k];
		n++;
		if (best < 0 || v > bestv) best = r, bestv = v;
	}
	*candidates = n;
	return best;
}
