package main

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/golamini/golamini/internal/gguf"
	"github.com/golamini/golamini/internal/testutil"
)

// TestExportGGUF is the contract `golamini export --model DIR --format gguf
// --outtype f16|bf16|q8_0 --output FILE`.
func TestExportGGUF(t *testing.T) {
	for _, outType := range []string{"f16", "bf16", "q8_0"} {
		out := filepath.Join(t.TempDir(), "m.gguf")
		stdout, stderr, code := run(t, "", "export", "--model", testutil.Testdata(t, "gguf", "export-llama"),
			"--format", "gguf", "--outtype", outType, "--output", out)
		if code != 0 {
			t.Fatalf("%s: exit %d: %s", outType, code, stderr)
		}
		if !strings.HasPrefix(stdout, out+"\t") {
			t.Errorf("%s: stdout %q", outType, stdout)
		}
		f, err := gguf.Open(out)
		if err != nil {
			t.Fatal(err)
		}
		ti, ok := f.Tensor("blk.0.ffn_up.weight")
		if want := gguf.OutTypes[outType]; !ok || ti.Type != want {
			t.Errorf("%s: blk.0.ffn_up.weight is %v, want %v", outType, ti.Type, want)
		}
		f.Close()
	}
	for _, args := range [][]string{
		{"export", "--model", "x"},
		{"export", "--model", "x", "--output", "y", "--format", "onnx"},
		{"export", "--model", "x", "--output", "y", "--outtype", "q4_k"},
	} {
		if _, _, code := run(t, "", args...); code != 2 {
			t.Errorf("%v: exit %d, want 2", args, code)
		}
	}
}

// TestGGUFModelFlag: --model takes a .gguf file (here one exported from the
// tiny Llama), for info and for export itself (re-exported as q8_0).
func TestGGUFModelFlag(t *testing.T) {
	t.Setenv("GOLAMINI_CACHE", t.TempDir())
	src := filepath.Join(t.TempDir(), "tiny.gguf")
	if _, stderr, code := run(t, "", "export", "--model", testutil.Testdata(t, "gguf", "export-llama"), "--output", src); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	out, stderr, code := run(t, "", "info", "--model", src, "--json")
	if code != 0 || !strings.Contains(out, `"parameters"`) {
		t.Fatalf("info: exit %d: %s %s", code, out, stderr)
	}
	re := filepath.Join(t.TempDir(), "q8.gguf")
	if _, stderr, code := run(t, "", "export", "--model", src, "--outtype", "q8_0", "--output", re); code != 0 {
		t.Fatalf("re-export: exit %d: %s", code, stderr)
	}
}
