package gguf

import (
	"fmt"
	"os"
	"path/filepath"
)

// HFDirWeights is the name under which WriteHFDir links the GGUF file.
const HFDirWeights = "model.gguf"

// HFDirLayout is the version of what WriteHFDir writes (its files and their
// contents: the config and tokenizer fields it maps from the metadata).
// Caches of its folders key on it, so a golamini whose mapping changed
// writes a new folder instead of reusing one made by an older mapping.
// Raise it with every such change.
const HFDirLayout = 3 // 3: Llama 3 rope_freqs.weight read into rope_parameters

// WriteHFDir writes the HuggingFace side of a GGUF file into dir:
// config.json, tokenizer.json, tokenizer_config.json (with the chat
// template) and a symbolic link model.gguf to the file itself, whose
// tensors loaders read through NewHFModel. Code that expects a model
// directory (tokenizer, chat template, saving a fine-tuned copy) then works
// on a GGUF unchanged, and nothing is dequantized to disk. dir is created
// complete or not at all: the files are written to a temporary directory
// beside it that is renamed into place.
func WriteHFDir(ggufPath, dir string) error {
	abs, err := filepath.Abs(ggufPath)
	if err != nil {
		return fmt.Errorf("gguf: %w", err)
	}
	f, err := Open(abs)
	if err != nil {
		return err
	}
	defer f.Close()
	if _, err := NewHFModel(f); err != nil {
		return err
	}
	cfg, err := f.HFConfigJSON()
	if err != nil {
		return err
	}
	tok, err := f.HFTokenizer()
	if err != nil {
		return err
	}
	tokCfg, err := tok.ConfigJSON()
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(dir), 0o755); err != nil {
		return fmt.Errorf("gguf: %w", err)
	}
	tmp, err := os.MkdirTemp(filepath.Dir(dir), "."+filepath.Base(dir)+".tmp-*")
	if err != nil {
		return fmt.Errorf("gguf: %w", err)
	}
	defer os.RemoveAll(tmp) // a no-op once renamed
	for name, b := range map[string][]byte{"config.json": cfg, "tokenizer.json": tok.JSON, "tokenizer_config.json": tokCfg} {
		if err := os.WriteFile(filepath.Join(tmp, name), b, 0o644); err != nil {
			return fmt.Errorf("gguf: %w", err)
		}
	}
	if err := os.Symlink(abs, filepath.Join(tmp, HFDirWeights)); err != nil {
		return fmt.Errorf("gguf: %w", err)
	}
	if err := os.Chmod(tmp, 0o755); err != nil {
		return fmt.Errorf("gguf: %w", err)
	}
	if err := os.Rename(tmp, dir); err != nil {
		return fmt.Errorf("gguf: %w", err)
	}
	return nil
}
