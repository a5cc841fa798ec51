package torch

// #include <stdlib.h>
import "C"

import (
	"errors"
	"fmt"
	"unsafe"

	lib "github.com/sugarme/gotch/libtch"
)

// DType is a libtorch scalar type (c10::ScalarType numbering).
type DType int32

// The scalar types this project uses.
const (
	Uint8    DType = 0
	Int32    DType = 3
	Int64    DType = 4
	Float16  DType = 5
	Float32  DType = 6
	Float64  DType = 7
	Bool     DType = 11
	BFloat16 DType = 15
)

func (d DType) String() string {
	switch d {
	case Uint8:
		return "uint8"
	case Int32:
		return "int32"
	case Int64:
		return "int64"
	case Float16:
		return "float16"
	case Float32:
		return "float32"
	case Float64:
		return "float64"
	case Bool:
		return "bool"
	case BFloat16:
		return "bfloat16"
	}
	return fmt.Sprintf("dtype(%d)", int32(d))
}

// Size returns the element size in bytes.
func (d DType) Size() int {
	switch d {
	case Uint8, Bool:
		return 1
	case Float16, BFloat16:
		return 2
	case Int32, Float32:
		return 4
	case Int64, Float64:
		return 8
	}
	return 0
}

// Device is a libtorch device: CPU or a CUDA ordinal.
type Device int32

// CPU is the host device; CUDA(i) is GPU i.
const CPU Device = -1

// CUDA returns the device for GPU ordinal i.
func CUDA(i int) Device { return Device(i) }

func (d Device) String() string {
	if d == CPU {
		return "cpu"
	}
	return fmt.Sprintf("cuda:%d", int32(d))
}

// IsCUDA reports whether d is a GPU.
func (d Device) IsCUDA() bool { return d >= 0 }

// CUDAAvailable reports whether libtorch sees a usable CUDA device.
func CUDAAvailable() bool { return lib.AtcCudaIsAvailable() }

// CUDADeviceCount returns the number of CUDA devices libtorch sees.
func CUDADeviceCount() int { return int(lib.AtcCudaDeviceCount()) }

// Tensor is a handle to a libtorch tensor. The zero value and nil are
// "undefined" tensors; Free is idempotent.
type Tensor struct {
	c     lib.Ctensor
	scope *Scope // owner, or nil once kept by the caller
}

// Free releases the handle. Autograd keeps what it needs alive on its own.
func (t *Tensor) Free() {
	if t == nil || t.c == nil {
		return
	}
	lib.AtFree(t.c)
	t.c = nil
	t.scope = nil
}

// Defined reports whether t refers to a tensor.
func (t *Tensor) Defined() bool { return t != nil && t.c != nil && lib.AtDefined(t.c) }

// Shape returns the sizes of t.
func (t *Tensor) Shape() []int64 {
	if t == nil || t.c == nil {
		return nil
	}
	n := lib.AtDim(t.c)
	shape := make([]int64, n)
	if n > 0 {
		lib.AtShape(t.c, unsafe.Pointer(&shape[0]))
	}
	return shape
}

// Dim returns the number of dimensions.
func (t *Tensor) Dim() int { return int(lib.AtDim(t.c)) }

// Numel returns the number of elements.
func (t *Tensor) Numel() int64 {
	n := int64(1)
	for _, s := range t.Shape() {
		n *= s
	}
	return n
}

// DType returns the scalar type.
func (t *Tensor) DType() DType { return DType(lib.AtScalarType(t.c)) }

// Device returns the device t lives on.
func (t *Tensor) Device() Device { return Device(lib.AtDevice(t.c)) }

// RequiresGrad reports whether autograd tracks t.
func (t *Tensor) RequiresGrad() bool { return lib.AtRequiresGrad(t.c) }

// lastErr returns and clears libtorch's error for this thread.
func lastErr() error {
	p := unsafe.Pointer(lib.GetAndResetLastErr())
	if p == nil {
		return nil
	}
	msg := C.GoString((*C.char)(p))
	C.free(p)
	return errors.New(trimTorchMsg(msg))
}

