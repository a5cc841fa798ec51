// argmax_screen_rows.c: ArgmaxLinear's screening scores for several input
// rows at once (argmax_screen_rows.h).
//
// Why a second kernel: with AVX2 only (no VNNI), the one-row kernel widens
// every int8 weight to int16 and multiplies 16 pairs per instruction,
// widening each weight again for every input row. Here the input is
// quantized to 7 bits instead of 8, stored as xu = xq + 64 in 1…127, so
// vpmaddubsw (unsigned × signed bytes, adjacent products added in int16)
// takes the int8 weights as they are, 32 products per instruction, and can
// never saturate: |a·b + c·d| ≤ 2·127·127 = 32258 < 32767. Then Σ xu·q =
// q·xq + 64·Σq. A tile of 3 weight rows meets 2 input rows at a time. The
// coarser input only widens the screening radius (‖x − sx·xq‖ is carried
// into it), so the argmax stays exact.
#include "argmax_screen_rows.h"

#include <math.h>
#include <stddef.h>

#if defined(__x86_64__) && !defined(GLM_PORTABLE)
#define GLM_X86 1
#include <immintrin.h>
#endif

// Relative margin over the double sums' roundings (as argmax_screen.c's).
#define MARGIN (1 + 1e-9)

float glm_screen_quantize7(const float *x, int K, uint8_t *xu, double *xnorm, double *xerr) {
	double n2 = 0;
	float amax = 0;
	for (int k = 0; k < K; k++) {
		n2 += (double)x[k] * x[k];
		amax = fmaxf(amax, fabsf(x[k]));
	}
	if (!isfinite(n2)) return -1;
	const float s = amax / 63.0f;
	double e2 = 0;
	for (int k = 0; k < K; k++) {
		float t = s > 0 ? nearbyintf(x[k] / s) : 0;
		t = fminf(63.0f, fmaxf(-63.0f, t));
		xu[k] = (uint8_t)((int)t + 64);
		double d = (double)x[k] - (double)s * t;
		e2 += d * d;
	}
	*xnorm = sqrt(n2) * MARGIN;
	*xerr = sqrt(e2) * MARGIN;
	return s;
}

#if GLM_X86
#define AVX2 __attribute__((target("avx2")))

// hsum returns the sum of the 8 int32 lanes of v.
AVX2 static inline int32_t hsum(__m256i v) {
	__m128i s = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
	s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0x4e));
	s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0xb1));
	return _mm_cvtsi128_si32(s);
}

// tile computes d[i][j] = Σ xu_i·q_j for mr (1–2) inputs and nr (1–3)
// weight rows; always inlined with constant mr, nr so the sums stay in
// registers. Why 2 × 3: GCC computes all the tile's products of a pass
// before adding them up, so the registers must hold every sum and every
// product at once. 6 sums, 6 products, 3 weight vectors and the constant
// ones fit the 16 AVX2 registers. The earlier 3 × 4 tile, and 3 × 3, did
// not, and GCC kept sums on the stack: 20 (3 × 4) and 8 (3 × 3) loads and
// stores in every pass of the inner loop (objdump -d of this file).
AVX2 static inline __attribute__((always_inline)) void tile(const uint8_t *xu, const int8_t *q, int K, int mr, int nr,
                                                           int32_t d[2][3]) {
	const __m256i ones = _mm256_set1_epi16(1);
	__m256i acc[2][3];
	_Pragma("GCC unroll 2") for (int i = 0; i < mr; i++)
		_Pragma("GCC unroll 3") for (int j = 0; j < nr; j++) acc[i][j] = _mm256_setzero_si256();
	int k = 0;
	for (; k + 32 <= K; k += 32) {
		__m256i w[3];
		_Pragma("GCC unroll 3") for (int j = 0; j < nr; j++) w[j] = _mm256_loadu_si256((const __m256i *)(q + (ptrdiff_t)j * K + k));
		_Pragma("GCC unroll 2") for (int i = 0; i < mr; i++) {
			__m256i x = _mm256_loadu_si256((const __m256i *)(xu + (ptrdiff_t)i * K + k));
			_Pragma("GCC unroll 3") for (int j = 0; j < nr; j++)
				acc[i][j] = _mm256_add_epi32(acc[i][j], _mm256_madd_epi16(_mm256_maddubs_epi16(x, w[j]), ones));
		}
	}
	_Pragma("GCC unroll 2") for (int i = 0; i < mr; i++) _Pragma("GCC unroll 3") for (int j = 0; j < nr; j++) {
		int32_t s = hsum(acc[i][j]);
		for (int t = k; t < K; t++) s += (int32_t)xu[(ptrdiff_t)i * K + t] * q[(ptrdiff_t)j * K + t];
		d[i][j] = s;
	}
}

