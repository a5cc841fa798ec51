package gguf

import (
	"encoding/binary"
	"fmt"
	"math"

	"github.com/golamini/golamini/internal/checkpoint"
)

// Dequantizable reports whether Dequantize handles type t.
func Dequantizable(t TensorType) bool { _, ok := dequantizers[t]; return ok }

// dequantizers decode whole blocks: src holds len(dst)/blockSize blocks.
var dequantizers = map[TensorType]func(src []byte, dst []float32){
	TypeF32:  dequantF32,
	TypeF16:  dequantF16,
	TypeBF16: dequantBF16,
	TypeQ4_0: dequantQ4_0,
	TypeQ4_1: dequantQ4_1,
	TypeQ5_0: dequantQ5_0,
	TypeQ5_1: dequantQ5_1,
	TypeQ8_0: dequantQ8_0,
	TypeQ2_K: dequantQ2K,
	TypeQ3_K: dequantQ3K,
	TypeQ4_K: dequantQ4K,
	TypeQ5_K: dequantQ5K,
	TypeQ6_K: dequantQ6K,
}

// Dequantize decodes values of type t from src into dst. len(dst) must be a
// multiple of t's block size and src must hold exactly len(dst) values.
// The results equal gguf.quants.dequantize's bit for bit: every product and
// sum is rounded to float32 in the order numpy evaluates it (the explicit
// float32 conversions below stop the compiler from fusing a multiply and an
// add into one FMA, which rounds once instead of twice).
func Dequantize(t TensorType, src []byte, dst []float32) error {
	fn, ok := dequantizers[t]
	if !ok {
		return fmt.Errorf("%w: cannot dequantize tensor type %v", ErrUnsupported, t)
	}
	bs, ts := t.BlockSize(), t.TypeSize()
	if int64(len(dst))%bs != 0 {
		return fmt.Errorf("%d values are not a whole number of %v blocks of %d", len(dst), t, bs)
	}
	if want := int64(len(dst)) / bs * ts; int64(len(src)) != want {
		return fmt.Errorf("%d bytes hold the %d values of type %v, want %d", len(src), len(dst), t, want)
	}
	fn(src, dst)
	return nil
}

func f16(b []byte) float32 { return checkpoint.Float32FromF16(binary.LittleEndian.Uint16(b)) }

func dequantF32(src []byte, dst []float32) {
	for i := range dst {
		dst[i] = math.Float32frombits(binary.LittleEndian.Uint32(src[4*i:]))
	}
}

func dequantF16(src []byte, dst []float32) {
	for i := range dst {
		dst[i] = f16(src[2*i:])
	}
}

func dequantBF16(src []byte, dst []float32) {
	for i := range dst {
		dst[i] = math.Float32frombits(uint32(binary.LittleEndian.Uint16(src[2*i:])) << 16)
	}
}

// Q4_0 block: d (f16), 16 bytes of nibbles; value j is the low nibble of
// byte j (j < 16) or the high nibble of byte j-16, minus 8, times d.
func dequantQ4_0(src []byte, dst []float32) {
	for b := 0; b < len(dst)/32; b++ {
		blk, out := src[b*18:], dst[b*32:b*32+32]
		d, qs := f16(blk), blk[2:18]
		for j := 0; j < 16; j++ {
			out[j] = d * float32(int8(qs[j]&0x0f)-8)
			out[j+16] = d * float32(int8(qs[j]>>4)-8)
		}
	}
}

// Q4_1 block: d, m (f16), 16 bytes of nibbles; value = d*q + m.
func dequantQ4_1(src []byte, dst []float32) {
	for b := 0; b < len(dst)/32; b++ {
		blk, out := src[b*20:], dst[b*32:b*32+32]
		d, m, qs := f16(blk), f16(blk[2:]), blk[4:20]
		for j := 0; j < 16; j++ {
			out[j] = float32(d*float32(qs[j]&0x0f)) + m
			out[j+16] = float32(d*float32(qs[j]>>4)) + m
		}
	}
}

