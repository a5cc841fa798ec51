package model

import (
	"context"
	"fmt"

	"github.com/golamini/golamini/internal/gguf"
)

// LoadGGUF loads a llama, qwen2 or qwen3 model from a GGUF file: the config
// transformers builds from its metadata and its tensors dequantized to
// float32 one at a time, under HF names with llama.cpp's Q/K permutation
// undone. Must run on the torch worker.
func LoadGGUF(ctx context.Context, path string, opts LoadOptions) (*Model, error) {
	f, err := gguf.Open(path)
	if err != nil {
		return nil, fmt.Errorf("model: %w", err)
	}
	hf, err := gguf.NewHFModel(f)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("model: %w", err)
	}
	doc, err := hf.ConfigJSON()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("model: %w", err)
	}
	cfg, err := ParseConfig(doc, path)
	if err != nil {
		f.Close()
		return nil, err
	}
	ck, err := hf.Checkpoint()
	if err != nil {
		return nil, fmt.Errorf("model: %w", err)
	}
	defer ck.Close()
	m, err := fromCheckpoint(ctx, cfg, ck, opts)
	if err != nil {
		return nil, fmt.Errorf("model: load %s: %w", path, err)
	}
	return m, nil
}
