// gelu_rows.h: exact GELU in place over a chunk of RowLinear's output
// (RowLinearGELU).
#ifndef GOLAMINI_GELU_ROWS_H
#define GOLAMINI_GELU_ROWS_H

// glm_gelu_rows replaces each of the n values of m rows (row i at o + i·ldo)
// with x·½·(1 + erf(x/√2)). With AVX2 and FMA, erf is the rational
// approximation ATen's vectorized GELU uses (Abramowitz–Stegun 7.1.26,
// absolute error below 1.5e-7) over a polynomial exp, 8 values at a time;
// otherwise libm's erff, one value at a time.
void glm_gelu_rows(float *o, int ldo, int m, int n);

// glm_gelu_set_kernel picks the kernel (tests): 0 the widest this CPU runs,
// 1 libm's erff, 2 AVX2+FMA. It returns 0 when the CPU lacks it.
int glm_gelu_set_kernel(int k);

#endif
