package torch

// #include "gelu_rows.h"
import "C"

import "unsafe"

// setGELURowsKernel picks RowLinearGELU's GELU kernel (tests): 0 the widest
// the CPU runs, 1 libm's erff, 2 AVX2+FMA; false when the CPU lacks it.
func setGELURowsKernel(k int) bool { return C.glm_gelu_set_kernel(C.int(k)) != 0 }

// geluRows applies the GELU kernel in use to v in place (tests).
func geluRows(v []float32) {
	if len(v) == 0 {
		return
	}
	C.glm_gelu_rows((*C.float)(unsafe.Pointer(unsafe.SliceData(v))), C.int(len(v)), 1, C.int(len(v)))
}
