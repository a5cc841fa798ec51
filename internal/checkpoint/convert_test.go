package checkpoint

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"math"
	"strconv"
	"testing"
)

func isNaN32(b uint32) bool { return b&0x7fffffff > 0x7f800000 }

func sha16(v []uint16) string {
	b := make([]byte, 2*len(v))
	for i, x := range v {
		binary.LittleEndian.PutUint16(b[2*i:], x)
	}
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

func sha32(v []uint32) string {
	b := make([]byte, 4*len(v))
	for i, x := range v {
		binary.LittleEndian.PutUint32(b[4*i:], x)
	}
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

func toF16(bits []uint32) []uint16 {
	out := make([]uint16, len(bits))
	for i, b := range bits {
		out[i] = F16FromFloat32(math.Float32frombits(b))
	}
	return out
}

func toBF16(bits []uint32) []uint16 {
	out := make([]uint16, len(bits))
	for i, b := range bits {
		out[i] = BF16FromFloat32(math.Float32frombits(b))
	}
	return out
}

// TestConversionsMatchTorch checks float32 → float16/bfloat16 rounding and
// the widening conversions against torch 2.1, bit for bit, on edge cases,
// on about a million float32 patterns and on every rounding tie.
func TestConversionsMatchTorch(t *testing.T) {
	c := loadExpected(t).Conversions
	if len(c.EdgeF32) == 0 || len(c.EdgeF32) != len(c.EdgeF16) || len(c.EdgeF32) != len(c.EdgeBF16) {
		t.Fatal("expected.json: conversion edge cases missing")
	}
	for i, b := range c.EdgeF32 {
		f := math.Float32frombits(b)
		h, bf := F16FromFloat32(f), BF16FromFloat32(f)
		if isNaN32(b) {
			// torch's NaN bits depend on its code path; NaN must stay NaN.
			if h&0x7c00 != 0x7c00 || h&0x3ff == 0 || bf&0x7f80 != 0x7f80 || bf&0x7f == 0 {
				t.Errorf("NaN %08x → f16 %04x, bf16 %04x: not NaN", b, h, bf)
			}
			continue
		}
		if h != c.EdgeF16[i] {
			t.Errorf("F16FromFloat32(%08x = %g) = %04x, torch %04x", b, f, h, c.EdgeF16[i])
		}
		if bf != c.EdgeBF16[i] {
			t.Errorf("BF16FromFloat32(%08x = %g) = %04x, torch %04x", b, f, bf, c.EdgeBF16[i])
		}
	}

	var weyl []uint32
	for i := uint64(0); i < 1<<20; i++ {
		if b := uint32(i * 0x9E3779B9); !isNaN32(b) {
			weyl = append(weyl, b)
		}
	}
	if got := sha16(toF16(weyl)); got != c.WeylF16SHA {
		t.Errorf("float16 of %d spread float32 patterns differs from torch", len(weyl))
	}
	if got := sha16(toBF16(weyl)); got != c.WeylBF16SHA {
		t.Errorf("bfloat16 of %d spread float32 patterns differs from torch", len(weyl))
	}

	var ties []uint32
	for h := uint16(0); h < 0x7bff; h++ {
		m := math.Float32bits(float32((float64(Float32FromF16(h)) + float64(Float32FromF16(h+1))) / 2))
		ties = append(ties, m-1, m, m+1)
	}
	for _, b := range ties[:len(ties):len(ties)] {
		ties = append(ties, b|0x80000000)
	}
	if got := sha16(toF16(ties)); got != c.F16TiesSHA {
		t.Errorf("float16 rounding of %d ties and neighbours differs from torch", len(ties))
	}
	var bties []uint32
	for hi := uint32(0); hi < 65536; hi++ {
		for _, lo := range []uint32{0x7fff, 0x8000, 0x8001} {
			if b := hi<<16 | lo; !isNaN32(b) {
				bties = append(bties, b)
			}
		}
	}
	if got := sha16(toBF16(bties)); got != c.BF16TiesSHA {
		t.Errorf("bfloat16 rounding of %d ties and neighbours differs from torch", len(bties))
	}

	var h2f, b2f []uint32
	for i := 0; i < 65536; i++ {
		h := uint16(i)
		if !(h&0x7c00 == 0x7c00 && h&0x3ff != 0) {
			h2f = append(h2f, math.Float32bits(Float32FromF16(h)))
		} else if f := Float32FromF16(h); f == f {
			t.Errorf("Float32FromF16(%04x) = %v, want NaN", h, f)
		}
		if !(h&0x7f80 == 0x7f80 && h&0x7f != 0) {
			b2f = append(b2f, math.Float32bits(Float32FromBF16(h)))
		}
	}
	if sha32(h2f) != c.F16ToF32SHA {
		t.Error("float16 → float32 of all non-NaN patterns differs from torch")
	}
	if sha32(b2f) != c.BF16ToF32SHA {
		t.Error("bfloat16 → float32 of all non-NaN patterns differs from torch")
	}
	for k, want := range c.F16ToF32Sample {
		h, _ := strconv.Atoi(k)
		if got := math.Float32bits(Float32FromF16(uint16(h))); got != want {
			t.Errorf("Float32FromF16(%04x) = %08x, torch %08x", h, got, want)
		}
	}
	for k, want := range c.BF16ToF32Sample {
		h, _ := strconv.Atoi(k)
		if got := math.Float32bits(Float32FromBF16(uint16(h))); got != want {
			t.Errorf("Float32FromBF16(%04x) = %08x, torch %08x", h, got, want)
		}
	}
}

func TestByteHelpersAndDecode(t *testing.T) {
	v := []float32{1, -2.5, 65504, 1e-7, float32(math.Inf(-1))}
	for _, dt := range []DType{F32, F16, BF16} {
		var b []byte
		switch dt {
		case F32:
			b = Float32Bytes(v)
		case F16:
			b = F16Bytes(v)
		case BF16:
			b = BF16Bytes(v)
		}
		got := make([]float32, len(v))
		if err := DecodeFloat32(dt, b, got); err != nil {
			t.Fatal(err)
		}
		for i := range v {
			var want float32
			switch dt {
			case F32:
				want = v[i]
			case F16:
				want = Float32FromF16(F16FromFloat32(v[i]))
			case BF16:
				want = Float32FromBF16(BF16FromFloat32(v[i]))
			}
			if math.Float32bits(got[i]) != math.Float32bits(want) {
				t.Errorf("%v: element %d = %v, want %v", dt, i, got[i], want)
			}
		}
	}
	if err := DecodeFloat32(F32, make([]byte, 7), make([]float32, 2)); err == nil {
		t.Error("DecodeFloat32 with a wrong length succeeded")
	}
	if err := DecodeFloat32(I64, make([]byte, 8), make([]float32, 1)); err == nil {
		t.Error("DecodeFloat32 of I64 succeeded")
	}
}

func TestDTypeNames(t *testing.T) {
	for _, d := range []DType{F32, F16, BF16, F64, I64, I32, I16, I8, U8, Bool} {
		p, err := ParseDType(d.String())
		if err != nil || p != d {
			t.Errorf("ParseDType(%q) = %v, %v", d.String(), p, err)
		}
	}
	if Bool.String() != "BOOL" || BF16.String() != "BF16" {
		t.Errorf("names: %s %s", Bool, BF16)
	}
	if _, err := ParseDType("F8_E4M3"); err == nil {
		t.Error("ParseDType(F8_E4M3) succeeded")
	}
	if n := (TensorInfo{Shape: []int64{}}).NumElements(); n != 1 {
		t.Errorf("scalar NumElements = %d", n)
	}
	if n := (TensorInfo{Shape: []int64{3, 0, 2}}).NumElements(); n != 0 {
		t.Errorf("empty NumElements = %d", n)
	}
}

// DecodeFloat32's fast paths (lookup table, aligned views) agree with the
// element conversions for every 16-bit pattern, aligned or not.
func TestDecodeAllHalfPatterns(t *testing.T) {
	buf := make([]byte, 2*65536+1)
	for _, off := range []int{0, 1} {
		data := buf[off : off+2*65536]
		for i := 0; i < 65536; i++ {
			binary.LittleEndian.PutUint16(data[2*i:], uint16(i))
		}
		for _, dt := range []DType{F16, BF16} {
			got := make([]float32, 65536)
			if err := DecodeFloat32(dt, data, got); err != nil {
				t.Fatal(err)
			}
			for i, g := range got {
				want := Float32FromF16(uint16(i))
				if dt == BF16 {
					want = Float32FromBF16(uint16(i))
				}
				if math.Float32bits(g) != math.Float32bits(want) {
					t.Fatalf("%v offset %d: pattern %04x → %08x, want %08x", dt, off, i, math.Float32bits(g), math.Float32bits(want))
				}
			}
		}
	}
}
