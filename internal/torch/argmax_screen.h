// argmax_screen.h: exact argmax of x·wᵀ screened by an int8 copy of w
// (ArgmaxIndex, ArgmaxLinear in argmax_linear.go).
#ifndef GOLAMINI_ARGMAX_SCREEN_H
#define GOLAMINI_ARGMAX_SCREEN_H

#include <stdint.h>

// glm_screen_build quantizes rows [r0, r0+n) of w [N, K] (row-major float32):
// q = round(w/scale) in int8 with scale = max|w_r|/127 per row, and bound_r,
// an upper bound (rounded up) on |w_r·h − scale_r·fl(q_r·h)| / ‖h‖₂ for any
// h: the quantization error ‖w_r − scale_r·q_r‖₂ plus float32 rounding of a
// K-term dot product.
void glm_screen_build(const float *w, int64_t r0, int64_t n, int K, int8_t *q, float *scale, float *bound);

// glm_screen_rows writes, for the m rows of x [m, K] and rows [r0, r0+n) of
// the index, the screening scores scale_r·(q_r·x_i) to out + i·ldo + (r − r0).
void glm_screen_rows(const float *x, const int8_t *q, const float *scale, float *out, int ldo,
                     int m, int K, int64_t r0, int n);

// glm_screen_select returns the first index of the largest x·w_r (computed
// in double) among the rows whose bound interval [a_r − bound_r·‖x‖,
// a_r + bound_r·‖x‖] reaches the largest lower end, a being the scores of
// glm_screen_rows for this x. *candidates gets how many rows it computed.
int64_t glm_screen_select(const float *x, const float *w, const float *a, const float *bound, int64_t N, int K,
                          int64_t *candidates);

#endif
