package runner

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/golamini/golamini/internal/chat"
	"github.com/golamini/golamini/internal/model"
	"github.com/golamini/golamini/internal/testutil"
	"github.com/golamini/golamini/internal/torch"
	"github.com/golamini/golamini/internal/train"
)

// TestExportGGUFLlamaCpp checks that llama.cpp runs what ExportGGUF writes:
// a tiny Llama (testdata/gguf/export-llama), one whose head_dim is not
// hidden_size / num_attention_heads, one with Llama 3's RoPE scaling, and, when its file is present,
// the real SmolLM2-135M-Instruct loaded from its GGUF, each exported as f16,
// bf16 and q8_0 and loaded by llama-cpp-python. llama.cpp must read the
// architecture, vocabulary and chat template, tokenize the chat prompt as
// we do, and compute logits equal to ours on the same exported file within
// the rounding of its own arithmetic (its f16 KV cache, and activations
// rounded to the weights' type in the matrix products); along llama.cpp's
// greedy continuation each token it picks must be our argmax or within that
// tolerance of it.
//
// Known failure: on an AVX2-only build of llama-cpp-python 0.3.36 the real
// SmolLM2's q8_0 case fails because llama.cpp's quantized CPU kernels
// compute wrong logits there: llama.cpp's own Q8_0 quantization of our f16
// export gives the same wrong tokens, as does the original Q4_1 file, while
// our reading of the q8_0 export answers correctly.
//
// It is opt-in, not part of make test (which does not build llama.cpp):
//
//	GOLAMINI_LLAMACPP_PYTHON=$(scripts/llamacpp-venv) go test ./runner -run LlamaCpp -v
func TestExportGGUFLlamaCpp(t *testing.T) {
	py := os.Getenv("GOLAMINI_LLAMACPP_PYTHON")
	if py == "" {
		t.Skip("opt-in: set GOLAMINI_LLAMACPP_PYTHON=$(scripts/llamacpp-venv) to check exported GGUF files in llama.cpp")
	}
	script, err := filepath.Abs(filepath.Join("..", "scripts", "reference", "llamacpp_check.py"))
	if err != nil {
		t.Fatal(err)
	}
	cache := t.TempDir()
	t.Setenv("GOLAMINI_CACHE", cache)
	// fromSource: compare llama.cpp with the source model rather than with
	// our reading of the exported file. Our GGUF reader, like transformers'
	// GGUF loader, does not apply Llama 3's rope_freqs.weight, so for that
	// model only the source computes what the file means.
	type modelCase struct {
		name, src  string
		newTokens  int
		fromSource bool
	}
	models := []modelCase{
		{"tiny-llama", filepath.Join("..", "testdata", "gguf", "export-llama"), 12, false},
		{"tiny-llama-head-dim-16", newInteropLlamaDir(t, `"head_dim": 16, "rope_theta": 10000`), 12, false},
		{"tiny-llama3-rope", newInteropLlamaDir(t, `"rope_parameters": {"rope_type": "llama3", "rope_theta": 10000.0, "factor": 8.0,
			"low_freq_factor": 1.0, "high_freq_factor": 4.0, "original_max_position_embeddings": 64}`), 12, true},
	}
	// Opt-in test: an absent real model only narrows it.
	if p := testutil.SmolLM2GGUFPath(); fileExists(p) {
		models = append(models, modelCase{"smollm2-135m-instruct", p, 16, false})
	} else {
		t.Log("the real SmolLM2 GGUF is absent (scripts/smollm2-gguf fetches it): only the tiny model is checked")
	}
	for _, mc := range models {
		t.Run(mc.name, func(t *testing.T) {
			src, err := New(mc.src)
			if err != nil {
				t.Fatal(err)
			}
			defer src.Close()
			prompt, err := src.ChatPrompt([]Message{{Role: "user", Content: "What is the capital of France?"}}, DefaultChatOptions())
			if err != nil {
				t.Fatal(err)
			}
			ids := src.Tokenizer().Encode(prompt)
			set, err := chat.Load(src.Dir())
			if err != nil {
				t.Fatal(err)
			}
			for _, typ := range []string{"f16", "bf16", "q8_0"} {
				t.Run(typ, func(t *testing.T) {
					out := filepath.Join(t.TempDir(), mc.name+"-"+typ+".gguf")
					if err := src.ExportGGUF(context.Background(), out, GGUFOptions{OutType: typ}); err != nil {
						t.Fatal(err)
					}
					got := runLlamaCpp(t, py, script, out, ids, mc.newTokens, prompt)
					if got.Architecture != "llama" {
						t.Errorf("llama.cpp read architecture %q", got.Architecture)
					}
					if want := set.Templates["default"]; got.ChatTemplate != want {
						t.Errorf("llama.cpp read chat template %q, want %q", got.ChatTemplate, want)
					}
					if !equalInts(got.Tokens, ids) {
						t.Errorf("llama.cpp tokenizes the chat prompt as\n%v\nwe do as\n%v", got.Tokens, ids)
					}
					r, err := New(out)
					if err != nil {
						t.Fatal(err)
					}
					defer r.Close()
					if got.NVocab != r.cfg.VocabSize {
						t.Fatalf("llama.cpp n_vocab %d, ours %d", got.NVocab, r.cfg.VocabSize)
					}
					// Ours on the prompt and llama.cpp's greedy continuation, in one pass.
					seq := append(append([]int{}, ids...), got.Greedy...)
					ref := r
					if mc.fromSource {
						ref = src
					}
					ours := allLogits(t, ref, seq)
					V := r.cfg.VocabSize
					theirs := got.Logits
					if len(theirs) != len(ids)*V {
						t.Fatalf("llama.cpp wrote %d logits, want %d × %d", len(theirs), len(ids), V)
					}
					tol := llamaCppTolerance[typ] * rms(ours[:len(ids)*V])
					if mc.fromSource {
						tol *= 2 // the weights' own rounding to the type as well
					}
					maxDiff := 0.0
					for i, v := range theirs {
						maxDiff = max(maxDiff, math.Abs(float64(v)-float64(ours[i])))
					}
					t.Logf("%s %s: max |logit diff| %.4g over %d positions (tolerance %.4g); greedy %v",
						mc.name, typ, maxDiff, len(ids), tol, got.Greedy)
					if maxDiff > tol {
						t.Errorf("llama.cpp's logits differ from ours by up to %.4g (tolerance %.4g)", maxDiff, tol)
					}
					for k, tok := range got.Greedy {
						row := ours[(len(ids)-1+k)*V : (len(ids)+k)*V]
						best := row[0]
						for _, v := range row {
							best = max(best, v)
						}
						if float64(best-row[tok]) > tol {
							t.Errorf("llama.cpp's greedy token %d (%d) has our logit %.4g below our best (tolerance %.4g)", k, tok, best-row[tok], tol)
						}
					}
				})
			}
		})
	}
}

