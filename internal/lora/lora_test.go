package lora

import (
	"context"
	"encoding/json"
	"errors"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/golamini/golamini/internal/checkpoint"
	"github.com/golamini/golamini/internal/model"
	"github.com/golamini/golamini/internal/testutil"
	"github.com/golamini/golamini/internal/torch"
)

// goldens is testdata/lora/<family>/goldens.json (scripts/reference/lora_goldens.py).
type goldens struct {
	Model     string  `json:"model"`
	ProbeRows [][]int `json:"probe_rows"`
	Pad       int     `json:"pad"`
	Logits    []entry `json:"logits"`
	Merged    []entry `json:"merged_logits"`
	RSLoRA    []entry `json:"rslora_logits"`
}

type entry struct {
	Row, Pos int
	Logits   []float64
}

func readGoldens(t *testing.T, family string) goldens {
	t.Helper()
	b, err := os.ReadFile(testutil.Testdata(t, "lora", family, "goldens.json"))
	if err != nil {
		t.Fatal(err)
	}
	var g goldens
	if err := json.Unmarshal(b, &g); err != nil {
		t.Fatal(err)
	}
	return g
}

func loadBase(t *testing.T, rel string) *model.Model {
	t.Helper()
	m, err := model.Load(context.Background(), filepath.Join(testutil.RepoRoot(t), rel), model.DefaultLoadOptions())
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// logits runs rows (right-padded with pad) through m and returns [B][T][V].
func logits(t *testing.T, m *model.Model, rows [][]int, pad int) [][][]float32 {
	t.Helper()
	T := 0
	for _, r := range rows {
		T = max(T, len(r))
	}
	ids := make([]int64, 0, len(rows)*T)
	for _, r := range rows {
		for j := 0; j < T; j++ {
			v := pad
			if j < len(r) {
				v = r[j]
			}
			ids = append(ids, int64(v))
		}
	}
	s := torch.NewScope()
	defer s.Close()
	x := s.Int64(ids, int64(len(rows)), int64(T))
	l := m.Logits(s, m.Forward(s, x, model.Pass{}))
	if err := s.Err(); err != nil {
		t.Fatal(err)
	}
	v, err := l.Float32s()
	if err != nil {
		t.Fatal(err)
	}
	V := len(v) / (len(rows) * T)
	out := make([][][]float32, len(rows))
	for i := range out {
		out[i] = make([][]float32, T)
		for j := range out[i] {
			out[i][j] = v[(i*T+j)*V : (i*T+j+1)*V]
		}
	}
	return out
}

func compare(t *testing.T, what string, got [][][]float32, want []entry, tol float64) {
	t.Helper()
	worst := 0.0
	for _, e := range want {
		g := got[e.Row][e.Pos]
		if len(g) != len(e.Logits) {
			t.Fatalf("%s: row %d pos %d: %d logits, want %d", what, e.Row, e.Pos, len(g), len(e.Logits))
		}
		for k, w := range e.Logits {
			worst = max(worst, math.Abs(float64(g[k])-w))
		}
	}
	if worst > tol {
		t.Errorf("%s: max |Δlogit| = %.3g against PEFT, want ≤ %g", what, worst, tol)
	}
	t.Logf("%s: max |Δlogit| = %.3g", what, worst)
}

func do(t *testing.T, fn func() error) {
	t.Helper()
	if err := torch.Do(context.Background(), fn); err != nil {
		t.Fatal(err)
	}
}

// An adapter saved by PEFT gives PEFT's logits, merged or not, and with
// use_rslora its scale.
func TestPEFTAdapterLogits(t *testing.T) {
	for _, family := range loraFamilies {
		t.Run(family, func(t *testing.T) {
			g := readGoldens(t, family)
			do(t, func() error {
				m := loadBase(t, g.Model)
				defer m.Free()
				a, err := Load(testutil.Testdata(t, "lora", family, "adapter"), m, "")
				if err != nil {
					return err
				}
				defer a.Free()
				if a.Name != "default" || len(a.Layers) == 0 {
					t.Fatalf("adapter %q with %d layers", a.Name, len(a.Layers))
				}
				base := logits(t, m, g.ProbeRows, g.Pad)
				a.Attach(m)
				compare(t, "adapter", logits(t, m, g.ProbeRows, g.Pad), g.Logits, 1e-4)
				// The adapter matters: without it the logits are far from PEFT's.
				a.Detach(m)
				if d := maxDiff(base, logits(t, m, g.ProbeRows, g.Pad)); d != 0 {
					t.Errorf("detached model differs from the base by %g", d)
				}
				a.Attach(m)
				if err := a.Merge(m); err != nil {
					return err
				}
				if m.LinearHook != nil {
					t.Error("Merge left the adapter attached")
				}
				compare(t, "merged", logits(t, m, g.ProbeRows, g.Pad), g.Merged, 1e-4)

				m2 := loadBase(t, g.Model)
				defer m2.Free()
				rs, err := Load(testutil.Testdata(t, "lora", family, "adapter-rslora"), m2, "rs")
				if err != nil {
					return err
				}
				defer rs.Free()
				if want := float64(8) / 2; rs.Scale() != want {
					t.Errorf("rslora scale %g, want lora_alpha/√r = %g", rs.Scale(), want)
				}
				rs.Attach(m2)
				compare(t, "rslora", logits(t, m2, g.ProbeRows, g.Pad), g.RSLoRA, 1e-4)
				return nil
			})
		})
	}
}

func maxDiff(a, b [][][]float32) float64 {
	d := 0.0
	for i := range a {
		for j := range a[i] {
			for k := range a[i][j] {
				d = max(d, math.Abs(float64(a[i][j][k]-b[i][j][k])))
			}
		}
	}
	return d
}

// New starts as PEFT does: B zero (the model is unchanged), A uniform on
// ±1/√in; Save and Load give back the same tensors and PEFT's names.
func TestNewSaveLoad(t *testing.T) {
	dir := t.TempDir()
	do(t, func() error {
		m := loadBase(t, "testdata/models/tiny-seq")
		defer m.Free()
		cfg := NewConfig(4, 16, 0.1, []string{"query_key_value", "dense_4h_to_h"})
		a, err := New(m, cfg, "", 7)
		if err != nil {
			return err
		}
		defer a.Free()
		if len(a.Layers) != 4 || a.Layers[0].Path != "gpt_neox.layers.0.attention.query_key_value" ||
			a.Layers[1].Path != "gpt_neox.layers.0.mlp.dense_4h_to_h" {
			t.Fatalf("layers %v", a.Layers)
		}
		av, _ := a.Layers[0].A.Float32s()
		bound := 1 / math.Sqrt(48)
		lo, hi := 1.0, -1.0
		for _, v := range av {
			lo, hi = min(lo, float64(v)), max(hi, float64(v))
		}
		if lo < -bound || hi > bound || hi-lo < bound {
			t.Errorf("A spans [%g, %g], want uniform on ±%g", lo, hi, bound)
		}
		rows := [][]int{{5, 6, 7, 8}}
		base := logits(t, m, rows, 0)
		a.Attach(m)
		// (within rounding: with an adapter the MLP's GELU runs apart from its product)
		if d := maxDiff(base, logits(t, m, rows, 0)); d > 1e-5 {
			t.Errorf("a fresh adapter changes logits by %g", d)
		}
		// Dropout is off outside training, on and repeatable inside it.
		a.SetTraining(true, 3)
		d1 := logits(t, m, rows, 0)
		d2 := logits(t, m, rows, 0)
		if maxDiff(d1, d2) != 0 {
			t.Error("the same dropout key gave different masks")
		}
		a.SetTraining(false, 0)
		if err := a.Save(dir); err != nil {
			return err
		}
		b, err := Load(dir, m, "again")
		if err != nil {
			return err
		}
		defer b.Free()
		for i, p := range a.Parameters() {
			q := b.Parameters()[i]
			pv, _ := p.Tensor.Float32s()
			qv, _ := q.Tensor.Float32s()
			if p.Name != q.Name || len(pv) != len(qv) {
				t.Fatalf("tensor %d: %s vs %s", i, p.Name, q.Name)
			}
			for k := range pv {
				if pv[k] != qv[k] {
					t.Fatalf("%s[%d]: %g after a round trip, was %g", p.Name, k, qv[k], pv[k])
				}
			}
		}
		return nil
	})
	var raw map[string]any
	b, err := os.ReadFile(filepath.Join(dir, ConfigFile))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &raw); err != nil {
		t.Fatal(err)
	}
	for k, want := range map[string]any{"peft_type": "LORA", "task_type": "CAUSAL_LM", "r": 4.0, "lora_alpha": 16.0,
		"lora_dropout": 0.1, "bias": "none", "use_rslora": false, "fan_in_fan_out": false} {
		if raw[k] != want {
			t.Errorf("adapter_config.json %s = %v, want %v", k, raw[k], want)
		}
	}
}

