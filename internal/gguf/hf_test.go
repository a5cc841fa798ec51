package gguf

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"testing"

	"github.com/golamini/golamini/internal/testutil"
)

// hfGolden is testdata/gguf/tiny-*.json or smollm2_hf.json
// (scripts/reference/gguf_hf_goldens.py): what transformers'
// from_pretrained(dir, gguf_file=...) builds from the file.
type hfGolden struct {
	Config  map[string]any             `json:"config"`
	Tensors map[string]json.RawMessage `json:"tensors"`
	AllSHA  string                     `json:"all_tensors_sha256"`
}

func loadHFGolden(t *testing.T, name string) hfGolden {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "testdata", "gguf", name))
	if err != nil {
		t.Fatal(err)
	}
	var g hfGolden
	if err := json.Unmarshal(b, &g); err != nil {
		t.Fatal(err)
	}
	return g
}

func float32Bytes(vals []float32) []byte {
	b := make([]byte, 4*len(vals))
	for i, v := range vals {
		binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(v))
	}
	return b
}

// checkHFConfig compares our config with transformers': every field it
// sets must be ours too, with the same value, and a field it leaves null
// must be absent from ours.
func checkHFConfig(t *testing.T, got map[string]any, want map[string]any) {
	t.Helper()
	for k, w := range want {
		g, ok := got[k]
		if w == nil {
			if ok {
				t.Errorf("config %s = %v, transformers leaves it unset", k, g)
			}
			continue
		}
		if !ok {
			t.Errorf("config lacks %s (transformers: %v)", k, w)
			continue
		}
		var gv any = g
		switch x := g.(type) {
		case int64:
			gv = float64(x)
		}
		if wf, ok := w.(float64); ok {
			if gf, ok := gv.(float64); !ok || gf != wf {
				t.Errorf("config %s = %v, transformers: %v", k, g, w)
			}
			continue
		}
		if !reflect.DeepEqual(gv, w) {
			t.Errorf("config %s = %#v, transformers: %#v", k, g, w)
		}
	}
}

func TestHFTinyModels(t *testing.T) {
	for _, arch := range []string{"llama", "qwen2", "qwen3"} {
		t.Run(arch, func(t *testing.T) {
			g := loadHFGolden(t, "tiny-"+arch+".json")
			f, err := Open(filepath.Join("..", "..", "testdata", "gguf", "tiny-"+arch+".gguf"))
			if err != nil {
				t.Fatal(err)
			}
			m, err := NewHFModel(f)
			if err != nil {
				t.Fatal(err)
			}
			defer m.Close()
			checkHFConfig(t, m.Config, g.Config)

			tied, _ := m.Config["tie_word_embeddings"].(bool)
			var want []string
			for name := range g.Tensors {
				if name == "lm_head.weight" && tied {
					continue // the model's tied copy of the embedding
				}
				want = append(want, name)
			}
			sort.Strings(want)
			var names []string
			for _, ti := range m.Tensors() {
				names = append(names, ti.Name)
			}
			if !reflect.DeepEqual(names, want) {
				t.Fatalf("tensors %v, transformers has %v", names, want)
			}
			for _, ti := range m.Tensors() {
				var w [2]json.RawMessage
				json.Unmarshal(g.Tensors[ti.Name], &w)
				var shape []int64
				var sum string
				json.Unmarshal(w[0], &shape)
				json.Unmarshal(w[1], &sum)
				if !reflect.DeepEqual(ti.Shape, shape) {
					t.Errorf("%s: shape %v, transformers %v", ti.Name, ti.Shape, shape)
				}
				vals, err := m.ReadFloat32(ti.Name)
				if err != nil {
					t.Fatal(err)
				}
				if s := sha256.Sum256(float32Bytes(vals)); hex.EncodeToString(s[:]) != sum {
					t.Errorf("%s: values differ from transformers' state dict", ti.Name)
				}
			}

			// The same tensors through the checkpoint.Checkpoint the model loader reads.
			ck, err := m.Checkpoint()
			if err != nil {
				t.Fatal(err)
			}
			for _, ti := range ck.Tensors() {
				vals, err := ck.ReadFloat32(ti.Name)
				if err != nil {
					t.Fatal(err)
				}
				direct, _ := m.ReadFloat32(ti.Name)
				if !reflect.DeepEqual(vals, direct) {
					t.Errorf("%s: checkpoint view differs", ti.Name)
				}
			}
		})
	}
}

// TestHFConfigJSON checks the config.json document parses back to the
// config.
func TestHFConfigJSON(t *testing.T) {
	f, err := Open(filepath.Join("..", "..", "testdata", "gguf", "tiny-llama.gguf"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	b, err := f.HFConfigJSON()
	if err != nil {
		t.Fatal(err)
	}
	var back map[string]any
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	checkHFConfig(t, back, loadHFGolden(t, "tiny-llama.json").Config)
	if back["architectures"].([]any)[0] != "LlamaForCausalLM" {
		t.Errorf("architectures %v", back["architectures"])
	}
}

func TestHFPermutationRoundTrip(t *testing.T) {
	rows, cols, heads := int64(12), int64(3), int64(2)
	vals := make([]float32, rows*cols)
	for i := range vals {
		vals[i] = float32(i)
	}
	if got := unpermuteRows(permuteRows(vals, rows, heads), rows, heads); !reflect.DeepEqual(got, vals) {
		t.Errorf("unpermute(permute(x)) != x")
	}
}

func TestHFNames(t *testing.T) {
	for g, want := range map[string]string{
		"token_embd.weight":        "model.embed_tokens.weight",
		"output.weight":            "lm_head.weight",
		"output_norm.weight":       "model.norm.weight",
		"blk.12.attn_q.bias":       "model.layers.12.self_attn.q_proj.bias",
		"blk.0.ffn_down.weight":    "model.layers.0.mlp.down_proj.weight",
		"blk.3.attn_k_norm.weight": "model.layers.3.self_attn.k_norm.weight",
		"blk.01.attn_q.weight":     "",
		"blk.x.attn_q.weight":      "",
		"blk.1.attn_q.scale":       "",
		"blk.1.unknown.weight":     "",
		"rope_freqs.weight":        "",
	} {
		got, ok := HFName(g)
		if got != want || ok != (want != "") {
			t.Errorf("HFName(%q) = %q, %v; want %q", g, got, ok, want)
		}
	}
}

// TestRealSmolLM2HF compares the real file's HF view with transformers':
// config, and one checksum over every tensor.
func TestRealSmolLM2HF(t *testing.T) {
	path := testutil.SmolLM2GGUF(t)
	g := loadHFGolden(t, "smollm2_hf.json")
	f, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	m, err := NewHFModel(f)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	want := map[string]any{}
	for k, v := range g.Config {
		want[k] = v
	}
	checkHFConfig(t, m.Config, want)
	h := sha256.New()
	for _, ti := range m.Tensors() {
		vals, err := m.ReadFloat32(ti.Name)
		if err != nil {
			t.Fatal(err)
		}
		h.Write([]byte(ti.Name))
		h.Write(float32Bytes(vals))
	}
	if hex.EncodeToString(h.Sum(nil)) != g.AllSHA {
		t.Error("tensors differ from transformers' state dict")
	}
}
