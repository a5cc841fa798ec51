package checkpoint

import (
	"fmt"
	"math"
	"math/bits"
)

// TensorInfo describes one stored tensor: its name, element type and shape
// (row-major; an empty shape is a scalar).
type TensorInfo struct {
	Name  string
	DType DType
	Shape []int64
}

// NumElements returns the number of elements of the tensor (1 for a scalar).
func (t TensorInfo) NumElements() int64 {
	n := int64(1)
	for _, d := range t.Shape {
		n *= d
	}
	return n
}

// NumBytes returns the size of the tensor's contiguous data in bytes.
func (t TensorInfo) NumBytes() int64 { return t.NumElements() * t.DType.Size() }

// String formats the tensor as "name F32[2 3]".
func (t TensorInfo) String() string {
	return fmt.Sprintf("%s %s%v", t.Name, t.DType, t.Shape)
}

// NamedTensor is one tensor to write: contiguous row-major data in
// little-endian byte order, len(Data) == NumElements(Shape) * DType.Size().
type NamedTensor struct {
	Name  string
	DType DType
	Shape []int64
	Data  []byte
}

// checkedBytes returns the byte size of a tensor of the given dtype and
// shape, or an error when a dimension is negative or the size overflows.
func checkedBytes(dt DType, shape []int64) (int64, error) {
	if !dt.valid() {
		return 0, fmt.Errorf("invalid dtype %v", dt)
	}
	n := uint64(dt.Size())
	for _, d := range shape {
		if d < 0 {
			return 0, fmt.Errorf("negative dimension %d in shape %v", d, shape)
		}
		hi, lo := bits.Mul64(n, uint64(d))
		if hi != 0 || lo > math.MaxInt64 {
			return 0, fmt.Errorf("shape %v of %v is too large", shape, dt)
		}
		n = lo
	}
	return int64(n), nil
}

func cloneShape(s []int64) []int64 {
	out := make([]int64, len(s))
	copy(out, s)
	return out
}
