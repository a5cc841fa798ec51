// row_attention.c: the decoding step's attention for rows of different
// lengths (row_attention.h; the Go side is row_attention.go). Row b holds
// its positions 0…past[b]−1 in cache columns 0…past[b]−1, writes the new
// key and value at column past[b] and attends over columns 0…past[b]: no
// mask and no columns another row left.
#include "row_attention.h"
#include "attention_steps.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

// The AVX2 loops are x86-64 only, picked at run time; elsewhere (and with
// GLM_PORTABLE, scripts/check-portable) the plain C loops run.
#if defined(__x86_64__) && !defined(GLM_PORTABLE)
#define GLM_X86 1
#include <immintrin.h>
#endif

// attend_one sets y[0..hs) = softmax(scale·q·k_s)·v_s over the S cache rows
// of kh, vh [S, hs]; p is scratch of S floats. Plain loops, not BLAS: a
// head's cache is a few kilobytes, where a BLAS call's fixed cost is most
// of the time (16 rows × heads × layers calls per step).
static void attend_plain(const float *q, const float *kh, const float *vh, int S, int hs, float scale, float *p,
                         float *y) {
	for (int s = 0; s < S; s++) {
		const float *k = kh + (int64_t)s * hs;
		float d = 0;
		for (int j = 0; j < hs; j++) d += q[j] * k[j];
		p[s] = scale * d;
	}
	glm_softmax(p, S);
	for (int j = 0; j < hs; j++) y[j] = 0;
	for (int s = 0; s < S; s++) {
		const float *v = vh + (int64_t)s * hs;
		for (int j = 0; j < hs; j++) y[j] += p[s] * v[j];
	}
}

#if GLM_X86
__attribute__((target("avx2,fma"))) static void attend_avx2(const float *q, const float *kh, const float *vh, int S,
                                                           int hs, float scale, float *p, float *y) {
	if (hs % 8 != 0) {
		attend_plain(q, kh, vh, S, hs, scale, p, y);
		return;
	}
	for (int s = 0; s < S; s++) {
		const float *k = kh + (int64_t)s * hs;
		__m256 a = _mm256_setzero_ps();
		for (int j = 0; j < hs; j += 8) a = _mm256_fmadd_ps(_mm256_loadu_ps(q + j), _mm256_loadu_ps(k + j), a);
		__m128 h = _mm_add_ps(_mm256_castps256_ps128(a), _mm256_extractf128_ps(a, 1));
		h = _mm_hadd_ps(h, h);
		h = _mm_hadd_ps(h, h);
		p[s] = scale * _mm_cvtss_f32(h);
	}
	glm_softmax(p, S);
	// y in registers, 64 values at a time: each v row is read once per group.
	for (int j0 = 0; j0 < hs; j0 += 64) {
		int n = (hs - j0 < 64 ? hs - j0 : 64) / 8;
		__m256 a[8];
		for (int t = 0; t < 8; t++) a[t] = _mm256_setzero_ps();
		for (int s = 0; s < S; s++) {
			__m256 ps = _mm256_set1_ps(p[s]);
			const float *v = vh + (int64_t)s * hs + j0;
			_Pragma("GCC unroll 8") for (int t = 0; t < 8; t++) if (t < n) a[t] = _mm256_fmadd_ps(ps, _mm256_loadu_ps(v + 8 * t), a[t]);
		}
		for (int t = 0; t < n; t++) _mm256_storeu_ps(y + j0 + 8 * t, a[t]);
	}
}
#endif

static void attend_one(const float *q, const float *kh, const float *vh, int S, int hs, float scale, float *p, float *y) {
#if GLM_X86
	if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) {
		attend_avx2(q, kh, vh, S, hs, scale, p, y);
		return;
	}
#endif
	attend_plain(q, kh, vh, S, hs, scale, p, y);
}

static int64_t longest(const int64_t *past, int B) {
	int64_t n = 0;
	for (int b = 0; b < B; b++)
		if (past[b] > n) n = past[b];
	return n;
}

