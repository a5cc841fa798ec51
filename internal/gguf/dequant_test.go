package gguf

import (
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// quantCase is one entry of testdata/gguf/quants.json (scripts/reference/gguf_goldens.py).
type quantCase struct {
	Type   string  `json:"type"`
	Shape  []int64 `json:"shape"`
	Data   string  `json:"data"`
	Values string  `json:"values"`
}

func loadQuantCases(t *testing.T) []quantCase {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "testdata", "gguf", "quants.json"))
	if err != nil {
		t.Fatal(err)
	}
	var cases []quantCase
	if err := json.Unmarshal(b, &cases); err != nil {
		t.Fatal(err)
	}
	return cases
}

// TestDequantizeMatchesGGUFPackage checks every supported type against
// gguf.quants.dequantize's float32 bits.
func TestDequantizeMatchesGGUFPackage(t *testing.T) {
	cases := loadQuantCases(t)
	seen := map[TensorType]bool{}
	for _, c := range cases {
		t.Run(c.Type, func(t *testing.T) {
			typ, err := ParseTensorType(c.Type)
			if err != nil {
				t.Fatal(err)
			}
			seen[typ] = true
			data, _ := base64.StdEncoding.DecodeString(c.Data)
			want, _ := base64.StdEncoding.DecodeString(c.Values)
			n := c.Shape[0] * c.Shape[1]
			if int64(len(want)) != 4*n {
				t.Fatalf("golden has %d value bytes for %d values", len(want), n)
			}
			got := make([]float32, n)
			if err := Dequantize(typ, data, got); err != nil {
				t.Fatal(err)
			}
			bad := 0
			for i := range got {
				w := binary.LittleEndian.Uint32(want[4*i:])
				g := math.Float32bits(got[i])
				if w != g {
					if bad < 5 {
						t.Errorf("value %d: got %08x (%g), want %08x (%g)", i, g, got[i], w, math.Float32frombits(w))
					}
					bad++
				}
			}
			if bad > 0 {
				t.Errorf("%d of %d values differ", bad, n)
			}
		})
	}
	for typ := range dequantizers {
		if !seen[typ] {
			t.Errorf("no golden for dequantizable type %v", typ)
		}
	}
}

func TestDequantizeErrors(t *testing.T) {
	err := Dequantize(TypeIQ2_XXS, make([]byte, 66), make([]float32, 256))
	if !errors.Is(err, ErrUnsupported) || !strings.Contains(err.Error(), "IQ2_XXS") {
		t.Errorf("unsupported type: got %v", err)
	}
	if err := Dequantize(TypeQ8_0, make([]byte, 34), make([]float32, 31)); err == nil {
		t.Error("a partial block was accepted")
	}
	if err := Dequantize(TypeQ8_0, make([]byte, 33), make([]float32, 32)); err == nil {
		t.Error("a short source was accepted")
	}
}
