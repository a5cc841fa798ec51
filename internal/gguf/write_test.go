package gguf

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"math"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// TestQuantizeMatchesGGUFPackage quantizes the golden's float32 input and
// compares the bytes with gguf.quants.quantize's (the F16 and BF16 goldens
// carry hand-placed special values at the start, skipped here).
func TestQuantizeMatchesGGUFPackage(t *testing.T) {
	cases := loadQuantCases(t)
	var x []float32
	for _, c := range cases {
		if c.Type == "F32" {
			raw, _ := base64.StdEncoding.DecodeString(c.Data)
			x = make([]float32, len(raw)/4)
			Dequantize(TypeF32, raw, x)
		}
	}
	skip := map[string]int{"F16": 16, "BF16": 16}
	for _, c := range cases {
		typ, _ := ParseTensorType(c.Type)
		if !Quantizable(typ) {
			continue
		}
		want, _ := base64.StdEncoding.DecodeString(c.Data)
		got, err := Quantize(typ, x)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != len(want) || !bytes.Equal(got[skip[c.Type]:], want[skip[c.Type]:]) {
			t.Errorf("%s: quantized bytes differ from gguf.quants.quantize's", c.Type)
		}
	}
	if _, err := Quantize(TypeQ4_K, make([]float32, 256)); err == nil {
		t.Error("Q4_K quantization was accepted")
	}
}

// TestBF16SpecialValues checks NaN quieting and rounding of ggml's
// fp32→bf16 conversion.
func TestBF16SpecialValues(t *testing.T) {
	for in, want := range map[uint32]uint16{
		0x7f800001: 0x7fc0, // signalling NaN made quiet
		0xff800000: 0xff80, // -inf
		0x3f808000: 0x3f80, // tie to even (down)
		0x3f818000: 0x3f82, // tie to even (up)
		0x7f7fffff: 0x7f80, // rounds to infinity
	} {
		if got := bf16FromFloat32(math.Float32frombits(in)); got != want {
			t.Errorf("bf16(%08x) = %04x, want %04x", in, got, want)
		}
	}
}

func sampleWriter(t *testing.T) (*Writer, map[string][]float32) {
	t.Helper()
	w := NewWriter()
	set := func(k string, v any) {
		if err := w.Set(k, v); err != nil {
			t.Fatal(err)
		}
	}
	set("general.architecture", "llama")
	set(KeyAlignment, uint32(64))
	set("t.u8", uint8(7))
	set("t.i8", int8(-7))
	set("t.u16", uint16(700))
	set("t.i16", int16(-700))
	set("t.u32", uint32(70000))
	set("t.i32", int32(-70000))
	set("t.f32", float32(0.25))
	set("t.bool", true)
	set("t.str", "héllo")
	set("t.u64", uint64(1<<63))
	set("t.i64", int64(-1<<62))
	set("t.f64", 1e-300)
	set("t.strs", []string{"a", "", "ü"})
	set("t.i32s", []int32{1, -2})
	set("t.f32s", []float32{0.5})
	set("t.bools", []bool{true, false})
	set("t.u8s", []uint8{1, 2, 3})
	inner1, _ := NewValue([]int32{1, 2})
	inner2, _ := NewValue([]int32{3})
	set("t.nested", []Value{inner1, inner2})
	rng := rand.New(rand.NewSource(1))
	vals := map[string][]float32{}
	for _, tc := range []struct {
		name  string
		typ   TensorType
		shape []int64
	}{{"a.f32", TypeF32, []int64{3, 5}}, {"b.f16", TypeF16, []int64{2, 64}}, {"c.bf16", TypeBF16, []int64{64}}, {"d.q8_0", TypeQ8_0, []int64{2, 2, 64}}} {
		n := int64(1)
		for _, d := range tc.shape {
			n *= d
		}
		x := make([]float32, n)
		for i := range x {
			x[i] = float32(rng.NormFloat64())
		}
		data, err := Quantize(tc.typ, x)
		if err != nil {
			t.Fatal(err)
		}
		if err := w.AddTensor(WriteTensor{Name: tc.name, Type: tc.typ, Shape: tc.shape, Data: data}); err != nil {
			t.Fatal(err)
		}
		back := make([]float32, n)
		Dequantize(tc.typ, data, back)
		vals[tc.name] = back
	}
	return w, vals
}

