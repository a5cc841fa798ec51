// decode_attention.c: GPT-NeoX attention for one new position per row, in
// one pass over the few kilobytes it touches (see DecodeAttention).
#include "decode_attention.h"
#include "attention_steps.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "blas.h"

int glm_decode_attention(const float *qkv, const float *cos, const float *sin, int rot,
                         float *kc, float *vc, float *y, int B, int nh, int hs,
                         int64_t cap, int64_t past, float scale) {
	int S = (int)(past + 1), inc = 1;
	float one = 1, zero = 0;
	float *q = malloc(sizeof(float) * ((size_t)hs + (size_t)S));
	if (!q) return -1;
	float *p = q + hs;
	if (rot > 0) {
		cos += past * hs; // the tables' row for this position
		sin += past * hs;
	}
	for (int b = 0; b < B; b++) {
		for (int h = 0; h < nh; h++) {
			const float *x = qkv + ((int64_t)b * nh + h) * 3 * hs; // this head's q | k | v
			float *kh = kc + ((int64_t)b * nh + h) * cap * hs;      // its cache rows [cap, hs]
			float *vh = vc + ((int64_t)b * nh + h) * cap * hs;
			float *knew = kh + past * hs;
			glm_head_in(x, 0, 0, cos, sin, rot, hs, 0, q);
			glm_head_in(x + hs, 0, 0, cos, sin, rot, hs, 0, knew);
			memcpy(vh + past * hs, x + 2 * hs, (size_t)hs * sizeof(float));
			// p[s] = scale · q·k_s: column-major kh is [hs, S] with lda hs.
			sgemv_("T", &hs, &S, &scale, kh, &hs, q, &inc, &zero, p, &inc);
			glm_softmax(p, S);
			// y_h = Σ_s p[s]·v_s
			sgemv_("N", &hs, &S, &one, vh, &hs, p, &inc, &zero, y + ((int64_t)b * nh + h) * hs, &inc);
		}
	}
	free(q);
	return 0;
}

int glm_decode_attention_grouped(const float *qkv, const float *cos, const float *sin, int rot,
                                 const float *qnorm, const float *knorm, float eps,
                                 float *kc, float *vc, float *y, int B, int nh, int nkv, int hs,
                                 int64_t cap, int64_t past, float scale) {
	int S = (int)(past + 1), inc = 1, rep = nh / nkv;
	float one = 1, zero = 0;
	float *q = malloc(sizeof(float) * (2 * (size_t)hs + (size_t)S));
	if (!q) return -1;
	float *t = q + hs, *p = t + hs;
	if (rot > 0) {
		cos += past * hs; // the tables' row for this position
		sin += past * hs;
	}
	int64_t width = (int64_t)(nh + 2 * nkv) * hs; // q heads | k heads | v heads
	for (int b = 0; b < B; b++) {
		const float *row = qkv + b * width;
		for (int g = 0; g < nkv; g++) {
			float *kh = kc + ((int64_t)b * nkv + g) * cap * hs; // this kv head's cache rows [cap, hs]
			float *vh = vc + ((int64_t)b * nkv + g) * cap * hs;
			float *knew = kh + past * hs;
			glm_head_in(row + (int64_t)(nh + g) * hs, knorm, eps, cos, sin, rot, hs, t, knew);
			memcpy(vh + past * hs, row + (int64_t)(nh + nkv + g) * hs, (size_t)hs * sizeof(float));
			for (int r = 0; r < rep; r++) {
				int h = g * rep + r; // query heads g·rep… share kv head g
				glm_head_in(row + (int64_t)h * hs, qnorm, eps, cos, sin, rot, hs, t, q);
				// p[s] = scale · q·k_s: column-major kh is [hs, S] with lda hs.
				sgemv_("T", &hs, &S, &scale, kh, &hs, q, &inc, &zero, p, &inc);
				glm_softmax(p, S);
				sgemv_("N", &hs, &S, &one, vh, &hs, p, &inc, &zero, y + ((int64_t)b * nh + h) * hs, &inc);
			}
		}
	}
	free(q);
	return 0;
}