// Q5_0 block: d (f16), qh (32 high bits, little-endian), 16 bytes of low
// nibbles; value = d * (q - 16).
func dequantQ5_0(src []byte, dst []float32) {
	for b := 0; b < len(dst)/32; b++ {
		blk, out := src[b*22:], dst[b*32:b*32+32]
		d, qh, qs := f16(blk), binary.LittleEndian.Uint32(blk[2:]), blk[6:22]
		for j := 0; j < 16; j++ {
			lo := qs[j]&0x0f | uint8(qh>>j&1)<<4
			hi := qs[j]>>4 | uint8(qh>>(j+16)&1)<<4
			out[j] = d * float32(int8(lo)-16)
			out[j+16] = d * float32(int8(hi)-16)
		}
	}
}

// Q5_1 block: d, m (f16), qh, 16 bytes of low nibbles; value = d*q + m.
func dequantQ5_1(src []byte, dst []float32) {
	for b := 0; b < len(dst)/32; b++ {
		blk, out := src[b*24:], dst[b*32:b*32+32]
		d, m, qh, qs := f16(blk), f16(blk[2:]), binary.LittleEndian.Uint32(blk[4:]), blk[8:24]
		for j := 0; j < 16; j++ {
			lo := qs[j]&0x0f | uint8(qh>>j&1)<<4
			hi := qs[j]>>4 | uint8(qh>>(j+16)&1)<<4
			out[j] = float32(d*float32(lo)) + m
			out[j+16] = float32(d*float32(hi)) + m
		}
	}
}

// Q8_0 block: d (f16), 32 signed bytes; value = q * d.
func dequantQ8_0(src []byte, dst []float32) {
	for b := 0; b < len(dst)/32; b++ {
		blk, out := src[b*34:], dst[b*32:b*32+32]
		d := f16(blk)
		for j := 0; j < 32; j++ {
			out[j] = float32(int8(blk[2+j])) * d
		}
	}
}

// Q2_K super-block: 16 scale bytes (low nibble scale, high nibble min), 64
// bytes of 2-bit values, d, dmin (f16). Value i of the block lies in byte
// (i/128)*32 + i%32 at bit 2*((i/32)%4); sub-block i/16 gives
// d*scale*q - dmin*min.
func dequantQ2K(src []byte, dst []float32) {
	const ts = 2 + 2 + qk/16 + qk/4
	for b := 0; b < len(dst)/qk; b++ {
		blk, out := src[b*ts:], dst[b*qk:b*qk+qk]
		scales, qs := blk[:16], blk[16:80]
		d, dmin := f16(blk[80:]), f16(blk[82:])
		for i := 0; i < qk; i++ {
			s := scales[i/16]
			dl := d * float32(s&0x0f)
			ml := dmin * float32(s>>4)
			q := qs[(i/128)*32+i%32] >> (2 * ((i / 32) % 4)) & 3
			out[i] = float32(dl*float32(q)) - ml
		}
	}
}

// Q3_K super-block: hmask (32 bytes), qs (64 bytes of 2-bit values), 12
// bytes of packed 6-bit signed scales, d (f16). Value i has its low two
// bits where Q2_K has them and its high bit in hmask[i%32] at bit i/32; a
// clear high bit subtracts 4.
func dequantQ3K(src []byte, dst []float32) {
	const ts = 2 + qk/4 + qk/8 + 12
	for b := 0; b < len(dst)/qk; b++ {
		blk, out := src[b*ts:], dst[b*qk:b*qk+qk]
		hmask, qs, sc := blk[:32], blk[32:96], blk[96:108]
		d := f16(blk[108:])
		var dl [16]float32
		for k := 0; k < 16; k++ {
			lo := sc[k%8] >> (4 * (k / 8)) & 0x0f
			hi := sc[8+k%4] >> (2 * (k / 4)) & 3
			dl[k] = d * float32(int8(lo|hi<<4)-32)
		}
		for i := 0; i < qk; i++ {
			ql := int8(qs[(i/128)*32+i%32] >> (2 * ((i / 32) % 4)) & 3)
			h := hmask[i%32] >> (i / 32) & 1
			q := ql - int8((h^1)<<2)
			out[i] = dl[i/16] * float32(q)
		}
	}
}