func TestWriteReadBack(t *testing.T) {
	w, vals := sampleWriter(t)
	path := filepath.Join(t.TempDir(), "out.gguf")
	if err := w.WriteFile(path); err != nil {
		t.Fatal(err)
	}
	f, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if len(f.KV) != len(w.kv) || f.Alignment != 64 {
		t.Fatalf("%d keys alignment %d", len(f.KV), f.Alignment)
	}
	for i, kv := range w.kv {
		if !reflect.DeepEqual(f.KV[i], kv) {
			t.Errorf("metadata %d: %#v, want %#v", i, f.KV[i], kv)
		}
	}
	for _, wt := range w.tensors {
		ti, ok := f.Tensor(wt.Name)
		if !ok || ti.Type != wt.Type || !reflect.DeepEqual(ti.Shape(), wt.Shape) || ti.Offset%64 != 0 {
			t.Errorf("tensor %s: %+v", wt.Name, ti)
			continue
		}
		got, err := f.ReadFloat32(wt.Name)
		if err != nil || !reflect.DeepEqual(got, vals[wt.Name]) {
			t.Errorf("tensor %s: values differ (%v)", wt.Name, err)
		}
	}
}

// TestWriteIsByteIdenticalToGGUFWriter rewrites small.gguf (made by
// gguf.GGUFWriter) from what we read of it and expects the same bytes.
func TestWriteIsByteIdenticalToGGUFWriter(t *testing.T) {
	orig, err := os.ReadFile(smallPath)
	if err != nil {
		t.Fatal(err)
	}
	f, err := Parse(orig)
	if err != nil {
		t.Fatal(err)
	}
	w := NewWriter()
	for _, kv := range f.KV {
		if err := w.SetValue(kv.Key, kv.Value); err != nil {
			t.Fatal(err)
		}
	}
	for _, ti := range f.Tensors {
		_, data, _ := f.TensorData(ti.Name)
		if err := w.AddTensor(WriteTensor{Name: ti.Name, Type: ti.Type, Shape: ti.Shape(), Data: data}); err != nil {
			t.Fatal(err)
		}
	}
	var buf bytes.Buffer
	if _, err := w.WriteTo(&buf); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(buf.Bytes(), orig) {
		t.Errorf("rewritten file (%d bytes) differs from gguf.GGUFWriter's (%d bytes)", buf.Len(), len(orig))
	}
}