// newInteropLlamaDir writes a tiny random Llama with export-llama's
// tokenizer and chat template and the config fields given: a head_dim that
// is not hidden_size / num_attention_heads (models with wide heads), or
// Llama 3's RoPE scaling with an original context short enough that the
// scaling changes the frequencies a short prompt uses.
func newInteropLlamaDir(t *testing.T, fields string) string {
	t.Helper()
	js := `{"architectures": ["LlamaForCausalLM"], "model_type": "llama", "vocab_size": 292, "hidden_size": 32,
		"intermediate_size": 64, "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 2,
		"max_position_embeddings": 128, "rms_norm_eps": 1e-5, "tie_word_embeddings": false,
		"bos_token_id": 1, "eos_token_id": 2, "pad_token_id": 2, "initializer_range": 0.2, ` + fields + `}`
	cfg, err := model.ParseConfig([]byte(js), "llama config")
	if err != nil {
		t.Fatal(err)
	}
	src := filepath.Join("..", "testdata", "gguf", "export-llama")
	dir := t.TempDir()
	err = torch.Do(context.Background(), func() error {
		m, err := model.NewRandom(cfg, model.DefaultLoadOptions(), 5)
		if err != nil {
			return err
		}
		defer m.Free()
		return train.WriteModelDir(dir, m, src)
	})
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(src, "chat_template.jinja"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "chat_template.jinja"), b, 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

// llamaCppTolerance is the largest logit difference allowed between
// llama.cpp and us on the same exported file, as a multiple of the RMS of
// our logits. llama.cpp keeps its KV cache in f16 and rounds the activations
// to the weights' type before the matrix products (f16: 11 significant bits,
// bf16: 8, q8_0: 8-bit blocks with one f16 scale per 32 values, so a value
// well below its block's largest keeps far fewer bits); those roundings
// compound over the layers. A model compared from its source also carries
// the rounding of its weights to the type.
var llamaCppTolerance = map[string]float64{"f16": 0.01, "bf16": 0.05, "q8_0": 0.15}

type llamaCppResult struct {
	NVocab       int    `json:"n_vocab"`
	Greedy       []int  `json:"greedy"`
	Tokens       []int  `json:"tokens"`
	Architecture string `json:"architecture"`
	ChatTemplate string `json:"chat_template"`
	Logits       []float32
}

func runLlamaCpp(t *testing.T, py, script, file string, ids []int, newTokens int, text string) llamaCppResult {
	t.Helper()
	dir := t.TempDir()
	logitsPath := filepath.Join(dir, "logits.f32")
	req, err := json.Marshal(map[string]any{"gguf": file, "ids": ids, "new_tokens": newTokens, "text": text, "logits_out": logitsPath})
	if err != nil {
		t.Fatal(err)
	}
	reqPath := filepath.Join(dir, "request.json")
	if err := os.WriteFile(reqPath, req, 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(py, script, reqPath)
	cmd.Stderr = os.Stderr
	b, err := cmd.Output()
	if err != nil {
		t.Fatalf("llama.cpp on %s: %v", file, err)
	}
	var res llamaCppResult
	if err := json.Unmarshal(b, &res); err != nil {
		t.Fatalf("llama.cpp on %s printed %q: %v", file, b, err)
	}
	raw, err := os.ReadFile(logitsPath)
	if err != nil {
		t.Fatal(err)
	}
	res.Logits = make([]float32, len(raw)/4)
	for i := range res.Logits {
		res.Logits[i] = math.Float32frombits(binary.LittleEndian.Uint32(raw[4*i:]))
	}
	return res
}

// allLogits returns the model's logits at every position of ids, [len(ids) × vocab] row-major.
func allLogits(t *testing.T, r *Runner, ids []int) []float32 {
	t.Helper()
	var out []float32
	err := r.do(context.Background(), func(_ context.Context, m *model.Model) error {
		defer torch.NoGrad()()
		s := torch.NewScope()
		defer s.Close()
		in := make([]int64, len(ids))
		for i, id := range ids {
			in[i] = int64(id)
		}
		x := s.Int64(in, 1, int64(len(in)))                  // [1, T]
		logits := m.Logits(s, m.Forward(s, x, model.Pass{})) // [1, T, V]
		logits = s.To(logits, torch.Float32, torch.CPU)
		if err := s.Err(); err != nil {
			return err
		}
		var err error
		out, err = logits.Float32s()
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func rms(v []float32) float64 {
	var s float64
	for _, x := range v {
		s += float64(x) * float64(x)
	}
	return math.Sqrt(s / float64(len(v)))
}

func equalInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}
