package gguf

import (
	"math/rand"
	"testing"
)

// BenchmarkDequantize measures dequantization of 1M values per type
// (random blocks with finite scales); bytes/s are of the float32 output.
func BenchmarkDequantize(b *testing.B) {
	for _, typ := range []TensorType{TypeF16, TypeQ8_0, TypeQ4_0, TypeQ4_1, TypeQ5_1, TypeQ4_K, TypeQ6_K} {
		b.Run(typ.String(), func(b *testing.B) {
			n := 1 << 20
			src := make([]byte, int64(n)/typ.BlockSize()*typ.TypeSize())
			rand.New(rand.NewSource(1)).Read(src)
			for i := 0; i+1 < len(src); i += 2 {
				src[i+1] &= 0x3b // keep float16 exponents small: no NaN/Inf scales
			}
			dst := make([]float32, n)
			b.SetBytes(int64(4 * n))
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if err := Dequantize(typ, src, dst); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
