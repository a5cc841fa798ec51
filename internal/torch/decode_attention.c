// decode_attention.c: GPT-NeoX attention for one new position per row, in
// one pass over the few kilobytes it touches (see DecodeAttention).
#include "decode_attention.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "blas.h"

// rope writes x rotated by the position's tables to out, like the model's
// applyRotary: out = x·cos + x[perm]·sin on the first rot values, where
// perm swaps their halves and sin already holds −sin on the first half;
// the other values pass through.
static void rope(const float *x, const float *cos, const float *sin, int rot, int hs, float *out) {
	int half = rot / 2;
	for (int j = 0; j < rot; j++) {
		int partner = j < half ? j + half : j - half;
		out[j] = x[j] * cos[j] + x[partner] * sin[j];
	}
	if (hs > rot) memcpy(out + rot, x + rot, (size_t)(hs - rot) * sizeof(float));
}

// softmax replaces p[0..n) by its softmax (max subtracted, in float).
static void softmax(float *p, int n) {
	float m = p[0];
	for (int i = 1; i < n; i++)
		if (p[i] > m) m = p[i];
	float sum = 0;
	for (int i = 0; i < n; i++) {
		p[i] = expf(p[i] - m);
		sum += p[i];
	}
	for (int i = 0; i < n; i++) p[i] /= sum;
}

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
			if (rot > 0) {
				rope(x, cos, sin, rot, hs, q);
				rope(x + hs, cos, sin, rot, hs, knew);
			} else {
				memcpy(q, x, (size_t)hs * sizeof(float));
				memcpy(knew, x + hs, (size_t)hs * sizeof(float));
			}
			memcpy(vh + past * hs, x + 2 * hs, (size_t)hs * sizeof(float));
			// p[s] = scale · q·k_s: column-major kh is [hs, S] with lda hs.
			sgemv_("T", &hs, &S, &scale, kh, &hs, q, &inc, &zero, p, &inc);
			softmax(p, S);
			// y_h = Σ_s p[s]·v_s
			sgemv_("N", &hs, &S, &one, vh, &hs, p, &inc, &zero, y + ((int64_t)b * nh + h) * hs, &inc);
		}
	}
	free(q);
	return 0;
}
