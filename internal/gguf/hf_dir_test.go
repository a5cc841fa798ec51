package gguf

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
)

func TestWriteHFDir(t *testing.T) {
	src := filepath.Join(t.TempDir(), "m.gguf")
	// A tiny model with a tokenizer: the export of the tiny HF Llama.
	opts := DefaultExportOptions()
	if err := ExportDir(t.Context(), exportDir, src, opts); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "hf")
	if err := WriteHFDir(src, dir); err != nil {
		t.Fatal(err)
	}
	var cfg map[string]any
	b, err := os.ReadFile(filepath.Join(dir, "config.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &cfg); err != nil || cfg["model_type"] != "llama" {
		t.Errorf("config.json %s (%v)", b, err)
	}
	for _, name := range []string{"tokenizer.json", "tokenizer_config.json"} {
		if _, err := os.Stat(filepath.Join(dir, name)); err != nil {
			t.Error(err)
		}
	}
	if target, err := os.Readlink(filepath.Join(dir, HFDirWeights)); err != nil || !filepath.IsAbs(target) {
		t.Errorf("model.gguf link: %q %v", target, err)
	}
	// The directory re-exports (here F16 → Q8_0): the weights come from the linked GGUF.
	re := filepath.Join(t.TempDir(), "q8.gguf")
	opts.OutType = TypeQ8_0
	if err := ExportDir(t.Context(), dir, re, opts); err != nil {
		t.Fatal(err)
	}
	g, err := Open(re)
	if err != nil {
		t.Fatal(err)
	}
	if ti, ok := g.Tensor("blk.1.ffn_down.weight"); !ok || ti.Type != TypeQ8_0 {
		t.Errorf("re-export: %+v", ti)
	}
	g.Close()

	// A file that is not a model leaves nothing behind.
	bad := filepath.Join(t.TempDir(), "hf2")
	if err := WriteHFDir(filepath.Join("..", "..", "testdata", "gguf", "small.gguf"), bad); err == nil {
		t.Error("small.gguf (no model) gave a directory")
	}
	if entries, _ := os.ReadDir(filepath.Dir(bad)); len(entries) != 0 {
		t.Errorf("left behind %v", entries)
	}
}
