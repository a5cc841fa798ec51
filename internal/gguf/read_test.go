package gguf

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

var smallPath = filepath.Join("..", "..", "testdata", "gguf", "small.gguf")

// smallGolden is testdata/gguf/small.json: what gguf.GGUFReader reads from small.gguf.
type smallGolden struct {
	Version   uint32 `json:"version"`
	Alignment uint64 `json:"alignment"`
	Metadata  []struct {
		Key   string          `json:"key"`
		Type  string          `json:"type"`
		Elem  string          `json:"elem"`
		Inner []string        `json:"inner"`
		Flat  []int64         `json:"flat"`
		Value json.RawMessage `json:"value"`
	} `json:"metadata"`
	Tensors []struct {
		Name   string  `json:"name"`
		Type   string  `json:"type"`
		Dims   []int64 `json:"dims"`
		Offset uint64  `json:"offset"`
		NBytes int64   `json:"nbytes"`
		SHA256 string  `json:"sha256"`
	} `json:"tensors"`
}

func loadSmallGolden(t *testing.T) smallGolden {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "testdata", "gguf", "small.json"))
	if err != nil {
		t.Fatal(err)
	}
	var g smallGolden
	if err := json.Unmarshal(b, &g); err != nil {
		t.Fatal(err)
	}
	return g
}

// jsonOf renders a Go metadata value the way the golden's JSON holds it.
func jsonOf(t *testing.T, v Value) any {
	t.Helper()
	var x any
	raw, err := json.Marshal(v.Any())
	if err != nil {
		t.Fatal(err)
	}
	if v.Elem == ValueUint8 && v.Type == ValueArray { // json.Marshal writes []byte as base64
		ints, _ := v.Ints()
		raw, _ = json.Marshal(ints)
	}
	dec := json.NewDecoder(strings.NewReader(string(raw)))
	dec.UseNumber()
	if err := dec.Decode(&x); err != nil {
		t.Fatal(err)
	}
	return x
}

func checkSmall(t *testing.T, f *File, g smallGolden, version uint32) {
	t.Helper()
	if f.Version != version || f.Alignment != g.Alignment {
		t.Errorf("version %d alignment %d, want %d and %d", f.Version, f.Alignment, version, g.Alignment)
	}
	if len(f.KV) != len(g.Metadata) {
		t.Fatalf("%d metadata entries, want %d", len(f.KV), len(g.Metadata))
	}
	for i, m := range g.Metadata {
		kv := f.KV[i]
		if kv.Key != m.Key || kv.Value.Type.String() != m.Type {
			t.Errorf("metadata %d: %s %v, want %s %s", i, kv.Key, kv.Value.Type, m.Key, m.Type)
			continue
		}
		if m.Elem == "ARRAY" {
			var flat []int64
			for _, inner := range kv.Value.Any().([]Value) {
				if inner.Elem.String() != m.Inner[0] {
					t.Errorf("%s: inner element type %v, want %s", m.Key, inner.Elem, m.Inner[0])
				}
				ints, _ := inner.Ints()
				flat = append(flat, ints...)
			}
			if !reflect.DeepEqual(flat, m.Flat) {
				t.Errorf("%s: %v, want %v", m.Key, flat, m.Flat)
			}
			continue
		}
		if m.Elem != "" && kv.Value.Elem.String() != m.Elem {
			t.Errorf("%s: element type %v, want %s", m.Key, kv.Value.Elem, m.Elem)
		}
		var want any
		dec := json.NewDecoder(strings.NewReader(string(m.Value)))
		dec.UseNumber()
		if err := dec.Decode(&want); err != nil {
			t.Fatal(err)
		}
		got := jsonOf(t, kv.Value)
		if !reflect.DeepEqual(numbersToFloat(got), numbersToFloat(want)) {
			t.Errorf("%s: %v, want %v", m.Key, got, want)
		}
		if got, ok := f.Get(m.Key); !ok || got.Type != kv.Value.Type {
			t.Errorf("Get(%q) = %v, %v", m.Key, got, ok)
		}
	}
	if len(f.Tensors) != len(g.Tensors) {
		t.Fatalf("%d tensors, want %d", len(f.Tensors), len(g.Tensors))
	}
	for i, w := range g.Tensors {
		ti := f.Tensors[i]
		if ti.Name != w.Name || ti.Type.String() != w.Type || !reflect.DeepEqual(ti.Dims, w.Dims) || ti.Offset != w.Offset || ti.NumBytes() != w.NBytes {
			t.Errorf("tensor %d: %s %v shape %v offset %d %d bytes, want %s %s %v %d %d", i, ti.Name, ti.Type, ti.Dims, ti.Offset, ti.NumBytes(), w.Name, w.Type, w.Dims, w.Offset, w.NBytes)
		}
		vals, err := f.ReadFloat32(ti.Name)
		if w.SHA256 == "" {
			if !errors.Is(err, ErrUnsupported) || !strings.Contains(err.Error(), ti.Name) || !strings.Contains(err.Error(), ti.Type.String()) {
				t.Errorf("tensor %s of type %v: got error %v, want one naming both", ti.Name, ti.Type, err)
			}
			continue
		}
		if err != nil {
			t.Errorf("tensor %s: %v", ti.Name, err)
			continue
		}
		b := make([]byte, 4*len(vals))
		for j, v := range vals {
			binary.LittleEndian.PutUint32(b[4*j:], math.Float32bits(v))
		}
		if sum := sha256.Sum256(b); hex.EncodeToString(sum[:]) != w.SHA256 {
			t.Errorf("tensor %s: dequantized values differ from gguf.quants.dequantize's", ti.Name)
		}
	}
}

