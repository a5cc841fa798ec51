package checkpoint

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func mustCopyFile(t *testing.T, src, dst string) {
	t.Helper()
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dst, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestOpenPreference puts several weight files in one directory and checks
// which one Open uses: model.safetensors, then the safetensors index, then
// pytorch_model.bin, then the .bin index.
func TestOpenPreference(t *testing.T) {
	g := goldenDir(t)
	dir := t.TempDir()
	for _, f := range []string{"model.safetensors.index.json", "model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors"} {
		mustCopyFile(t, filepath.Join(g, "st_sharded", f), filepath.Join(dir, f))
	}
	for _, f := range []string{"pytorch_model.bin.index.json", "pytorch_model-00001-of-00002.bin", "pytorch_model-00002-of-00002.bin"} {
		mustCopyFile(t, filepath.Join(g, "bin_sharded", f), filepath.Join(dir, f))
	}
	mustCopyFile(t, filepath.Join(g, "bin_f32", "pytorch_model.bin"), filepath.Join(dir, "pytorch_model.bin"))
	mustCopyFile(t, filepath.Join(g, "st_bf16", "model.safetensors"), filepath.Join(dir, "model.safetensors"))

	steps := []struct {
		remove     string
		format     string
		files      int
		embedDType DType
	}{
		{"", FormatSafetensors, 1, BF16},                        // model.safetensors
		{"model.safetensors", FormatSafetensors, 2, F16},        // sharded safetensors (f16)
		{"model.safetensors.index.json", FormatPyTorch, 1, F32}, // pytorch_model.bin
		{"pytorch_model.bin", FormatPyTorch, 2, BF16},           // sharded bin (bf16)
	}
	for _, s := range steps {
		if s.remove != "" {
			if err := os.Remove(filepath.Join(dir, s.remove)); err != nil {
				t.Fatal(err)
			}
		}
		c, err := Open(dir)
		if err != nil {
			t.Fatalf("after removing %q: %v", s.remove, err)
		}
		info, _ := c.Info("gpt_neox.embed_in.weight")
		if c.Format() != s.format || len(c.Files()) != s.files || info.DType != s.embedDType {
			t.Errorf("after removing %q: format %s, %d files, embed %v; want %s, %d, %v", s.remove, c.Format(), len(c.Files()), info.DType, s.format, s.files, s.embedDType)
		}
		c.Close()
	}
}

func TestOpenMissing(t *testing.T) {
	dir := t.TempDir()
	_, err := Open(dir)
	if err == nil {
		t.Fatal("Open of an empty directory succeeded")
	}
	for _, want := range []string{dir, "model.safetensors", "model.safetensors.index.json", "pytorch_model.bin", "pytorch_model.bin.index.json"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not name %q", err, want)
		}
	}
	if _, err := Open(filepath.Join(dir, "nope")); err == nil || !strings.Contains(err.Error(), "nope") {
		t.Errorf("Open of a missing directory: %v", err)
	}
	if _, err := OpenFile(filepath.Join(dir, "nope.bin")); err == nil || !strings.Contains(err.Error(), "nope.bin") {
		t.Errorf("OpenFile of a missing file: %v", err)
	}
	c, err := Open(filepath.Join(goldenDir(t), "st_f32"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.ReadFloat32("no.such.tensor"); err == nil || !strings.Contains(err.Error(), "no.such.tensor") {
		t.Errorf("unknown tensor: %v", err)
	}
	if _, ok := c.Info("no.such.tensor"); ok {
		t.Error("Info of an unknown tensor reported ok")
	}
}

func editIndex(t *testing.T, path string, edit func(m map[string]any)) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	edit(m)
	b, _ = json.Marshal(m)
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestShardedIndexErrors(t *testing.T) {
	for _, tc := range []struct{ golden, index, shard string }{
		{"st_sharded", "model.safetensors.index.json", "model-00002-of-00002.safetensors"},
		{"bin_sharded", "pytorch_model.bin.index.json", "pytorch_model-00002-of-00002.bin"},
	} {
		t.Run(tc.golden, func(t *testing.T) {
			src := filepath.Join(goldenDir(t), tc.golden)

			dir := copyTree(t, src)
			os.Remove(filepath.Join(dir, tc.shard))
			_, err := Open(dir)
			if err == nil || !strings.Contains(err.Error(), tc.shard) || !strings.Contains(err.Error(), "missing shard") {
				t.Errorf("missing shard: %v", err)
			}

			dir = copyTree(t, src)
			editIndex(t, filepath.Join(dir, tc.index), func(m map[string]any) {
				m["weight_map"].(map[string]any)["gpt_neox.layers.9.ghost.weight"] = tc.shard
			})
			_, err = Open(dir)
			if err == nil || !strings.Contains(err.Error(), "gpt_neox.layers.9.ghost.weight") || !strings.Contains(err.Error(), tc.shard) {
				t.Errorf("tensor listed but absent: %v", err)
			}

			dir = copyTree(t, src)
			editIndex(t, filepath.Join(dir, tc.index), func(m map[string]any) {
				m["weight_map"].(map[string]any)["embed_out.weight"] = "../outside.bin"
			})
			if _, err = Open(dir); err == nil || !strings.Contains(err.Error(), "../outside.bin") {
				t.Errorf("shard outside the directory: %v", err)
			}

			dir = copyTree(t, src)
			if err := os.WriteFile(filepath.Join(dir, tc.index), []byte(`{"weight_map": {"a": `), 0o644); err != nil {
				t.Fatal(err)
			}
			if _, err = Open(dir); err == nil || !strings.Contains(err.Error(), tc.index) {
				t.Errorf("truncated index: %v", err)
			}

			dir = copyTree(t, src)
			editIndex(t, filepath.Join(dir, tc.index), func(m map[string]any) {
				// The index owns the tensor; the other shard does not hold it.
				wm := m["weight_map"].(map[string]any)
				for k, v := range wm {
					if v == tc.shard {
						wm[k] = strings.Replace(tc.shard, "00002-of", "00001-of", 1)
						break
					}
				}
			})
			if _, err = Open(dir); err == nil || !strings.Contains(err.Error(), "absent from their shard") {
				t.Errorf("tensor in the wrong shard: %v", err)
			}
		})
	}
}

// A tensor stored in two shards is an error naming both files.
func TestShardDuplicateTensor(t *testing.T) {
	dir := copyTree(t, filepath.Join(goldenDir(t), "st_sharded"))
	mustCopyFile(t, filepath.Join(dir, "model-00001-of-00002.safetensors"), filepath.Join(dir, "model-00003-of-00002.safetensors"))
	editIndex(t, filepath.Join(dir, "model.safetensors.index.json"), func(m map[string]any) {
		m["weight_map"].(map[string]any)["extra"] = "model-00003-of-00002.safetensors"
	})
	_, err := Open(dir)
	if err == nil || !strings.Contains(err.Error(), "model-00003-of-00002.safetensors") {
		t.Errorf("duplicate tensor across shards: %v", err)
	}
}

// A dangling model.safetensors symlink (a hub cache whose blob is missing)
// is an error naming it, not a silent fall-back to another file.
func TestOpenDanglingSymlink(t *testing.T) {
	dir := t.TempDir()
	mustCopyFile(t, filepath.Join(goldenDir(t), "bin_f32", "pytorch_model.bin"), filepath.Join(dir, "pytorch_model.bin"))
	if err := os.Symlink(filepath.Join(dir, "blobs", "missing"), filepath.Join(dir, "model.safetensors")); err != nil {
		t.Skip("symlinks unsupported:", err)
	}
	_, err := Open(dir)
	if err == nil || !strings.Contains(err.Error(), "model.safetensors") {
		t.Errorf("err = %v", err)
	}
}
