package torch

// #include <stdlib.h>
import "C"

import (
	"unsafe"

	lib "github.com/sugarme/gotch/libtch"
)

// Unbind returns the slices of x along dim, each without that dimension
// (views). Unlike Select once per slice, its backward stacks the slices'
// gradients in one copy instead of zero-filling a tensor of x's size per
// slice and adding them up.
func (s *Scope) Unbind(x *Tensor, dim int64) []*Tensor {
	if !s.ok("unbind", x) {
		return nil
	}
	arr := lib.AtgUnbind(x.c, dim) // malloc'd, null-terminated
	if err := lastErr(); err != nil || arr == nil {
		s.Failf("torch: unbind: %v", err)
		if arr != nil {
			for p := arr; *p != nil; p = (*lib.Ctensor)(unsafe.Add(unsafe.Pointer(p), unsafe.Sizeof(*p))) {
				lib.AtFree(*p)
			}
			C.free(unsafe.Pointer(arr))
		}
		return nil
	}
	var out []*Tensor
	for p := arr; *p != nil; p = (*lib.Ctensor)(unsafe.Add(unsafe.Pointer(p), unsafe.Sizeof(*p))) {
		out = append(out, &Tensor{c: *p, scope: s})
	}
	s.owned = append(s.owned, out...)
	C.free(unsafe.Pointer(arr))
	return out
}