// scaleMinK4 unpacks the eight 6-bit scales and mins of a Q4_K or Q5_K
// super-block from its 12 scale bytes.
func scaleMinK4(s []byte) (sc, mn [8]uint8) {
	for j := 0; j < 4; j++ {
		sc[j] = s[j] & 0x3f
		mn[j] = s[4+j] & 0x3f
		sc[4+j] = s[8+j]&0x0f | (s[j]>>2)&0x30
		mn[4+j] = s[8+j]>>4 | (s[4+j]>>2)&0x30
	}
	return sc, mn
}

// Q4_K super-block: d, dmin (f16), 12 scale bytes, 128 bytes of nibbles.
// Value i lies in byte (i/64)*32 + i%32, low nibble when (i/32) is even;
// sub-block i/32 gives d*scale*q - dmin*min.
func dequantQ4K(src []byte, dst []float32) {
	const ts = 2 + 2 + qk/2 + 12
	for b := 0; b < len(dst)/qk; b++ {
		blk, out := src[b*ts:], dst[b*qk:b*qk+qk]
		d, dmin := f16(blk), f16(blk[2:])
		sc, mn := scaleMinK4(blk[4:16])
		qs := blk[16:144]
		for i := 0; i < qk; i++ {
			j := i / 32
			ds := d * float32(sc[j])
			dm := dmin * float32(mn[j])
			q := qs[(i/64)*32+i%32] >> (4 * (j % 2)) & 0x0f
			out[i] = float32(ds*float32(q)) - dm
		}
	}
}

// Q5_K super-block: d, dmin, 12 scale bytes, qh (32 bytes), 128 bytes of
// nibbles; value i's fifth bit is qh[i%32] at bit i/32.
func dequantQ5K(src []byte, dst []float32) {
	const ts = 2 + 2 + qk/2 + qk/8 + 12
	for b := 0; b < len(dst)/qk; b++ {
		blk, out := src[b*ts:], dst[b*qk:b*qk+qk]
		d, dmin := f16(blk), f16(blk[2:])
		sc, mn := scaleMinK4(blk[4:16])
		qh, qs := blk[16:48], blk[48:176]
		for i := 0; i < qk; i++ {
			j := i / 32
			ds := d * float32(sc[j])
			dm := dmin * float32(mn[j])
			q := qs[(i/64)*32+i%32]>>(4*(j%2))&0x0f | (qh[i%32]>>j&1)<<4
			out[i] = float32(ds*float32(q)) - dm
		}
	}
}

// Q6_K super-block: ql (128 bytes of low nibbles), qh (64 bytes of 2-bit
// high parts), 16 signed scale bytes, d (f16). Value i: low nibble from
// ql[(i/128)*64 + i%64] (high nibble when (i/64) is odd), high bits from
// qh[(i/128)*32 + i%32] at bit 2*((i/32)%4); q - 32 times d*scale[i/16].
func dequantQ6K(src []byte, dst []float32) {
	const ts = 2 + qk/2 + qk/4 + qk/16
	for b := 0; b < len(dst)/qk; b++ {
		blk, out := src[b*ts:], dst[b*qk:b*qk+qk]
		ql, qh, sc := blk[:128], blk[128:192], blk[192:208]
		d := f16(blk[208:])
		for i := 0; i < qk; i++ {
			lo := ql[(i/128)*64+i%64] >> (4 * ((i / 64) % 2)) & 0x0f
			hi := qh[(i/128)*32+i%32] >> (2 * ((i / 32) % 4)) & 3
			q := int8(lo|hi<<4) - 32
			ds := d * float32(int8(sc[i/16]))
			out[i] = ds * float32(q)
		}
	}
}
