package checkpoint

import (
	"encoding/binary"
	"fmt"
	"math"
	"sync"
	"unsafe"
)

// hostLittleEndian is true on little-endian machines, where float32 slices
// can be copied to and from little-endian bytes with one memmove.
var hostLittleEndian = func() bool {
	x := uint16(1)
	return *(*byte)(unsafe.Pointer(&x)) == 1
}()

// Float32FromF16 converts IEEE binary16 bits to float32 exactly. A NaN stays
// a NaN with its sign and payload, quieted, as the x86 conversion
// instruction does (torch's own result for a NaN varies with its code path).
func Float32FromF16(h uint16) float32 {
	sign := uint32(h>>15) << 31
	exp := uint32(h>>10) & 0x1f
	mant := uint32(h) & 0x3ff
	switch {
	case exp == 0:
		// Zero or subnormal: mant × 2^-24, exact in float32.
		v := float32(mant) * (1.0 / (1 << 24))
		if sign != 0 {
			v = -v
		}
		return v
	case exp == 0x1f && mant == 0:
		return math.Float32frombits(sign | 0x7f800000)
	case exp == 0x1f:
		return math.Float32frombits(sign | 0x7fc00000 | mant<<13)
	default:
		return math.Float32frombits(sign | (exp+112)<<23 | mant<<13)
	}
}

// F16FromFloat32 converts a float32 to IEEE binary16 bits, rounding to
// nearest even like torch's float→half conversion: magnitudes from 65520 up
// become infinity and subnormal results round too. A NaN becomes a quiet NaN
// with the input's sign and the top of its payload, as the x86 conversion
// instruction does (torch's own result for a NaN varies with its code path).
func F16FromFloat32(f float32) uint16 {
	x := math.Float32bits(f)
	sign := uint16(x>>16) & 0x8000
	abs := x & 0x7fffffff
	switch {
	case abs > 0x7f800000: // NaN
		return sign | 0x7e00 | uint16(abs>>13)&0x3ff
	case abs >= 0x477ff000: // rounds to, or is, infinity
		return sign | 0x7c00
	case abs < 0x38800000: // below the smallest normal half: subnormal or zero
		exp := abs >> 23
		if exp == 0 {
			return sign // float32 subnormals are far below half's range
		}
		m := abs&0x7fffff | 0x800000
		shift := 126 - exp // value × 2^24 = m >> shift
		if shift > 24 {
			return sign
		}
		q := m >> shift
		r := m & (1<<shift - 1)
		half := uint32(1) << (shift - 1)
		if r > half || (r == half && q&1 == 1) {
			q++
		}
		return sign | uint16(q)
	default:
		h := (abs>>23-112)<<10 | (abs&0x7fffff)>>13
		r := abs & 0x1fff
		if r > 0x1000 || (r == 0x1000 && h&1 == 1) {
			h++
		}
		return sign | uint16(h)
	}
}

// Float32FromBF16 converts bfloat16 bits to float32 exactly.
func Float32FromBF16(b uint16) float32 { return math.Float32frombits(uint32(b) << 16) }

// BF16FromFloat32 converts a float32 to bfloat16 bits, rounding to nearest
// even like torch. A NaN becomes a quiet NaN with the input's sign and the
// top of its payload (torch's own result for a NaN varies with its code
// path: 0x7fc0 or 0xffff).
func BF16FromFloat32(f float32) uint16 {
	x := math.Float32bits(f)
	if x&0x7fffffff > 0x7f800000 {
		return uint16(x>>16) | 0x40
	}
	return uint16((x + 0x7fff + (x>>16)&1) >> 16)
}

// Float32Bytes returns the little-endian bytes of v (the F32 data of a
// tensor).
func Float32Bytes(v []float32) []byte {
	out := make([]byte, 4*len(v))
	if hostLittleEndian && len(v) > 0 {
		copy(out, unsafe.Slice((*byte)(unsafe.Pointer(&v[0])), len(out)))
		return out
	}
	for i, f := range v {
		binary.LittleEndian.PutUint32(out[4*i:], math.Float32bits(f))
	}
	return out
}

// F16Bytes converts v to IEEE binary16 (rounding like torch) and returns the
// little-endian bytes (the F16 data of a tensor).
func F16Bytes(v []float32) []byte {
	out := make([]byte, 2*len(v))
	for i, f := range v {
		binary.LittleEndian.PutUint16(out[2*i:], F16FromFloat32(f))
	}
	return out
}

// BF16Bytes converts v to bfloat16 (rounding like torch) and returns the
// little-endian bytes (the BF16 data of a tensor).
func BF16Bytes(v []float32) []byte {
	out := make([]byte, 2*len(v))
	for i, f := range v {
		binary.LittleEndian.PutUint16(out[2*i:], BF16FromFloat32(f))
	}
	return out
}

// DecodeFloat32 converts little-endian tensor data of a floating-point dtype
// (F32, F16, BF16, F64) into dst, which must hold exactly the data's number
// of elements. F64 values are rounded to nearest float32.
func DecodeFloat32(dt DType, data []byte, dst []float32) error {
	if !dt.IsFloat() {
		return fmt.Errorf("dtype %v is not a floating-point type (want F32, F16, BF16 or F64)", dt)
	}
	size := int(dt.Size())
	if len(data)%size != 0 || len(data)/size != len(dst) {
		return fmt.Errorf("%d bytes of %v data do not make %d elements", len(data), dt, len(dst))
	}
	switch dt {
	case F32:
		if hostLittleEndian && len(dst) > 0 {
			copy(unsafe.Slice((*byte)(unsafe.Pointer(&dst[0])), len(data)), data)
			return nil
		}
		for i := range dst {
			dst[i] = math.Float32frombits(binary.LittleEndian.Uint32(data[4*i:]))
		}
	case F16:
		tab := f16Table()
		if h, ok := uint16s(data); ok {
			for i, x := range h {
				dst[i] = math.Float32frombits(tab[x])
			}
			return nil
		}
		for i := range dst {
			dst[i] = math.Float32frombits(tab[binary.LittleEndian.Uint16(data[2*i:])])
		}
	case BF16:
		if h, ok := uint16s(data); ok {
			for i, x := range h {
				dst[i] = math.Float32frombits(uint32(x) << 16)
			}
			return nil
		}
		for i := range dst {
			dst[i] = math.Float32frombits(uint32(binary.LittleEndian.Uint16(data[2*i:])) << 16)
		}
	case F64:
		for i := range dst {
			dst[i] = float32(math.Float64frombits(binary.LittleEndian.Uint64(data[8*i:])))
		}
	}
	return nil
}

// f16Table returns the float32 bits of every float16 value (256 KB, built
// on first use): a lookup is several times faster than converting.
var f16Table = sync.OnceValue(func() *[1 << 16]uint32 {
	var t [1 << 16]uint32
	for i := range t {
		t[i] = math.Float32bits(Float32FromF16(uint16(i)))
	}
	return &t
})

// uint16s views little-endian data as []uint16 without copying, when the
// host is little-endian and the data is 2-byte aligned.
func uint16s(data []byte) ([]uint16, bool) {
	if !hostLittleEndian || len(data) == 0 || uintptr(unsafe.Pointer(&data[0]))%2 != 0 {
		return nil, false
	}
	return unsafe.Slice((*uint16)(unsafe.Pointer(&data[0])), len(data)/2), true
}
