package torch

// #include "gemm_rows.h"
import "C"

// setGemmRowsKernel picks RowLinear's multi-row kernel (tests): 0 the
// widest the CPU runs, 1 BLAS, 2 AVX2+FMA; false when the CPU lacks it.
func setGemmRowsKernel(k int) bool { return C.glm_gemm_rows_set_kernel(C.int(k)) != 0 }
