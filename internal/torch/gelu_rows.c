// gelu_rows.c: exact GELU over RowLinear's output chunks (gelu_rows.h).
//
// Why: Pythia's MLP applies GELU to 2048 values per row and layer; with 16
// rows per decoding step (golamini serve) libm's erff, one value at a time,
// took a few percent of the step. The AVX2 kernel computes erf the way
// ATen's vectorized GELU does, so it stays as close to transformers as the
// libm path (TestGELURowsMatchesErf checks it against math.Erf).
#include "gelu_rows.h"

#include <math.h>

#include "cpu_x86.h"

static void gelu_libm(float *o, int ldo, int m, int n) {
	const float alpha = (float)M_SQRT1_2;
	for (int i = 0; i < m; i++) {
		float *r = o + (long)i * ldo;
		for (int j = 0; j < n; j++) {
			const float v = r[j];
			r[j] = v * 0.5f * (1.0f + erff(v * alpha));
		}
	}
}

#if GLM_X86
#define AVX2 __attribute__((target("avx2,fma")))

// exp_neg returns e^x for x ≤ 0 (Cephes' expf: x = n·ln2 + r with |r| ≤
// ln2/2, a degree-6 polynomial for e^r, and 2^n from the exponent bits).
// Below −87 it returns e^−87, a normal float: erf's use of it is then far
// below float resolution.
AVX2 static inline __m256 exp_neg(__m256 x) {
	x = _mm256_max_ps(x, _mm256_set1_ps(-87.0f));
	const __m256 n = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(1.44269504088896341f)),
	                                 _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
	__m256 r = _mm256_fnmadd_ps(n, _mm256_set1_ps(0.693359375f), x); // ln2 in two parts
	r = _mm256_fnmadd_ps(n, _mm256_set1_ps(-2.12194440e-4f), r);
	__m256 p = _mm256_set1_ps(1.9875691500e-4f);
	p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.3981999507e-3f));
	p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(8.3334519073e-3f));
	p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(4.1665795894e-2f));
	p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.6666665459e-1f));
	p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(5.0000001201e-1f));
	p = _mm256_fmadd_ps(p, _mm256_mul_ps(r, r), _mm256_add_ps(r, _mm256_set1_ps(1.0f)));
	const __m256i e = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23);
	return _mm256_mul_ps(p, _mm256_castsi256_ps(e));
}

// gelu8 is GELU of 8 values: erf(z) = 1 − t·(a1 + t·(a2 + …))·e^−z² with
// t = 1/(1 + p·|z|), z = x/√2, and erf's sign from z.
AVX2 static inline __m256 gelu8(__m256 x) {
	const __m256 sign = _mm256_set1_ps(-0.0f), one = _mm256_set1_ps(1.0f);
	const __m256 z = _mm256_mul_ps(x, _mm256_set1_ps(0.70710678118654752f));
	const __m256 az = _mm256_andnot_ps(sign, z);
	const __m256 t = _mm256_div_ps(one, _mm256_fmadd_ps(_mm256_set1_ps(0.3275911f), az, one));
	__m256 q = _mm256_set1_ps(1.061405429f);
	q = _mm256_fmadd_ps(q, t, _mm256_set1_ps(-1.453152027f));
	q = _mm256_fmadd_ps(q, t, _mm256_set1_ps(1.421413741f));
	q = _mm256_fmadd_ps(q, t, _mm256_set1_ps(-0.284496736f));
	q = _mm256_fmadd_ps(q, t, _mm256_set1_ps(0.254829592f));
	q = _mm256_mul_ps(q, t);
	const __m256 e = exp_neg(_mm256_mul_ps(_mm256_xor_ps(az, sign), az)); // e^−z²
	__m256 erf = _mm256_fnmadd_ps(q, e, one);                              // erf(|z|)
	erf = _mm256_or_ps(erf, _mm256_and_ps(z, sign));                       // erf(z)
	return _mm256_mul_ps(_mm256_mul_ps(x, _mm256_set1_ps(0.5f)), _mm256_add_ps(one, erf));
}

AVX2 static void gelu_avx2(float *o, int ldo, int m, int n) {
	for (int i = 0; i < m; i++) {
		float *r = o + (long)i * ldo;
		int j = 0;
		for (; j + 8 <= n; j += 8) _mm256_storeu_ps(r + j, gelu8(_mm256_loadu_ps(r + j)));
		if (j < n) { // the tail through a padded buffer, the same arithmetic
			float buf[8] = {0};
			for (int k = j; k < n; k++) buf[k - j] = r[k];
			_mm256_storeu_ps(buf, gelu8(_mm256_loadu_ps(buf)));
			for (int k = j; k < n; k++) r[k] = buf[k - j];
		}
	}
}
#endif

// mode is 0 (the widest kernel the CPU runs), 1 (libm) or 2 (AVX2; tests).
static int mode;

void glm_gelu_rows(float *o, int ldo, int m, int n) {
#if GLM_X86
	if (__atomic_load_n(&mode, __ATOMIC_RELAXED) != 1 && glm_avx2_fma()) {
		gelu_avx2(o, ldo, m, n);
		return;
	}
#endif
	gelu_libm(o, ldo, m, n);
}

int glm_gelu_set_kernel(int k) {
	if (k < 0 || k > 2 || (k == 2 && !glm_avx2_fma())) return 0;
	__atomic_store_n(&mode, k, __ATOMIC_RELAXED);
	return 1;
}
