package runner

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/golamini/golamini/internal/gguf"
	"github.com/golamini/golamini/internal/model"
	"github.com/golamini/golamini/internal/train"
)

// GGUFOptions control ExportGGUF.
type GGUFOptions struct {
	// OutType is the type of the weight matrices: "f16" (default), "bf16",
	// "q8_0" or "f32". Norms stay float32.
	OutType string
	// Name is general.name (default: the output file's name without .gguf).
	Name string
}

// DefaultGGUFOptions returns f16 weight matrices, llama.cpp's converter's
// default.
func DefaultGGUFOptions() GGUFOptions { return GGUFOptions{OutType: "f16"} }

// ExportGGUF writes the model as it is now (fine-tuned or not) with its
// tokenizer and chat template to a GGUF file that llama.cpp and ollama run,
// laid out as llama.cpp's convert_hf_to_gguf.py writes a Llama, Mistral,
// Qwen2 or Qwen3 model. The file appears at path only when complete.
func (r *Runner) ExportGGUF(ctx context.Context, path string, o GGUFOptions) error {
	if o.OutType == "" {
		o.OutType = "f16"
	}
	typ, ok := gguf.OutTypes[o.OutType]
	if !ok {
		return fmt.Errorf("runner: GGUF out type %q (f16, bf16, q8_0 or f32)", o.OutType)
	}
	tmp, err := os.MkdirTemp(filepath.Dir(path), ".golamini-export-*")
	if err != nil {
		return fmt.Errorf("runner: %w", err)
	}
	defer os.RemoveAll(tmp)
	if err := r.do(context.Background(), func(_ context.Context, m *model.Model) error { return train.WriteModelDir(tmp, m, r.dir) }); err != nil {
		return fmt.Errorf("runner: export: %w", err)
	}
	opts := gguf.DefaultExportOptions()
	opts.OutType, opts.Name = typ, o.Name
	if opts.Name == "" {
		base := filepath.Base(path)
		opts.Name = base[:len(base)-len(filepath.Ext(base))]
	}
	if err := gguf.ExportDir(ctx, tmp, path, opts); err != nil {
		return fmt.Errorf("runner: %w", err)
	}
	return nil
}
