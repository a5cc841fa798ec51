package torch

import (
	"syscall"

	lib "github.com/sugarme/gotch/libtch"
)

const (
	hugePageSize = 2 << 20
	madvHugepage = 14 // MADV_HUGEPAGE
	madvCollapse = 25 // MADV_COLLAPSE (Linux ≥ 6.1)
)

// AdviseHugePages asks the kernel to back the 2 MiB-aligned part of t's
// storage (CPU) with transparent huge pages: MADV_HUGEPAGE for the future and
// MADV_COLLAPSE to move what is already there now. It is a hint: it reports
// whether the kernel accepted it, and the tensor is unchanged either way.
// Large tensors that are streamed through again and again (weights during
// decoding) read faster from huge pages.
func (t *Tensor) AdviseHugePages() bool {
	if t == nil || t.c == nil || t.Device() != CPU {
		return false
	}
	p := uintptr(lib.AtDataPtr(t.c))
	n := uintptr(t.Numel()) * uintptr(t.DType().Size())
	start := (p + hugePageSize - 1) &^ (hugePageSize - 1)
	end := (p + n) &^ (hugePageSize - 1)
	if p == 0 || end <= start {
		return false
	}
	if _, _, e := syscall.Syscall(syscall.SYS_MADVISE, start, end-start, madvHugepage); e != 0 {
		return false
	}
	_, _, e := syscall.Syscall(syscall.SYS_MADVISE, start, end-start, madvCollapse)
	return e == 0
}
