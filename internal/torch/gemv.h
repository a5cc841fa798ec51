// gemv.h: y = W·x for one input row, the product of a decoding step
// (RowLinear in rowlinear.go).
#ifndef GOLAMINI_GEMV_H
#define GOLAMINI_GEMV_H

#include <stdint.h>

// glm_gemv_rows sets out[j] = w_{r0+j}·x (+ b[r0+j] when b is not NULL) for
// rows [r0, r0+n) of w [N, K] (row-major float32) and returns 1, or returns
// 0 without writing when this CPU has no kernel of ours (the caller then
// uses BLAS). Each row's dot product is accumulated in eight float32 lanes
// over k ≡ lane (mod 8), summed pairwise at the end.
int glm_gemv_rows(const float *x, const float *w, const float *b, float *out, int K, int64_t r0, int n);

// glm_gemv_set_kernel picks the kernel (tests, benchmarks): 0 the default
// for this CPU, 1 none (BLAS). It returns 0 when the kernel cannot run here.
int glm_gemv_set_kernel(int k);

#endif