func TestWriteRejects(t *testing.T) {
	w := NewWriter()
	if err := w.Set(KeyAlignment, uint32(3)); err == nil {
		t.Error("alignment 3 accepted")
	}
	if err := w.Set("k", struct{}{}); err == nil {
		t.Error("a struct value accepted")
	}
	if err := w.Set("k", []string{}); err == nil {
		t.Error("an empty array accepted")
	}
	if err := w.AddTensor(WriteTensor{Name: "x", Type: TypeF32, Shape: []int64{2}, Data: make([]byte, 4)}); err == nil || !strings.Contains(err.Error(), `"x"`) {
		t.Errorf("short data: %v", err)
	}
	if err := w.AddTensor(WriteTensor{Name: "q", Type: TypeQ8_0, Shape: []int64{16}, Data: make([]byte, 17)}); err == nil {
		t.Error("a partial Q8_0 block accepted")
	}
	w.AddTensor(WriteTensor{Name: "y", Type: TypeF32, Shape: []int64{1}, Data: make([]byte, 4)})
	if err := w.AddTensor(WriteTensor{Name: "y", Type: TypeF32, Shape: []int64{1}, Data: make([]byte, 4)}); err == nil {
		t.Error("a duplicate tensor accepted")
	}
	// A failed write leaves an existing file untouched and no temporary file.
	dir := t.TempDir()
	path := filepath.Join(dir, "sub", "x.gguf")
	if err := w.WriteFile(path); err == nil {
		t.Error("writing into a missing directory succeeded")
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 0 {
		t.Errorf("left behind %v", entries)
	}
}

// TestWriteReadByGGUFPackage has the gguf Python package read a file we
// wrote: metadata and dequantized tensors must be what we wrote.
func TestWriteReadByGGUFPackage(t *testing.T) {
	py := ggufPython(t)
	w, vals := sampleWriter(t)
	path := filepath.Join(t.TempDir(), "out.gguf")
	if err := w.WriteFile(path); err != nil {
		t.Fatal(err)
	}
	script := `
import json, sys, numpy as np, gguf
from gguf.quants import dequantize
r = gguf.GGUFReader(sys.argv[1])
meta = {}
for k, f in r.fields.items():
    if k.startswith("GGUF."):
        continue
    v = f.contents()
    meta[k] = [f.types[0].name, v if not isinstance(v, float) else float(v)]
tensors = {t.name: [t.tensor_type.name, [int(d) for d in reversed(t.shape)], dequantize(t.data, t.tensor_type).astype(np.float32).ravel().tolist()] for t in r.tensors}
json.dump({"meta": meta, "tensors": tensors}, sys.stdout)
`
	out, err := exec.Command(py, "-c", script, path).Output()
	if err != nil {
		t.Fatalf("gguf package could not read our file: %v", err)
	}
	var got struct {
		Meta    map[string][2]any `json:"meta"`
		Tensors map[string][3]any `json:"tensors"`
	}
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatal(err)
	}
	if len(got.Meta) != len(w.kv) {
		t.Errorf("gguf read %d keys, we wrote %d", len(got.Meta), len(w.kv))
	}
	for _, kv := range w.kv {
		m, ok := got.Meta[kv.Key]
		if !ok || m[0] != kv.Value.Type.String() {
			t.Errorf("%s: gguf read %v", kv.Key, m)
		}
	}
	if s, _ := got.Meta["t.str"][1].(string); s != "héllo" {
		t.Errorf("t.str read as %v", got.Meta["t.str"])
	}
	for name, want := range vals {
		g, ok := got.Tensors[name]
		if !ok {
			t.Errorf("gguf did not find tensor %s", name)
			continue
		}
		flat, _ := g[2].([]any)
		if len(flat) != len(want) {
			t.Errorf("%s: %d values, want %d", name, len(flat), len(want))
			continue
		}
		for i, v := range flat {
			if float32(v.(float64)) != want[i] {
				t.Errorf("%s[%d]: gguf dequantized %v, we wrote %v", name, i, v, want[i])
				break
			}
		}
	}
}

// ggufPython finds a Python with the gguf package: $GOLAMINI_PYTHON, else
// the reference venvs under the cache folder; it skips the test (fails
// under CI=true) when there is none.
func ggufPython(t *testing.T) string {
	t.Helper()
	var candidates []string
	if py := os.Getenv("GOLAMINI_PYTHON"); py != "" {
		candidates = append(candidates, py)
	}
	cache := os.Getenv("GOLAMINI_CACHE")
	if cache == "" {
		base := os.Getenv("XDG_CACHE_HOME")
		if base == "" {
			home, _ := os.UserHomeDir()
			base = filepath.Join(home, ".cache")
		}
		cache = filepath.Join(base, "golamini")
	}
	for _, v := range []string{"venv-light", "venv-ref5"} {
		candidates = append(candidates, filepath.Join(cache, v, "bin", "python"))
	}
	for _, py := range candidates {
		if err := exec.Command(py, "-c", "import gguf, numpy").Run(); err == nil {
			return py
		}
	}
	msg := "no Python with the gguf package (run `make test-python-env`, or set GOLAMINI_PYTHON)"
	if os.Getenv("CI") == "true" {
		t.Fatal(msg)
	}
	t.Skip(msg)
	return ""
}
