// blas.c: helpers around libtorch's BLAS (blas.h).
#include "blas.h"

int glm_blas_available(void) { return sgemv_ != 0 && sgemm_ != 0; }

int glm_blas_sequential(int on, int prev) {
	if (!MKL_Set_Num_Threads_Local) return 0;
	return MKL_Set_Num_Threads_Local(on ? 1 : prev);
}
