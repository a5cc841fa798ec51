// attention_steps.h: the per-head steps that decode_attention.c and
// row_attention.c share (a new head's norm and rotary, softmax), as
// static inline functions so each file's loops can inline them.
#ifndef GOLAMINI_ATTENTION_STEPS_H
#define GOLAMINI_ATTENTION_STEPS_H

#include <math.h>
#include <string.h>

// glm_rope writes x rotated by one position's tables to out, like the
// model's applyRotary: out = x·cos + x[perm]·sin on the first rot values,
// where perm swaps their halves and sin already holds −sin on the first half;
// the other values pass through.
static inline void glm_rope(const float *x, const float *cos, const float *sin, int rot, int hs, float *out) {
	int half = rot / 2;
	for (int j = 0; j < rot; j++) {
		int partner = j < half ? j + half : j - half;
		out[j] = x[j] * cos[j] + x[partner] * sin[j];
	}
	if (hs > rot) memcpy(out + rot, x + rot, (size_t)(hs - rot) * sizeof(float));
}

// glm_softmax replaces p[0..n) by its softmax (max subtracted, in float).
static inline void glm_softmax(float *p, int n) {
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

// glm_head_rms_norm replaces x[0..hs) by x·rsqrt(mean(x²) + eps)·w (Qwen3's
// per-head q/k RMSNorm, in float32 as HF's).
static inline void glm_head_rms_norm(float *x, const float *w, int hs, float eps) {
	float ss = 0;
	for (int j = 0; j < hs; j++) ss += x[j] * x[j];
	float r = 1.0f / sqrtf(ss / (float)hs + eps);
	for (int j = 0; j < hs; j++) x[j] = w[j] * (x[j] * r);
}

// glm_head_in writes one new query or key head x [hs] to out: normed with
// norm (Qwen3's q/k RMSNorm; NULL: none) in the scratch t [hs], then rotated
// by one position's tables (rot 0: copied). out must not overlap x or t.
static inline void glm_head_in(const float *x, const float *norm, float eps, const float *cos, const float *sin,
                               int rot, int hs, float *t, float *out) {
	if (norm) {
		memcpy(t, x, (size_t)hs * sizeof(float));
		glm_head_rms_norm(t, norm, hs, eps);
		x = t;
	}
	if (rot > 0)
		glm_rope(x, cos, sin, rot, hs, out);
	else
		memcpy(out, x, (size_t)hs * sizeof(float));
}

#endif
