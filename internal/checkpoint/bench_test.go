package checkpoint

import (
	"math/rand"
	"testing"
)

func benchDecode(b *testing.B, dt DType) {
	const n = 1 << 20
	r := rand.New(rand.NewSource(1))
	v := make([]float32, n)
	for i := range v {
		v[i] = float32(r.NormFloat64())
	}
	var data []byte
	switch dt {
	case F16:
		data = F16Bytes(v)
	case BF16:
		data = BF16Bytes(v)
	default:
		data = Float32Bytes(v)
	}
	dst := make([]float32, n)
	b.SetBytes(int64(len(data)))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := DecodeFloat32(dt, data, dst); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDecodeF16(b *testing.B)  { benchDecode(b, F16) }
func BenchmarkDecodeBF16(b *testing.B) { benchDecode(b, BF16) }
func BenchmarkDecodeF32(b *testing.B)  { benchDecode(b, F32) }
