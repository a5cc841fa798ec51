package model

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/golamini/golamini/internal/checkpoint"
	"github.com/golamini/golamini/internal/gguf"
)

// openWeights opens a model directory's weights: safetensors or .bin (see
// checkpoint.Open), else the GGUF file model.gguf that gguf.WriteHFDir
// links there, read through its HF view (dequantized tensor by tensor).
func openWeights(dir string) (*checkpoint.Checkpoint, error) {
	ck, err := checkpoint.Open(dir)
	if err == nil {
		return ck, nil
	}
	path := filepath.Join(dir, gguf.HFDirWeights)
	if _, statErr := os.Stat(path); statErr != nil {
		if errors.Is(statErr, os.ErrNotExist) {
			return nil, err
		}
		return nil, statErr
	}
	f, gerr := gguf.Open(path)
	if gerr != nil {
		return nil, gerr
	}
	hf, gerr := gguf.NewHFModel(f)
	if gerr != nil {
		f.Close()
		return nil, gerr
	}
	return hf.Checkpoint()
}

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
