package torch

// #include <stdlib.h>
// #include "fused.h"
import "C"

import (
	"fmt"
	"runtime"
	"unsafe"

	lib "github.com/sugarme/gotch/libtch"
)

// Float32FromBytes returns a new float32 CPU tensor of the given shape,
// converted from data: elements of dtype src (Float16, BFloat16, Float32 or
// Float64) in the host's byte order. data is only read, so it may be a
// read-only mapping of a checkpoint file; it need not be aligned. Speed
// helper for loading: one pass that reads the stored bytes and writes the
// tensor (libtorch's vectorized conversion on all its threads), where
// decoding into a Go buffer and copying that into a tensor is two.
func Float32FromBytes(data []byte, src DType, shape ...int64) (*Tensor, error) {
	switch src {
	case Float16, BFloat16, Float32, Float64:
	default:
		return nil, fmt.Errorf("torch: float32 from bytes: dtype %v is not a float type", src)
	}
	n := int64(1)
	for _, d := range shape {
		if d < 0 {
			return nil, fmt.Errorf("torch: float32 from bytes: shape %v", shape)
		}
		n *= d
	}
	size := int64(src.Size())
	if int64(len(data)) != n*size {
		return nil, fmt.Errorf("torch: float32 from bytes: %d bytes for %d elements of %v", len(data), n, src)
	}
	if n == 0 {
		s := NewScope()
		defer s.Close()
		t := s.Zeros(shape, Float32, CPU)
		if err := s.Err(); err != nil {
			return nil, err
		}
		return s.Keep(t), nil
	}
	p := unsafe.Pointer(unsafe.SliceData(data))
	if uintptr(p)%uintptr(size) != 0 { // misaligned: an aligned copy first
		buf := make([]uint64, (len(data)+7)/8)
		copy(unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(buf))), len(data)), data)
		defer runtime.KeepAlive(buf)
		p = unsafe.Pointer(unsafe.SliceData(buf))
	}
	cshape := C.malloc(C.size_t(max(1, len(shape))) * 8)
	defer C.free(cshape)
	copy(unsafe.Slice((*int64)(cshape), max(1, len(shape))), shape)
	var out unsafe.Pointer
	msg := C.gl_convert_float32(&out, p, C.int(src), (*C.int64_t)(cshape), C.int(len(shape)))
	runtime.KeepAlive(data)
	if err := fusedErr("float32 from bytes", msg); err != nil {
		return nil, err
	}
	return &Tensor{c: lib.Ctensor(out)}, nil
}