// Adapters that do not fit are errors naming the module or tensor.
func TestMismatch(t *testing.T) {
	src := testutil.Testdata(t, "lora", "gpt-neox", "adapter")
	withConfig := func(edit func(map[string]any)) string {
		dir := t.TempDir()
		b, err := os.ReadFile(filepath.Join(src, ConfigFile))
		if err != nil {
			t.Fatal(err)
		}
		var c map[string]any
		if err := json.Unmarshal(b, &c); err != nil {
			t.Fatal(err)
		}
		edit(c)
		b, _ = json.Marshal(c)
		if err := os.WriteFile(filepath.Join(dir, ConfigFile), b, 0o644); err != nil {
			t.Fatal(err)
		}
		w, err := os.ReadFile(filepath.Join(src, WeightsFile))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, WeightsFile), w, 0o644); err != nil {
			t.Fatal(err)
		}
		return dir
	}
	cases := []struct {
		name, dir, model string
		is               error
		says             string
	}{
		{"other hidden size", src, "testdata/models/tiny-pythia", ErrMismatch, "has shape [4 48]"},
		{"absent target", withConfig(func(c map[string]any) { c["target_modules"] = []string{"q_proj", "v_proj"} }), "testdata/models/tiny-seq", ErrMismatch, "q_proj"},
		{"fewer targets than tensors", withConfig(func(c map[string]any) { c["target_modules"] = []string{"query_key_value"} }), "testdata/models/tiny-seq", ErrMismatch, "attention.dense.lora_A.weight"},
		{"other rank", withConfig(func(c map[string]any) { c["r"] = 8 }), "testdata/models/tiny-seq", ErrMismatch, "r = 8"},
		{"dora", withConfig(func(c map[string]any) { c["use_dora"] = true }), "testdata/models/tiny-seq", ErrUnsupported, "use_dora"},
		{"modules_to_save not the head", withConfig(func(c map[string]any) { c["modules_to_save"] = []string{"embed_in"} }), "testdata/models/tiny-seq", ErrUnsupported, "modules_to_save"},
		{"modules_to_save without its tensor", withConfig(func(c map[string]any) { c["modules_to_save"] = []string{"lm_head"} }), "testdata/models/tiny-seq", ErrMismatch, "base_model.model.lm_head.weight"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			do(t, func() error {
				m := loadBase(t, c.model)
				defer m.Free()
				a, err := Load(c.dir, m, "")
				if err == nil {
					a.Free()
					t.Fatal("loaded")
				}
				if !errors.Is(err, c.is) || !strings.Contains(err.Error(), c.says) {
					t.Errorf("error %q: want %v naming %q", err, c.is, c.says)
				}
				return nil
			})
		})
	}
}

