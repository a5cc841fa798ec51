package model

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/golamini/golamini/internal/checkpoint"
	"github.com/golamini/golamini/internal/testutil"
	"github.com/golamini/golamini/internal/torch"
)

// copyModel copies a test model directory so a test can damage it.
func copyModel(t *testing.T, name string) string {
	t.Helper()
	src := testutil.Testdata(t, "models", name)
	dst := t.TempDir()
	entries, err := os.ReadDir(src)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(src, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dst, e.Name()), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dst
}

func loadErr(t *testing.T, dir string) error {
	t.Helper()
	return torch.Do(context.Background(), func() error {
		m, err := Load(context.Background(), dir, DefaultLoadOptions())
		if err == nil {
			m.Free()
		}
		return err
	})
}

// Bad checkpoints are errors that name the problem; never a model with
// random or partial weights.
func TestLoadRejectsBadCheckpoints(t *testing.T) {
	t.Run("truncated", func(t *testing.T) {
		dir := copyModel(t, "tiny-seq")
		p := filepath.Join(dir, "model.safetensors")
		st, _ := os.Stat(p)
		if err := os.Truncate(p, st.Size()-100); err != nil {
			t.Fatal(err)
		}
		if err := loadErr(t, dir); err == nil || !strings.Contains(err.Error(), "model.safetensors") {
			t.Errorf("truncated weights: %v", err)
		}
	})
	t.Run("missing and misshapen tensors", func(t *testing.T) {
		dir := copyModel(t, "tiny-seq")
		ck, err := checkpoint.Open(dir)
		if err != nil {
			t.Fatal(err)
		}
		var keep []checkpoint.NamedTensor
		for _, ti := range ck.Tensors() {
			_, raw, err := ck.ReadRaw(ti.Name)
			if err != nil {
				t.Fatal(err)
			}
			if ti.Name == "gpt_neox.layers.1.mlp.dense_4h_to_h.bias" {
				continue // drop one
			}
			keep = append(keep, checkpoint.NamedTensor{Name: ti.Name, DType: ti.DType, Shape: ti.Shape, Data: raw})
		}
		ck.Close()
		if err := checkpoint.WriteSafetensors(filepath.Join(dir, "model.safetensors"), keep, nil); err != nil {
			t.Fatal(err)
		}
		if err := loadErr(t, dir); err == nil || !strings.Contains(err.Error(), "gpt_neox.layers.1.mlp.dense_4h_to_h.bias") {
			t.Errorf("missing tensor: %v", err)
		}
		cfg, _ := os.ReadFile(filepath.Join(dir, "config.json"))
		os.WriteFile(filepath.Join(dir, "config.json"), []byte(strings.Replace(string(cfg), `"intermediate_size": 96`, `"intermediate_size": 100`, 1)), 0o644)
		if err := loadErr(t, dir); err == nil || !strings.Contains(err.Error(), "shape") {
			t.Errorf("wrong shape: %v", err)
		}
	})
	t.Run("other architecture", func(t *testing.T) {
		dir := copyModel(t, "tiny-seq")
		cfg, _ := os.ReadFile(filepath.Join(dir, "config.json"))
		os.WriteFile(filepath.Join(dir, "config.json"), []byte(strings.Replace(string(cfg), `"gpt_neox"`, `"llama"`, 1)), 0o644)
		if err := loadErr(t, dir); err == nil || !strings.Contains(err.Error(), `"llama"`) {
			t.Errorf("llama config: %v", err)
		}
	})
	t.Run("no weights", func(t *testing.T) {
		dir := copyModel(t, "tiny-seq")
		os.Remove(filepath.Join(dir, "model.safetensors"))
		if err := loadErr(t, dir); err == nil || !strings.Contains(err.Error(), "model.safetensors") {
			t.Errorf("no weights: %v", err)
		}
	})
}
