package lora

import (
	"bytes"
	"context"
	"encoding/json"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/golamini/golamini/internal/testutil"
	"github.com/golamini/golamini/internal/torch"
)

// peftPython finds a Python with torch, transformers 5 and peft:
// $GOLAMINI_PEFT_PYTHON, else ~/.cache/golamini/venv-ref5 (installed from
// scripts/reference/requirements-v5.txt). This test needs torch, so it is
// not part of `make test`'s light venv: it runs where that venv exists and
// skips, saying so, elsewhere.
func peftPython(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("GOLAMINI_PEFT_PYTHON"); p != "" {
		return p
	}
	home, _ := os.UserHomeDir()
	p := filepath.Join(home, ".cache", "golamini", "venv-ref5", "bin", "python")
	if _, err := os.Stat(p); err != nil {
		t.Skip("no Python with peft: set GOLAMINI_PEFT_PYTHON or install scripts/reference/requirements-v5.txt into ~/.cache/golamini/venv-ref5")
	}
	return p
}

// An adapter saved by golamini (trained-looking: B non-zero, rsLoRA, a
// regular expression for target_modules) loads in PeftModel.from_pretrained
// and gives golamini's logits, merged and not.
func TestAdapterLoadsInPEFT(t *testing.T) {
	py := peftPython(t)
	for _, c := range []struct {
		model, targets string
		head           bool
	}{
		{"testdata/models/tiny-seq", `.*\.(query_key_value|dense_h_to_4h)`, false},
		{"testdata/lora/llama/model", `.*\.(q_proj|v_proj|o_proj|down_proj)`, false},
		// modules_to_save: the head trained in full (both models tie it
		// to the input embedding).
		{"testdata/models/tiny-seq", `.*\.query_key_value`, true},
		{"testdata/lora/llama/model", `.*\.q_proj`, true},
	} {
		name := filepath.Base(filepath.Dir(c.model)) + "/" + filepath.Base(c.model)
		if c.head {
			name += "/modules_to_save"
		}
		t.Run(name, func(t *testing.T) {
			adapterInPEFT(t, py, c.model, c.targets, c.head)
		})
	}
}

func adapterInPEFT(t *testing.T, py, rel, targets string, head bool) {
	modelDir := filepath.Join(testutil.RepoRoot(t), rel)
	dir := t.TempDir()
	rows := [][]int{{414, 302, 355, 32, 535, 302, 259, 498}, {897, 661, 901, 290, 78, 279, 971, 639}}
	var ours [][][]float32
	do(t, func() error {
		m := loadBase(t, rel)
		defer m.Free()
		cfg := NewConfig(8, 16, 0.05, nil)
		cfg.TargetModules = Targets{Regexp: targets}
		cfg.UseRSLoRA = true
		if head {
			cfg.ModulesToSave = []string{"embed_out"} // any name of the head; saved as lm_head
		}
		a, err := New(m, cfg, "", 11)
		if err != nil {
			return err
		}
		defer a.Free()
		rng := rand.New(rand.NewPCG(5, 6))
		for _, l := range a.Layers {
			shape := l.B.Shape()
			v := make([]float32, shape[0]*shape[1])
			for i := range v {
				v[i] = float32(rng.NormFloat64() * 0.2)
			}
			b, err := torch.FromFloat32(v, shape...)
			if err != nil {
				return err
			}
			err = l.B.CopyFrom(b)
			b.Free()
			if err != nil {
				return err
			}
		}
		if a.Head != nil {
			// A trained head: the base head plus noise.
			v, err := a.Head.Float32s()
			if err != nil {
				return err
			}
			for i := range v {
				v[i] += float32(rng.NormFloat64() * 0.05)
			}
			h, err := torch.FromFloat32(v, a.Head.Shape()...)
			if err != nil {
				return err
			}
			err = a.Head.CopyFrom(h)
			h.Free()
			if err != nil {
				return err
			}
		}
		if err := a.Save(dir); err != nil {
			return err
		}
		a.Attach(m)
		ours = logits(t, m, rows, 0)
		return nil
	})
	in, _ := json.Marshal(map[string]any{"ids": rows})
	cmd := exec.CommandContext(context.Background(), py, filepath.Join(testutil.RepoRoot(t), "scripts", "reference", "lora_interop.py"), modelDir, dir)
	cmd.Stdin = bytes.NewReader(in)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("lora_interop.py: %v\n%s", err, stderr.String())
	}
	var ref struct {
		Logits [][][]float64 `json:"logits"`
		Merged [][][]float64 `json:"merged_logits"`
	}
	if err := json.Unmarshal(out, &ref); err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string][][][]float64{"PEFT": ref.Logits, "PEFT merged": ref.Merged} {
		worst := 0.0
		for i := range want {
			for j := range want[i] {
				for k := range want[i][j] {
					worst = math.Max(worst, math.Abs(float64(ours[i][j][k])-want[i][j][k]))
				}
			}
		}
		if worst > 1e-4 {
			t.Errorf("%s: max |Δlogit| %.3g, want ≤ 1e-4", name, worst)
		}
		t.Logf("%s: max |Δlogit| %.3g", name, worst)
	}
}
