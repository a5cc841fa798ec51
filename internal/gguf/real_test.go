package gguf

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/golamini/golamini/internal/testutil"
)

// TestRealSmolLM2Dequantize dequantizes every tensor of the real file and
// compares it with the checksums of gguf.quants.dequantize's values
// (scripts/reference/gguf_smollm2_sums.py).
func TestRealSmolLM2Dequantize(t *testing.T) {
	path := testutil.SmolLM2GGUF(t)
	b, err := os.ReadFile(filepath.Join("..", "..", "testdata", "gguf", "smollm2_sums.json"))
	if err != nil {
		t.Fatal(err)
	}
	var sums []struct {
		Name   string  `json:"name"`
		Type   string  `json:"type"`
		Dims   []int64 `json:"dims"`
		SHA256 string  `json:"sha256"`
	}
	if err := json.Unmarshal(b, &sums); err != nil {
		t.Fatal(err)
	}
	f, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if len(f.Tensors) != len(sums) {
		t.Fatalf("%d tensors, the reference has %d", len(f.Tensors), len(sums))
	}
	var buf []byte
	for i, want := range sums {
		ti := f.Tensors[i]
		if ti.Name != want.Name || ti.Type.String() != want.Type || !reflect.DeepEqual(ti.Dims, want.Dims) {
			t.Errorf("tensor %d: %s %v %v, want %s %s %v", i, ti.Name, ti.Type, ti.Dims, want.Name, want.Type, want.Dims)
			continue
		}
		vals, err := f.ReadFloat32(ti.Name)
		if err != nil {
			t.Error(err)
			continue
		}
		buf = buf[:0]
		for _, v := range vals {
			buf = binary.LittleEndian.AppendUint32(buf, math.Float32bits(v))
		}
		if sum := sha256.Sum256(buf); hex.EncodeToString(sum[:]) != want.SHA256 {
			t.Errorf("tensor %s (%v): dequantized values differ from gguf.quants.dequantize's", ti.Name, ti.Type)
		}
	}
}
