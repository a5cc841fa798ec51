// argmax_screen.h: exact argmax of x·wᵀ screened by an int8 copy of w
// (ArgmaxIndex, ArgmaxLinear in argmax_linear.go).
#ifndef GOLAMINI_ARGMAX_SCREEN_H
#define GOLAMINI_ARGMAX_SCREEN_H

#include <stdint.h>

// glm_screen_build quantizes rows [r0, r0+n) of w [N, K] (row-major float32)
// to q = round(w_r/scale_r) in int8, scale_r = max|w_r|/127, and stores per
// row: err_r ≥ ‖w_r − scale_r·q_r‖₂, gain_r ≥ scale_r·‖q_r‖₂ (both rounded
// up) and qsum_r = Σ q_r.
void glm_screen_build(const float *w, int64_t r0, int64_t n, int K, int8_t *q, float *scale, float *err,
                      float *gain, int32_t *qsum);

// glm_screen_quantize quantizes one input row x [K] the same way: xq =
// round(x/sx) (int8, and xu = xq + 128 as uint8), sx = max|x|/127. It returns
// sx and sets *xnorm ≥ ‖x‖₂ and *xerr ≥ ‖x − sx·xq‖₂; it returns −1 when x is
// not finite.
float glm_screen_quantize(const float *x, int K, int8_t *xq, uint8_t *xu, double *xnorm, double *xerr);

// glm_screen_rows writes, for rows [r0, r0+n) of the index and one quantized
// input (xq, xu, sx), the screening scores a_r = scale_r·sx·(q_r·xq) to
// out[r − r0]. The integer dot products are exact.
void glm_screen_rows(const int8_t *xq, const uint8_t *xu, float sx, const int8_t *q, const float *scale,
                     const int32_t *qsum, float *out, int K, int64_t r0, int n);

// glm_screen_rows_m is glm_screen_rows for m quantized inputs (xq, xu [m, K],
// sx [m]), input i's scores going to out + i·ldo.
void glm_screen_rows_m(const int8_t *xq, const uint8_t *xu, const float *sx, int m, const int8_t *q,
                       const float *scale, const int32_t *qsum, float *out, int ldo, int K, int64_t r0, int n);

// GLM_SCREEN_BLOCK rows of the index share one pair of interval ends in
// glm_screen_bounds; chunks of the screening job start at multiples of it.
#define GLM_SCREEN_BLOCK 16

// glm_screen_bounds writes, for each of m inputs (scores a + i·lda of n
// rows whose err and gain start at err, gain; the inputs' xnorm and xerr)
// and each block of GLM_SCREEN_BLOCK rows (the last may be shorter), the
// largest lower end and the largest upper end of the rows' intervals
// a_r ∓ (err_r·‖x‖ + gain_r·‖x − sx·xq‖): input i's block b to
// lohi[i·ldl + 2b] and lohi[i·ldl + 2b + 1]. The screening job calls it on
// each chunk while the chunk's scores are in cache.
void glm_screen_bounds(const float *a, int lda, int m, const float *err, const float *gain, const double *xnorm,
                       const double *xerr, int n, double *lohi, int64_t ldl);

// glm_screen_select returns the first index of the largest x·w_r (computed
// in double from w) among the rows whose interval reaches the largest lower
// end. Since |x·w_r − a_r| is within the radius for every row, the row of
// the largest x·w_r is among them. lohi holds the input's block ends from
// glm_screen_bounds (2 per block of GLM_SCREEN_BLOCK rows), so only the
// blocks whose largest upper end reaches the largest lower end are looked
// at. *candidates gets how many rows it computed.
int64_t glm_screen_select(const float *x, const float *w, const float *a, const float *err, const float *gain,
                          double xnorm, double xerr, int64_t N, int K, const double *lohi, int64_t *candidates);

// glm_screen_set_kernel picks the dot-product kernel (tests): 0 the widest
// the CPU runs, 1 portable C, 2 AVX2, 3 AVX-512 VNNI. It returns 0 when the
// CPU lacks it (nothing changes).
int glm_screen_set_kernel(int k);

#endif