// emit writes the scores of mr inputs and nr weight rows from their sums.
static inline void emit(int32_t d[2][3], int mr, int nr, const float *sx, const float *scale, const int32_t *qsum,
                        float *out, int ldo) {
	for (int i = 0; i < mr; i++)
		for (int j = 0; j < nr; j++)
			out[(ptrdiff_t)i * ldo + j] = (float)((double)scale[j] * sx[i] * (d[i][j] - 64 * qsum[j]));
}

// run scores input rows i… (mr of them) against the tile's nr weight rows.
#define RUN(mr, nr)                                                                                     \
	do {                                                                                            \
		tile(xu + (ptrdiff_t)i * K, qj, K, mr, nr, d);                                          \
		emit(d, mr, nr, sx + i, scale + r, qsum + r, out + (ptrdiff_t)i * ldo + j, ldo);        \
	} while (0)

// rows runs one tile of nr weight rows over every input row, 2 at a time.
#define ROWS(nr)                                                                                        \
	do {                                                                                            \
		int i = 0;                                                                              \
		for (; i + 2 <= m; i += 2) RUN(2, nr);                                                  \
		if (m - i == 1) RUN(1, nr);                                                             \
	} while (0)

AVX2 static void rows7_avx2(const uint8_t *xu, const float *sx, int m, const int8_t *q, const float *scale,
                            const int32_t *qsum, float *out, int ldo, int K, int64_t r0, int n) {
	int32_t d[2][3];
	int j = 0;
	for (; j + 3 <= n; j += 3) {
		int64_t r = r0 + j;
		const int8_t *qj = q + r * K;
		ROWS(3);
	}
	int64_t r = r0 + j;
	const int8_t *qj = q + r * K;
	if (n - j == 2) ROWS(2); // the last rows of the chunk
	else if (n - j == 1) ROWS(1);
}
#endif

int glm_screen7_preferred(void) {
#if GLM_X86
	__builtin_cpu_init();
	return __builtin_cpu_supports("avx2") && !(__builtin_cpu_supports("avx512vnni") && __builtin_cpu_supports("avx512bw"));
#else
	return 0;
#endif
}

void glm_screen_rows7(const uint8_t *xu, const float *sx, int m, const int8_t *q, const float *scale,
                      const int32_t *qsum, float *out, int ldo, int K, int64_t r0, int n) {
#if GLM_X86
	rows7_avx2(xu, sx, m, q, scale, qsum, out, ldo, K, r0, n);
#else
	// Portable: the same sums in plain C (glm_screen7_preferred says 0, so
	// ArgmaxLinear does not pick this path there; kept for the build).
	for (int i = 0; i < m; i++)
		for (int j = 0; j < n; j++) {
			const int8_t *qr = q + (r0 + j) * K;
			int32_t s = 0;
			for (int k = 0; k < K; k++) s += (int32_t)xu[(ptrdiff_t)i * K + k] * qr[k];
			out[(ptrdiff_t)i * ldo + j] = (float)((double)scale[r0 + j] * sx[i] * (s - 64 * qsum[r0 + j]));
		}
#endif
}