// A regular expression in target_modules must match the whole path.
func TestTargetsRegexp(t *testing.T) {
	ts := Targets{Regexp: `.*\.attention\.(query_key_value|dense)`}
	for path, want := range map[string]bool{
		"gpt_neox.layers.0.attention.dense": true, "gpt_neox.layers.0.attention.dense_x": false,
		"gpt_neox.layers.0.mlp.dense_4h_to_h": false, "gpt_neox.layers.1.attention.query_key_value": true} {
		if got, err := ts.matches(path); err != nil || got != want {
			t.Errorf("%s: %v %v, want %v", path, got, err, want)
		}
	}
	var back Targets
	if err := json.Unmarshal([]byte(`"q_proj|v_proj"`), &back); err != nil || back.Regexp != "q_proj|v_proj" {
		t.Errorf("string target_modules read as %+v, %v", back, err)
	}
}

// loraFamilies are the testdata/lora/<family> golden sets the tests check
// (scripts/reference/lora_goldens.py's MODELS).
var loraFamilies = []string{"gpt-neox", "llama"}

// readGoldensHead reads testdata/lora/<family>/goldens-head.json
// (scripts/reference/lora_head_goldens.py).
func readGoldensHead(t *testing.T, family string) goldens {
	t.Helper()
	b, err := os.ReadFile(testutil.Testdata(t, "lora", family, "goldens-head.json"))
	if err != nil {
		t.Fatal(err)
	}
	var g goldens
	if err := json.Unmarshal(b, &g); err != nil {
		t.Fatal(err)
	}
	return g
}