// trimTorchMsg keeps the first line of a libtorch exception message; the
// rest is a C++ backtrace that helps nobody calling a Go API.
func trimTorchMsg(s string) string {
	for i := 0; i < len(s); i++ {
		if s[i] == '\n' {
			return s[:i]
		}
	}
	return s
}

// setGradEnabled sets grad mode on the calling thread and returns the previous mode.
func setGradEnabled(on bool) bool {
	b := 0
	if on {
		b = 1
	}
	return lib.AtGradSetEnabled(b) != 0
}

// NoGrad disables autograd on the worker thread until the returned function
// is called: `defer torch.NoGrad()()`. Nested use restores the outer mode.
func NoGrad() (restore func()) {
	prev := setGradEnabled(false)
	return func() { setGradEnabled(prev) }
}

// EnableGrad enables autograd until the returned function is called.
func EnableGrad() (restore func()) {
	prev := setGradEnabled(true)
	return func() { setGradEnabled(prev) }
}

// FromFloat32 copies data into a new float32 CPU tensor of the given shape.
// The caller owns the result.
func FromFloat32(data []float32, shape ...int64) (*Tensor, error) {
	return fromData(unsafe.Pointer(unsafe.SliceData(data)), len(data), 4, Float32, shape)
}

// FromInt64 copies data into a new int64 CPU tensor. The caller owns the result.
func FromInt64(data []int64, shape ...int64) (*Tensor, error) {
	return fromData(unsafe.Pointer(unsafe.SliceData(data)), len(data), 8, Int64, shape)
}

// FromRaw copies little-endian raw element bytes of the given dtype into a new
// CPU tensor. The caller owns the result.
func FromRaw(raw []byte, dtype DType, shape ...int64) (*Tensor, error) {
	if dtype.Size() == 0 {
		return nil, fmt.Errorf("torch: unsupported dtype %v", dtype)
	}
	return fromData(unsafe.Pointer(unsafe.SliceData(raw)), len(raw)/dtype.Size(), dtype.Size(), dtype, shape)
}

func fromData(p unsafe.Pointer, n, elt int, dtype DType, shape []int64) (*Tensor, error) {
	want := int64(1)
	for _, s := range shape {
		if s < 0 {
			return nil, fmt.Errorf("torch: negative size in shape %v", shape)
		}
		want *= s
	}
	if want != int64(n) {
		return nil, fmt.Errorf("torch: %d elements do not fill shape %v (%d)", n, shape, want)
	}
	var dims []int64
	if len(shape) == 0 {
		dims = []int64{0} // at_tensor_of_data reads dims[0] even for a scalar
	} else {
		dims = shape
	}
	if n == 0 {
		var zero [8]byte
		p = unsafe.Pointer(&zero[0])
	}
	c := lib.AtTensorOfData(p, dims, uint(len(shape)), uint(elt), int(dtype))
	if err := lastErr(); err != nil {
		return nil, fmt.Errorf("torch: tensor from data: %w", err)
	}
	return &Tensor{c: c}, nil
}

// Float32s copies t (any float dtype, any device) into a new Go slice in
// row-major order.
func (t *Tensor) Float32s() ([]float32, error) {
	s := NewScope()
	defer s.Close()
	x := s.Contiguous(s.To(t, Float32, CPU))
	if err := s.Err(); err != nil {
		return nil, err
	}
	out := make([]float32, x.Numel())
	if len(out) > 0 {
		lib.AtCopyData(x.c, unsafe.Pointer(&out[0]), uint(len(out)), 4)
		if err := lastErr(); err != nil {
			return nil, fmt.Errorf("torch: copy data: %w", err)
		}
	}
	return out, nil
}

// Int64s copies an integer tensor into a new Go slice in row-major order.
func (t *Tensor) Int64s() ([]int64, error) {
	s := NewScope()
	defer s.Close()
	x := s.Contiguous(s.To(t, Int64, CPU))
	if err := s.Err(); err != nil {
		return nil, err
	}
	out := make([]int64, x.Numel())
	if len(out) > 0 {
		lib.AtCopyData(x.c, unsafe.Pointer(&out[0]), uint(len(out)), 8)
		if err := lastErr(); err != nil {
			return nil, fmt.Errorf("torch: copy data: %w", err)
		}
	}
	return out, nil
}

