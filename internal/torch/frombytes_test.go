package torch

import (
	"context"
	"encoding/binary"
	"fmt"
	"math"
	"testing"
)

// Float32FromBytes converts float16, bfloat16, float32 and float64 bytes
// (aligned or not) to the float32 values they hold, and rejects wrong
// lengths and non-float dtypes.
func TestFloat32FromBytes(t *testing.T) {
	want := []float32{0, 1, -2.5, 0.099975586, 65504, -0.000061035156} // exact in float16
	enc := map[DType]func(float32) []byte{
		Float32: func(f float32) []byte { return binary.LittleEndian.AppendUint32(nil, math.Float32bits(f)) },
		Float64: func(f float32) []byte { return binary.LittleEndian.AppendUint64(nil, math.Float64bits(float64(f))) },
		BFloat16: func(f float32) []byte {
			return binary.LittleEndian.AppendUint16(nil, uint16(math.Float32bits(f)>>16))
		},
		Float16: func(f float32) []byte { return binary.LittleEndian.AppendUint16(nil, f16(f)) },
	}
	err := Do(context.Background(), func() error {
		for dt, e := range enc {
			for _, offset := range []int{0, 1} { // 1: misaligned
				raw := make([]byte, offset)
				for _, f := range want {
					raw = append(raw, e(f)...)
				}
				x, err := Float32FromBytes(raw[offset:], dt, 2, 3)
				if err != nil {
					return fmt.Errorf("%v: %w", dt, err)
				}
				got, err := x.Float32s()
				shape, xdt := x.Shape(), x.DType()
				x.Free()
				if err != nil {
					return err
				}
				for i := range want {
					w := want[i]
					if dt == BFloat16 {
						w = math.Float32frombits(math.Float32bits(w) &^ 0xffff)
					}
					if got[i] != w {
						return fmt.Errorf("%v offset %d: value %d = %v, want %v", dt, offset, i, got[i], w)
					}
				}
				if fmt.Sprint(shape) != "[2 3]" || xdt != Float32 {
					return fmt.Errorf("%v: shape %v", dt, shape)
				}
			}
		}
		if _, err := Float32FromBytes(make([]byte, 10), Float32, 2, 3); err == nil {
			return fmt.Errorf("10 bytes for 6 float32: no error")
		}
		if _, err := Float32FromBytes(make([]byte, 6), Int64, 6); err == nil {
			return fmt.Errorf("int64: no error")
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// f16 encodes the test's values, which float16 holds exactly.
func f16(f float32) uint16 {
	b := math.Float32bits(f)
	sign := uint16(b>>16) & 0x8000
	exp := int((b>>23)&0xff) - 127 + 15
	mant := b & 0x7fffff
	switch {
	case f == 0:
		return sign
	case exp <= 0: // subnormal
		return sign | uint16((mant|0x800000)>>uint(14-exp))
	default:
		return sign | uint16(exp)<<10 | uint16(mant>>13)
	}
}