void glm_row_attention_write(const float *qkv, const float *cos, const float *sin, int rot, float *kc, float *vc,
                             int B, int nh, int hs, int64_t cap, const int64_t *past) {
	for (int b = 0; b < B; b++) {
		int64_t P = past[b];
		const float *c = rot > 0 ? cos + P * hs : 0, *sn = rot > 0 ? sin + P * hs : 0; // the tables' row for this position
		for (int h = 0; h < nh; h++) {
			const float *x = qkv + ((int64_t)b * nh + h) * 3 * hs; // this head's q | k | v
			float *kh = kc + ((int64_t)b * nh + h) * cap * hs;      // its cache rows [cap, hs]
			float *vh = vc + ((int64_t)b * nh + h) * cap * hs;
			glm_head_in(x + hs, 0, 0, c, sn, rot, hs, 0, kh + P * hs);
			memcpy(vh + P * hs, x + 2 * hs, (size_t)hs * sizeof(float));
		}
	}
}

int glm_row_attention_rows(const float *qkv, const float *cos, const float *sin, int rot, const float *kc,
                           const float *vc, float *y, int b0, int nb, int nh, int hs, int64_t cap, const int64_t *past,
                           float scale) {
	float *q = malloc(sizeof(float) * ((size_t)hs + (size_t)longest(past + b0, nb) + 1));
	if (!q) return -1;
	float *p = q + hs;
	for (int b = b0; b < b0 + nb; b++) {
		int64_t P = past[b];
		const float *c = rot > 0 ? cos + P * hs : 0, *sn = rot > 0 ? sin + P * hs : 0;
		for (int h = 0; h < nh; h++) {
			const float *x = qkv + ((int64_t)b * nh + h) * 3 * hs;
			const float *kh = kc + ((int64_t)b * nh + h) * cap * hs;
			const float *vh = vc + ((int64_t)b * nh + h) * cap * hs;
			glm_head_in(x, 0, 0, c, sn, rot, hs, 0, q);
			attend_one(q, kh, vh, (int)P + 1, hs, scale, p, y + ((int64_t)(b - b0) * nh + h) * hs);
		}
	}
	free(q);
	return 0;
}

int glm_row_attention_grouped_write(const float *qkv, const float *cos, const float *sin, int rot,
                                    const float *knorm, float eps, float *kc, float *vc, int B, int nh, int nkv,
                                    int hs, int64_t cap, const int64_t *past) {
	float *t = malloc(sizeof(float) * (size_t)hs);
	if (!t) return -1;
	int64_t width = (int64_t)(nh + 2 * nkv) * hs; // q heads | k heads | v heads
	for (int b = 0; b < B; b++) {
		int64_t P = past[b];
		const float *c = rot > 0 ? cos + P * hs : 0, *sn = rot > 0 ? sin + P * hs : 0;
		const float *row = qkv + b * width;
		for (int g = 0; g < nkv; g++) {
			float *kh = kc + ((int64_t)b * nkv + g) * cap * hs; // this kv head's cache rows [cap, hs]
			float *vh = vc + ((int64_t)b * nkv + g) * cap * hs;
			glm_head_in(row + (int64_t)(nh + g) * hs, knorm, eps, c, sn, rot, hs, t, kh + P * hs);
			memcpy(vh + P * hs, row + (int64_t)(nh + nkv + g) * hs, (size_t)hs * sizeof(float));
		}
	}
	free(t);
	return 0;
}

int glm_row_attention_grouped_rows(const float *qkv, const float *cos, const float *sin, int rot, const float *qnorm,
                                   float eps, const float *kc, const float *vc, float *y, int b0, int nb, int nh,
                                   int nkv, int hs, int64_t cap, const int64_t *past, float scale) {
	int rep = nh / nkv;
	float *q = malloc(sizeof(float) * (2 * (size_t)hs + (size_t)longest(past + b0, nb) + 1));
	if (!q) return -1;
	float *t = q + hs, *p = t + hs;
	int64_t width = (int64_t)(nh + 2 * nkv) * hs;
	for (int b = b0; b < b0 + nb; b++) {
		int64_t P = past[b];
		const float *c = rot > 0 ? cos + P * hs : 0, *sn = rot > 0 ? sin + P * hs : 0;
		const float *row = qkv + b * width;
		for (int g = 0; g < nkv; g++) {
			const float *kh = kc + ((int64_t)b * nkv + g) * cap * hs;
			const float *vh = vc + ((int64_t)b * nkv + g) * cap * hs;
			for (int r = 0; r < rep; r++) {
				int h = g * rep + r; // query heads g·rep… share kv head g
				glm_head_in(row + (int64_t)h * hs, qnorm, eps, c, sn, rot, hs, t, q);
				attend_one(q, kh, vh, (int)P + 1, hs, scale, p, y + ((int64_t)(b - b0) * nh + h) * hs);
			}
		}
	}
	free(q);
	return 0;
}
