// blas.h: the BLAS inside libtorch_cpu (MKL in the PyPI and official x86
// builds), for RowLinear and DecodeAttention. Weak, so a libtorch without
// them still links; callers check the symbols before use.
#ifndef GOLAMINI_BLAS_H
#define GOLAMINI_BLAS_H

#pragma weak sgemv_
#pragma weak sgemm_
#pragma weak MKL_Set_Num_Threads_Local

extern void sgemv_(const char *trans, const int *m, const int *n, const float *alpha,
                   const float *a, const int *lda, const float *x, const int *incx,
                   const float *beta, float *y, const int *incy);
extern void sgemm_(const char *ta, const char *tb, const int *m, const int *n, const int *k,
                   const float *alpha, const float *a, const int *lda, const float *b,
                   const int *ldb, const float *beta, float *c, const int *ldc);
extern int MKL_Set_Num_Threads_Local(int n); // mkl_set_num_threads_local in mkl_service.h

// glm_blas_available reports whether sgemv_ and sgemm_ are present.
int glm_blas_available(void);

// glm_blas_sequential makes BLAS calls from the calling thread run on that
// thread alone (no OpenMP team of BLAS's own) when on is set and returns the
// previous setting; with on unset it restores prev.
int glm_blas_sequential(int on, int prev);

#endif