// An adapter saved by PEFT with modules_to_save ["lm_head"] gives PEFT's
// logits, merged or not; the input embedding (tied to the head in both
// test models) stays as it was, as in PEFT, and merging unties them. Saved
// again by golamini, it holds PEFT's tensor names and loads back equal.
func TestPEFTHeadAdapter(t *testing.T) {
	for _, family := range loraFamilies {
		t.Run(family, func(t *testing.T) {
			g := readGoldensHead(t, family)
			do(t, func() error {
				m := loadBase(t, g.Model)
				defer m.Free()
				if m.EmbedOut != m.EmbedIn {
					t.Fatal("the test model's head is not tied: the test expects tied embeddings")
				}
				embBefore, _ := m.EmbedIn.Float32s()
				a, err := Load(testutil.Testdata(t, "lora", family, "adapter-head"), m, "")
				if err != nil {
					return err
				}
				defer a.Free()
				if a.Head == nil || !slices.Equal(a.Config.ModulesToSave, []string{HeadModule}) {
					t.Fatalf("head %v, modules_to_save %v", a.Head, a.Config.ModulesToSave)
				}
				a.Attach(m)
				got := logits(t, m, g.ProbeRows, g.Pad)
				compare(t, "adapter+head", got, g.Logits, 1e-4)

				// Saved by us: PEFT's names, and it loads back the same.
				dir := t.TempDir()
				if err := a.Save(dir); err != nil {
					return err
				}
				ck, err := checkpoint.OpenFile(filepath.Join(dir, WeightsFile))
				if err != nil {
					return err
				}
				_, hasHead := ck.Info("base_model.model.lm_head.weight")
				ck.Close()
				if !hasHead {
					t.Error("saved adapter lacks base_model.model.lm_head.weight")
				}
				b, _ := os.ReadFile(filepath.Join(dir, ConfigFile))
				if !strings.Contains(string(b), `"modules_to_save": [
    "lm_head"
  ]`) {
					t.Errorf("adapter_config.json: %s", b)
				}
				a2, err := Load(dir, m, "again")
				if err != nil {
					return err
				}
				a2.Attach(m)
				if d := maxDiff(got, logits(t, m, g.ProbeRows, g.Pad)); d != 0 {
					t.Errorf("saved and loaded again: logits moved by %g", d)
				}
				a2.Free()

				a.Attach(m)
				if err := a.Merge(m); err != nil {
					return err
				}
				if m.Head != nil || m.LinearHook != nil || m.EmbedOut == m.EmbedIn || m.Config.TieWordEmbeddings {
					t.Error("Merge left the adapter attached or the head tied")
				}
				compare(t, "merged", logits(t, m, g.ProbeRows, g.Pad), g.Merged, 1e-4)
				embAfter, _ := m.EmbedIn.Float32s()
				if !slices.Equal(embBefore, embAfter) {
					t.Error("the input embedding changed")
				}
				return nil
			})
		})
	}
}

// modules_to_save naming anything but the head is refused, naming it.
func TestModulesToSaveOnlyHead(t *testing.T) {
	cfg := NewConfig(4, 8, 0, []string{"q_proj"})
	cfg.ModulesToSave = []string{"embed_tokens"}
	if err := cfg.Validate(); !errors.Is(err, ErrUnsupported) || !strings.Contains(err.Error(), "embed_tokens") {
		t.Errorf("modules_to_save embed_tokens: %v", err)
	}
	for _, ok := range []string{"lm_head", "embed_out", "base_model.model.lm_head"} {
		cfg.ModulesToSave = []string{ok}
		if err := cfg.Validate(); err != nil {
			t.Errorf("modules_to_save %s: %v", ok, err)
		}
	}
}
