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

// head_rms_norm replaces x[0..hs) by x·rsqrt(mean(x²) + eps)·w (Qwen3's
// per-head q/k RMSNorm, in float32 as HF's).
static void head_rms_norm(float *x, const float *w, int hs, float eps) {
	float ss = 0;
	for (int j = 0; j < hs; j++) ss += x[j] * x[j];
	float r = 1.0f / sqrtf(ss / (float)hs + eps);
	for (int j = 0; j < hs; j++) x[j] = w[j] * (x[j] * r);
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
			memcpy(t, row + (int64_t)(nh + g) * hs, (size_t)hs * sizeof(float));
			if (knorm) head_rms_norm(t, knorm, hs, eps);
			if (rot > 0)
				rope(t, cos, sin, rot, hs, knew);
			else
				memcpy(knew, t, (size_t)hs * sizeof(float));
			memcpy(vh + past * hs, row + (int64_t)(nh + nkv + g) * hs, (size_t)hs * sizeof(float));
			for (int r = 0; r < rep; r++) {
				int h = g * rep + r; // query heads g·rep… share kv head g
				memcpy(t, row + (int64_t)h * hs, (size_t)hs * sizeof(float));
				if (qnorm) head_rms_norm(t, qnorm, hs, eps);
				if (rot > 0)
					rope(t, cos, sin, rot, hs, q);
				else
					memcpy(q, t, (size_t)hs * sizeof(float));
				// p[s] = scale · q·k_s: column-major kh is [hs, S] with lda hs.
				sgemv_("T", &hs, &S, &scale, kh, &hs, q, &inc, &zero, p, &inc);
				softmax(p, S);
				sgemv_("N", &hs, &S, &one, vh, &hs, p, &inc, &zero, y + ((int64_t)b * nh + h) * hs, &inc);
			}
		}
	}
	free(q);
	return 0;
}