// numbersToFloat turns json.Numbers into float64s and exact integers into
// strings, so that 0.10000000149011612 (a float32 printed by Python) and
// the Go float32 0.1 compare equal while 64-bit integers stay exact.
func numbersToFloat(v any) any {
	switch x := v.(type) {
	case json.Number:
		if i, err := x.Int64(); err == nil {
			return i
		}
		if s := x.String(); !strings.ContainsAny(s, ".eE") {
			return s // a uint64 beyond int64
		}
		f, _ := x.Float64()
		return float32(f)
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = numbersToFloat(e)
		}
		return out
	}
	return v
}

func TestReadSmallV3(t *testing.T) {
	g := loadSmallGolden(t)
	f, err := Open(smallPath)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	checkSmall(t, f, g, 3)
}

// TestReadSmallV2 reads the same file labelled version 2, whose layout is
// the same as version 3's for little-endian files.
func TestReadSmallV2(t *testing.T) {
	b, err := os.ReadFile(smallPath)
	if err != nil {
		t.Fatal(err)
	}
	binary.LittleEndian.PutUint32(b[4:], 2)
	f, err := Parse(b)
	if err != nil {
		t.Fatal(err)
	}
	checkSmall(t, f, loadSmallGolden(t), 2)
}

func TestReadRejects(t *testing.T) {
	orig, err := os.ReadFile(smallPath)
	if err != nil {
		t.Fatal(err)
	}
	f, err := Parse(orig)
	if err != nil {
		t.Fatal(err)
	}
	le := binary.LittleEndian
	mod := func(fn func(b []byte)) []byte {
		b := append([]byte(nil), orig...)
		fn(b)
		return b
	}
	// offset of the first tensor description: after the metadata
	tiStart := 0
	{
		c := &cursor{b: orig, off: 24}
		for i := 0; i < len(f.KV); i++ {
			c.str("")
			typ, _ := c.u32("")
			c.value(ValueType(typ), 0)
		}
		tiStart = c.off
	}
	cases := []struct {
		name string
		b    []byte
		want string
	}{
		{"empty", nil, "magic"},
		{"magic", mod(func(b []byte) { b[0] = 'X' }), "magic"},
		{"version 1", mod(func(b []byte) { le.PutUint32(b[4:], 1) }), "version 1"},
		{"big-endian", mod(func(b []byte) { le.PutUint32(b[4:], 3<<24) }), "big-endian"},
		{"version 9", mod(func(b []byte) { le.PutUint32(b[4:], 9) }), "version 9"},
		{"huge tensor count", mod(func(b []byte) { le.PutUint64(b[8:], 1<<60) }), "tensor count"},
		{"huge metadata count", mod(func(b []byte) { le.PutUint64(b[16:], 1<<60) }), "metadata count"},
		{"huge key length", mod(func(b []byte) { le.PutUint64(b[24:], 1<<62) }), "metadata key 0"},
		{"truncated header", orig[:tiStart+10], "tensor count"},
		{"truncated tensor info", orig[:tiStart+200], "truncated"},
		{"truncated data", orig[:len(orig)-30], "t.iq4_nl"},
		{"bad dims count", mod(func(b []byte) { le.PutUint32(b[tiStart+8+5:], 7) }), "t.f32"},
		{"huge dim", mod(func(b []byte) { le.PutUint64(b[tiStart+8+5+4:], 1<<62) }), "t.f32"},
		{"unknown type", mod(func(b []byte) { le.PutUint32(b[tiStart+8+5+4+16:], 99) }), "unknown tensor type 99"},
		{"misaligned offset", mod(func(b []byte) { le.PutUint64(b[tiStart+8+5+4+16+4:], 4) }), "alignment"},
		{"offset past end", mod(func(b []byte) { le.PutUint64(b[tiStart+8+5+4+16+4:], 1<<63) }), "beyond"},
		{"overlap", mod(func(b []byte) { le.PutUint64(b[tiStart+8+5+4+16+4:], 64) }), "overlap"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Parse(c.b)
			if err == nil {
				t.Fatal("accepted")
			}
			if !strings.Contains(err.Error(), c.want) {
				t.Errorf("error %q does not mention %q", err, c.want)
			}
			if !errors.Is(err, ErrFormat) && !errors.Is(err, ErrUnsupported) {
				t.Errorf("error %q wraps neither ErrFormat nor ErrUnsupported", err)
			}
		})
	}
}
