// gemm_rows.h: the product of a few input rows with a chunk of weight rows
// (RowLinear's multi-row chunks).
#ifndef GOLAMINI_GEMM_ROWS_H
#define GOLAMINI_GEMM_ROWS_H

// glm_gemm_rows sets out[i·ldo + j] = x_i·w_j (beta 0) or adds it (beta 1)
// for the m rows x_i of x [m, K] and the n rows w_j of w [n, K], row-major
// float32. It returns 0 when it has no kernel for this CPU (the caller uses
// BLAS instead) and 1 when it computed the product.
int glm_gemm_rows(const float *x, const float *w, float *out, int ldo, int m, int n, int K, int beta);

// glm_gemm_rows_set_kernel picks glm_gemm_rows' kernel (tests): 0 the
// widest this CPU runs, 1 none (BLAS), 2 AVX2+FMA. It returns 0 when the CPU
// lacks it (nothing changes).
int glm_gemm_rows_set_kernel(int k);

#endif
