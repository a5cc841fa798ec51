package gguf

import (
	"encoding/binary"
	"fmt"
	"math"

	"github.com/golamini/golamini/internal/checkpoint"
)

// Quantizable reports whether Quantize handles type t.
func Quantizable(t TensorType) bool {
	switch t {
	case TypeF32, TypeF16, TypeBF16, TypeQ8_0:
		return true
	}
	return false
}

// Quantize encodes float32 values as type t (F32, F16, BF16 or Q8_0), with
// the same bytes as gguf.quants.quantize (and so llama.cpp's reference
// quantization): F16 rounds to nearest even, BF16 rounds to nearest even
// with NaNs made quiet, Q8_0 scales each block of 32 by its largest
// magnitude / 127 and rounds half away from zero. len(src) must be a
// multiple of the block size.
func Quantize(t TensorType, src []float32) ([]byte, error) {
	if !Quantizable(t) {
		return nil, fmt.Errorf("%w: cannot quantize to tensor type %v (F32, F16, BF16 and Q8_0 are supported)", ErrUnsupported, t)
	}
	bs := t.BlockSize()
	if int64(len(src))%bs != 0 {
		return nil, fmt.Errorf("gguf: %d values are not a whole number of %v blocks of %d", len(src), t, bs)
	}
	out := make([]byte, int64(len(src))/bs*t.TypeSize())
	le := binary.LittleEndian
	switch t {
	case TypeF32:
		for i, v := range src {
			le.PutUint32(out[4*i:], math.Float32bits(v))
		}
	case TypeF16:
		for i, v := range src {
			le.PutUint16(out[2*i:], checkpoint.F16FromFloat32(v))
		}
	case TypeBF16:
		for i, v := range src {
			le.PutUint16(out[2*i:], bf16FromFloat32(v))
		}
	case TypeQ8_0:
		for b := 0; b < len(src)/32; b++ {
			quantQ8_0(src[b*32:b*32+32], out[b*34:b*34+34])
		}
	}
	return out, nil
}

// bf16FromFloat32 is ggml_compute_fp32_to_bf16.
func bf16FromFloat32(f float32) uint16 {
	n := math.Float32bits(f)
	if n&0x7fffffff > 0x7f800000 {
		return uint16((n&0xffff0000 | 64<<16) >> 16)
	}
	return uint16((uint64(n) + uint64(0x7fff+(n>>16)&1)) >> 16)
}

// quantQ8_0 quantizes one block of 32 values in float32 arithmetic, in the
// order of gguf's numpy code: d = amax/127, id = 1/d, q = roundf(x*id).
func quantQ8_0(x []float32, dst []byte) {
	var amax float32
	for _, v := range x {
		if a := float32(math.Abs(float64(v))); a > amax {
			amax = a
		}
	}
	d := amax / 127
	var id float32
	if d != 0 {
		id = 1 / d
	}
	binary.LittleEndian.PutUint16(dst, checkpoint.F16FromFloat32(d))
	for j, v := range x {
		dst[2+j] = byte(int8(roundAway(v * id)))
	}
}

// roundAway rounds half away from zero the way gguf's np_roundf does, in
// float32: floor(a) + floor(2*(a - floor(a))), with the sign put back.
func roundAway(n float32) float32 {
	a := float32(math.Abs(float64(n)))
	fl := float32(math.Floor(float64(a)))
	b := fl + float32(math.Floor(float64(2*(a-fl))))
	if n < 0 {
		return -b
	}
	return b
}