// Raw copies t's elements, in its own dtype, as little-endian bytes (CPU).
func (t *Tensor) Raw() ([]byte, error) {
	s := NewScope()
	defer s.Close()
	x := s.Contiguous(s.To(t, t.DType(), CPU))
	if err := s.Err(); err != nil {
		return nil, err
	}
	elt := x.DType().Size()
	out := make([]byte, int(x.Numel())*elt)
	if len(out) > 0 {
		lib.AtCopyData(x.c, unsafe.Pointer(&out[0]), uint(x.Numel()), uint(elt))
		if err := lastErr(); err != nil {
			return nil, fmt.Errorf("torch: copy data: %w", err)
		}
	}
	return out, nil
}

// Item returns the value of a one-element tensor as float64.
func (t *Tensor) Item() (float64, error) {
	v, err := t.Float32s()
	if err != nil {
		return 0, err
	}
	if len(v) != 1 {
		return 0, fmt.Errorf("torch: Item on a tensor of %d elements", len(v))
	}
	return float64(v[0]), nil
}

// Item64 returns a one-element tensor's value computed in float64 precision.
func (t *Tensor) Item64() (float64, error) {
	s := NewScope()
	defer s.Close()
	x := s.Contiguous(s.To(t, Float64, CPU))
	if err := s.Err(); err != nil {
		return 0, err
	}
	if x.Numel() != 1 {
		return 0, fmt.Errorf("torch: Item64 on a tensor of %d elements", x.Numel())
	}
	var v float64
	lib.AtCopyData(x.c, unsafe.Pointer(&v), 1, 8)
	return v, lastErr()
}

// CopyFrom copies src into t in place (shapes must broadcast).
func (t *Tensor) CopyFrom(src *Tensor) error {
	lib.AtCopy_(t.c, src.c)
	if err := lastErr(); err != nil {
		return fmt.Errorf("torch: copy_: %w", err)
	}
	return nil
}

// Backward runs autograd from the scalar t.
func (t *Tensor) Backward() error {
	lib.AtBackward(t.c, 0, 0)
	if err := lastErr(); err != nil {
		return fmt.Errorf("torch: backward: %w", err)
	}
	return nil
}

// SetRequiresGrad turns gradient tracking on or off for a leaf tensor.
func (t *Tensor) SetRequiresGrad(on bool) error {
	var out lib.Ctensor
	b := int32(0)
	if on {
		b = 1
	}
	lib.AtgRequiresGrad_(&out, t.c, b)
	if err := lastErr(); err != nil {
		return fmt.Errorf("torch: requires_grad_: %w", err)
	}
	lib.AtFree(out)
	return nil
}

// Grad returns a new handle to t's gradient, or nil when it has none. The
// caller owns the handle (freeing it does not free the gradient).
func (t *Tensor) Grad() (*Tensor, error) {
	var out lib.Ctensor
	lib.AtgGrad(&out, t.c)
	if err := lastErr(); err != nil {
		return nil, fmt.Errorf("torch: grad: %w", err)
	}
	g := &Tensor{c: out}
	if !lib.AtDefined(out) {
		g.Free()
		return nil, nil
	}
	return g, nil
}

// ZeroGrad drops t's gradient (like PyTorch's zero_grad(set_to_none=True)) by
// zeroing it in place; the buffer is reused by the next backward.
func (t *Tensor) ZeroGrad() error {
	g, err := t.Grad()
	if err != nil || g == nil {
		return err
	}
	defer g.Free()
	var out lib.Ctensor
	lib.AtgZero_(&out, g.c)
	if err := lastErr(); err != nil {
		return fmt.Errorf("torch: zero_: %w", err)
	}
	lib.AtFree(out)
	return nil
}

// ShallowClone returns a new handle to the same tensor (shared storage and
// autograd identity). The caller owns it.
func (t *Tensor) ShallowClone() *Tensor {
	return &Tensor{c: lib.AtShallowClone(t.c)}
}
