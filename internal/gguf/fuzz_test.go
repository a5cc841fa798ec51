package gguf

import (
	"os"
	"path/filepath"
	"testing"
)

// FuzzParse feeds arbitrary bytes to the parser, seeded with real files
// written by gguf.GGUFWriter: it must never panic or allocate beyond what
// the input holds, and whatever it accepts must be readable: every tensor's
// data lies inside the input and dequantizes (or says its type is
// unsupported).
func FuzzParse(f *testing.F) {
	for _, name := range []string{"small.gguf", "tiny-llama.gguf", "tiny-qwen2.gguf", "tiny-qwen3.gguf"} {
		b, err := os.ReadFile(filepath.Join("..", "..", "testdata", "gguf", name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
		f.Add(b[:len(b)/2])
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		g, err := Parse(b)
		if err != nil {
			return
		}
		for _, ti := range g.Tensors {
			info, data, err := g.TensorData(ti.Name)
			if err != nil {
				t.Fatalf("accepted tensor %q is unreadable: %v", ti.Name, err)
			}
			if int64(len(data)) != info.NumBytes() {
				t.Fatalf("tensor %q: %d bytes, want %d", ti.Name, len(data), info.NumBytes())
			}
			if info.NumElements() > 1<<16 || !Dequantizable(info.Type) {
				continue
			}
			if err := Dequantize(info.Type, data, make([]float32, info.NumElements())); err != nil {
				t.Fatalf("tensor %q: %v", ti.Name, err)
			}
		}
		if _, err := g.HFConfig(); err == nil {
			if m, err := NewHFModel(g); err == nil {
				for _, ti := range m.Tensors() {
					if ti.NumElements() <= 1<<16 {
						m.ReadFloat32(ti.Name)
					}
				}
			}
		}
	})
}
