package gguf

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/golamini/golamini/internal/checkpoint"
)

// ExportOptions control ExportDir.
type ExportOptions struct {
	// OutType is the type of the 2-D weights: F32, F16, BF16 or Q8_0
	// (1-D tensors, the norms, stay F32, as llama.cpp's converter keeps
	// them). A Q8_0 matrix whose rows are not a multiple of 32 is written
	// as F16.
	OutType TensorType
	// Name is general.name (default: the directory's base name).
	Name string
	// TokenizerPre is tokenizer.ggml.pre, llama.cpp's name for the
	// pre-tokenizer; empty means recognising it from tokenizer.json.
	TokenizerPre string
}

// DefaultExportOptions returns F16 weights, the converter's default.
func DefaultExportOptions() ExportOptions { return ExportOptions{OutType: TypeF16} }

// OutTypes are the --outtype names ExportDir accepts.
var OutTypes = map[string]TensorType{"f32": TypeF32, "f16": TypeF16, "bf16": TypeBF16, "q8_0": TypeQ8_0}

// fileTypes is general.file_type (llama_ftype) for each out type.
var fileTypes = map[TensorType]uint32{TypeF32: 0, TypeF16: 1, TypeQ8_0: 7, TypeBF16: 32}

// exportArch is llama.cpp's architecture for an HF model_type.
var exportArch = map[string]string{"llama": "llama", "mistral": "llama", "qwen2": "qwen2", "qwen3": "qwen3"}

// ExportDir converts a HuggingFace model directory of a Llama-family model
// (model_type llama, mistral, qwen2 or qwen3: config.json, safetensors or
// .bin weights, a byte-level BPE tokenizer.json with its
// tokenizer_config.json and chat template) into a GGUF file the way
// llama.cpp's convert_hf_to_gguf.py does: its metadata keys, tensor names,
// the Q/K row permutation of llama models, F32 norms, and the 2-D weights
// in opts.OutType (Q8_0 quantized as gguf.quants does). Tensors are
// converted one at a time while the file is written; the file appears at
// out only when complete.
func ExportDir(ctx context.Context, dir, out string, opts ExportOptions) error {
	if _, ok := fileTypes[opts.OutType]; !ok {
		return fmt.Errorf("gguf: export: out type %v (f32, f16, bf16 and q8_0 are supported)", opts.OutType)
	}
	cfgBytes, err := os.ReadFile(filepath.Join(dir, "config.json"))
	if err != nil {
		return fmt.Errorf("gguf: export: %w", err)
	}
	var cfg map[string]any
	if err := json.Unmarshal(cfgBytes, &cfg); err != nil {
		return fmt.Errorf("gguf: export: %s: %w", filepath.Join(dir, "config.json"), err)
	}
	modelType, _ := cfg["model_type"].(string)
	arch, ok := exportArch[modelType]
	if !ok {
		return fmt.Errorf("%w: export: model_type %q (llama, mistral, qwen2 and qwen3 are exported)", ErrUnsupported, modelType)
	}
	num := func(key string) (float64, bool) { v, ok := cfg[key].(float64); return v, ok }
	need := func(key string) (uint32, error) {
		v, ok := num(key)
		if !ok || v <= 0 || v != float64(uint32(v)) {
			return 0, fmt.Errorf("gguf: export: config.json: %s is missing or not a positive integer", key)
		}
		return uint32(v), nil
	}
	nLayers, err := need("num_hidden_layers")
	if err != nil {
		return err
	}
	hidden, err := need("hidden_size")
	if err != nil {
		return err
	}
	nHead, err := need("num_attention_heads")
	if err != nil {
		return err
	}
	ffn, err := need("intermediate_size")
	if err != nil {
		return err
	}
	nKV := nHead
	if _, ok := num("num_key_value_heads"); ok {
		if nKV, err = need("num_key_value_heads"); err != nil {
			return err
		}
	}
	vocabSize, err := need("vocab_size")
	if err != nil {
		return err
	}
	headDim := hidden / nHead
	if _, ok := num("head_dim"); ok {
		if headDim, err = need("head_dim"); err != nil {
			return err
		}
	}
	if opts.Name == "" {
		abs, _ := filepath.Abs(dir)
		opts.Name = filepath.Base(abs)
	}

	w := NewWriter()
	set := func(key string, v any) {
		if err == nil {
			err = w.Set(key, v)
		}
	}
	set("general.architecture", arch)
	set("general.type", "model")
	set("general.name", opts.Name)
	set(arch+".block_count", nLayers)
	if v, ok := num("max_position_embeddings"); ok {
		set(arch+".context_length", uint32(v))
	}
	set(arch+".embedding_length", hidden)
	set(arch+".feed_forward_length", ffn)
	set(arch+".attention.head_count", nHead)
	set(arch+".attention.head_count_kv", nKV)
	if theta, ok := ropeTheta(cfg); ok {
		set(arch+".rope.freq_base", float32(theta))
	}
	if eps, ok := num("rms_norm_eps"); ok {
		set(arch+".attention.layer_norm_rms_epsilon", float32(eps))
	}
	set("general.file_type", fileTypes[opts.OutType])
	if arch == "llama" {
		set(arch+".vocab_size", vocabSize)
		set(arch+".rope.dimension_count", headDim)
	}
	// The converter writes the head size whenever config.json has head_dim;
	// llama.cpp otherwise takes hidden_size / num_attention_heads, which
	// differs for models with wider heads and fails on the Q/K/V shapes.
	if _, ok := num("head_dim"); ok || arch == "qwen3" {
		set(arch+".attention.key_length", headDim)
		set(arch+".attention.value_length", headDim)
	}
	rope, rerr := exportRopeScaling(cfg, headDim)
	if rerr != nil {
		return fmt.Errorf("gguf: export: config.json: %w", rerr)
	}
	for _, kv := range rope.kv {
		set(arch+"."+kv.key, kv.v)
	}
	if rope.freqs != nil && arch != "llama" {
		return fmt.Errorf("%w: export: llama3 rope scaling in a %s model", ErrUnsupported, modelType)
	}
	if err != nil {
		return fmt.Errorf("gguf: export: %w", err)
	}
	if err := exportTokenizer(w, dir, cfg, int(vocabSize), opts.TokenizerPre); err != nil {
		return fmt.Errorf("gguf: export: %w", err)
	}
	if err := w.Set("general.quantization_version", uint32(2)); err != nil {
		return err
	}

	ck, err := openExportWeights(dir)
	if err != nil {
		return fmt.Errorf("gguf: export: %w", err)
	}
	defer ck.Close()
	tied, _ := cfg["tie_word_embeddings"].(bool)
	type item struct {
		hf, gguf string
		info     checkpoint.TensorInfo
	}
	var items []item
	for _, ti := range ck.Tensors() {
		if ti.Name == "lm_head.weight" && tied {
			continue // the embedding, stored once
		}
		if strings.HasSuffix(ti.Name, ".rotary_emb.inv_freq") {
			continue
		}
		g, ok := ggufName(ti.Name)
		if !ok {
			return fmt.Errorf("gguf: export: tensor %q has no GGUF name in a %s model", ti.Name, modelType)
		}
		if !ti.DType.IsFloat() {
			return fmt.Errorf("gguf: export: tensor %q has dtype %v, want a float type", ti.Name, ti.DType)
		}
		items = append(items, item{ti.Name, g, ti})
	}
	sort.SliceStable(items, func(i, j int) bool { return ggufOrder(items[i].gguf) < ggufOrder(items[j].gguf) })
	if rope.freqs != nil {
		// Llama 3's RoPE frequency divisors, first as the converter emits them.
		freqs := rope.freqs
		err := w.AddTensor(WriteTensor{Name: "rope_freqs.weight", Type: TypeF32, Shape: []int64{int64(len(freqs))},
			Load: func() ([]byte, error) { return Quantize(TypeF32, freqs) }})
		if err != nil {
			return fmt.Errorf("gguf: export: %w", err)
		}
	}
	for _, it := range items {
		it := it
		typ := TypeF32
		if len(it.info.Shape) == 2 {
			typ = opts.OutType
			if typ == TypeQ8_0 && it.info.Shape[1]%32 != 0 {
				typ = TypeF16
			}
		}
		heads := int64(0)
		if arch == "llama" && strings.Contains(it.gguf, ".attn_q.") {
			heads = int64(nHead)
		} else if arch == "llama" && strings.Contains(it.gguf, ".attn_k.") {
			heads = int64(nKV)
		}
		if heads > 0 && it.info.Shape[0]%(2*heads) != 0 {
			return fmt.Errorf("gguf: export: tensor %q: %d rows do not split into %d heads of pairs", it.hf, it.info.Shape[0], heads)
		}
		load := func() ([]byte, error) {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
			vals, err := ck.ReadFloat32(it.hf)
			if err != nil {
				return nil, err
			}
			if heads > 0 {
				vals = permuteRows(vals, it.info.Shape[0], heads)
			}
			return Quantize(typ, vals)
		}
		if err := w.AddTensor(WriteTensor{Name: it.gguf, Type: typ, Shape: it.info.Shape, Load: load}); err != nil {
			return fmt.Errorf("gguf: export: %w", err)
		}
	}
	return w.WriteFile(out)
}

// openExportWeights opens a directory's safetensors or .bin weights, else
// the GGUF that WriteHFDir links there (re-exporting a GGUF in another
// out type).
func openExportWeights(dir string) (*checkpoint.Checkpoint, error) {
	ck, err := checkpoint.Open(dir)
	if err == nil {
		return ck, nil
	}
	if _, statErr := os.Stat(filepath.Join(dir, HFDirWeights)); statErr != nil {
		return nil, err
	}
	f, gerr := Open(filepath.Join(dir, HFDirWeights))
	if gerr != nil {
		return nil, gerr
	}
	m, gerr := NewHFModel(f)
	if gerr != nil {
		f.Close()
		return nil, gerr
	}
	return m.Checkpoint()
}

// ropeTheta is rope_theta, or transformers 5's rope_parameters.rope_theta.
func ropeTheta(cfg map[string]any) (float64, bool) {
	if v, ok := cfg["rope_theta"].(float64); ok {
		return v, true
	}
	if rp, ok := cfg["rope_parameters"].(map[string]any); ok {
		v, ok := rp["rope_theta"].(float64)
		return v, ok
	}
	return 0, false
}

// ggufName is the inverse of HFName.
func ggufName(hf string) (string, bool) {
	base, suffix, ok := cutLast(hf, ".")
	if !ok {
		return "", false
	}
	for g, h := range hfTopNames {
		if h == base {
			return g + "." + suffix, true
		}
	}
	rest, ok := strings.CutPrefix(base, "model.layers.")
	if !ok {
		return "", false
	}
	num, part, ok := strings.Cut(rest, ".")
	if !ok {
		return "", false
	}
	for g, h := range hfBlockNames {
		if h == part {
			name := "blk." + num + "." + g + "." + suffix
			if back, ok := HFName(name); ok && back == hf {
				return name, true
			}
		}
	}
	return "", false
}

// ggufOrder sorts tensors as the converter emits them: the embedding, the
// blocks in order, then the final norm and the output.
func ggufOrder(name string) string {
	switch {
	case strings.HasPrefix(name, "token_embd."):
		return "0"
	case strings.HasPrefix(name, "blk."):
		num, _, _ := strings.Cut(strings.TrimPrefix(name, "blk."), ".")
		return fmt.Sprintf("1%08s", num)
	}
	return "2"
}

// exportTokenizer writes the tokenizer.ggml.* metadata of a byte-level BPE
// tokenizer.json as llama.cpp's _set_vocab_gpt2 does: every id up to
// vocab_size (missing ones as [PADn], UNUSED), special added tokens as
// CONTROL, other added tokens as USER_DEFINED, the merges, the special
// token ids, the add_bos/add_eos flags and the chat template.
func exportTokenizer(w *Writer, dir string, cfg map[string]any, vocabSize int, pre string) error {
	b, err := os.ReadFile(filepath.Join(dir, "tokenizer.json"))
	if err != nil {
		return err
	}
	var tj struct {
		AddedTokens []struct {
			ID      int64  `json:"id"`
			Content string `json:"content"`
			Special bool   `json:"special"`
		} `json:"added_tokens"`
		PreTokenizer  json.RawMessage `json:"pre_tokenizer"`
		PostProcessor json.RawMessage `json:"post_processor"`
		Model         struct {
			Type         string            `json:"type"`
			Vocab        map[string]int64  `json:"vocab"`
			Merges       []json.RawMessage `json:"merges"`
			ByteFallback bool              `json:"byte_fallback"`
		} `json:"model"`
	}
	if err := json.Unmarshal(b, &tj); err != nil {
		return fmt.Errorf("tokenizer.json: %w", err)
	}
	if tj.Model.Type != "BPE" || tj.Model.ByteFallback {
		return fmt.Errorf("%w: tokenizer.json: only byte-level BPE tokenizers are exported (this one is %s, byte_fallback %v)", ErrUnsupported, tj.Model.Type, tj.Model.ByteFallback)
	}
	if pre == "" {
		if pre, err = recognisePre(tj.PreTokenizer); err != nil {
			return err
		}
	}
	byID := map[int64]string{}
	maxID := int64(-1)
	for tok, id := range tj.Model.Vocab {
		byID[id] = tok
		maxID = max(maxID, id)
	}
	special := map[int64]bool{}
	addedIDs := map[int64]bool{}
	for _, at := range tj.AddedTokens {
		byID[at.ID] = at.Content
		addedIDs[at.ID] = true
		special[at.ID] = at.Special
		maxID = max(maxID, at.ID)
	}
	n := int64(vocabSize)
	if maxID+1 > n {
		return fmt.Errorf("tokenizer.json has ids up to %d, beyond config.json's vocab_size %d", maxID, vocabSize)
	}
	tokens := make([]string, n)
	types := make([]int32, n)
	for id := int64(0); id < n; id++ {
		tok, ok := byID[id]
		switch {
		case !ok:
			tokens[id], types[id] = fmt.Sprintf("[PAD%d]", id), tokenUnused
		case addedIDs[id] && (special[id] || strings.HasPrefix(tok, "<|") && strings.HasSuffix(tok, "|>")):
			tokens[id], types[id] = tok, tokenControl
		case addedIDs[id]:
			tokens[id], types[id] = tok, tokenUserDefined
		default:
			tokens[id], types[id] = tok, tokenNormal
		}
	}
	merges := make([]string, len(tj.Model.Merges))
	for i, raw := range tj.Model.Merges {
		var s string
		var pair []string
		if json.Unmarshal(raw, &s) == nil {
			merges[i] = s
		} else if json.Unmarshal(raw, &pair) == nil && len(pair) == 2 {
			merges[i] = pair[0] + " " + pair[1]
		} else {
			return fmt.Errorf("tokenizer.json: merge %d is neither \"a b\" nor [a, b]", i)
		}
	}
	set := func(k string, v any) {
		if err == nil {
			err = w.Set(k, v)
		}
	}
	set("tokenizer.ggml.model", "gpt2")
	set("tokenizer.ggml.pre", pre)
	set("tokenizer.ggml.tokens", tokens)
	set("tokenizer.ggml.token_type", types)
	if len(merges) > 0 {
		set("tokenizer.ggml.merges", merges)
	}
	if err != nil {
		return err
	}

	tc := map[string]any{}
	if b, err := os.ReadFile(filepath.Join(dir, "tokenizer_config.json")); err == nil {
		if err := json.Unmarshal(b, &tc); err != nil {
			return fmt.Errorf("tokenizer_config.json: %w", err)
		}
	} else if !errors.Is(err, os.ErrNotExist) {
		return err
	}
	idOf := map[string]int64{}
	for id, tok := range byID {
		idOf[tok] = id
	}
	for _, s := range []struct{ name, key string }{{"bos", "bos_token_id"}, {"eos", "eos_token_id"}, {"unk", "unknown_token_id"}, {"pad", "padding_token_id"}} {
		id, ok := int64(-1), false
		switch v := tc[s.name+"_token"].(type) {
		case string:
			id, ok = idOf[v]
		case map[string]any:
			if c, isStr := v["content"].(string); isStr {
				id, ok = idOf[c]
			}
		}
		if !ok {
			if f, isNum := cfg[s.name+"_token_id"].(float64); isNum && f >= 0 && f < float64(n) {
				id, ok = int64(f), true
			}
		}
		if ok {
			set("tokenizer.ggml."+s.key, uint32(id))
		}
	}
	addBOS, hasBOS := tc["add_bos_token"].(bool)
	addEOS, hasEOS := tc["add_eos_token"].(bool)
	if !hasBOS || !hasEOS {
		var pp struct {
			Type   string           `json:"type"`
			Single []map[string]any `json:"single"`
		}
		if json.Unmarshal(tj.PostProcessor, &pp) == nil && pp.Type == "TemplateProcessing" && len(pp.Single) > 0 {
			if !hasBOS {
				_, addBOS = pp.Single[0]["SpecialToken"]
				hasBOS = true
			}
			if !hasEOS {
				_, addEOS = pp.Single[len(pp.Single)-1]["SpecialToken"]
				hasEOS = true
			}
		}
	}
	if hasBOS {
		set("tokenizer.ggml.add_bos_token", addBOS)
	}
	if hasEOS {
		set("tokenizer.ggml.add_eos_token", addEOS)
	}
	if t, ok := tc["chat_template"].(string); ok && t != "" {
		set("tokenizer.chat_template", t)
	} else if b, err := os.ReadFile(filepath.Join(dir, "chat_template.jinja")); err == nil && len(b) > 0 {
		set("tokenizer.chat_template", string(b))
	}
	return err
}

// recognisePre names llama.cpp's pre-tokenizer for a tokenizer.json
// pre_tokenizer: the split expressions of llama 3 and Qwen2, SmolLM's
// single digits before GPT-2's byte level, or GPT-2's byte level alone.
func recognisePre(raw json.RawMessage) (string, error) {
	var p struct {
		Type          string            `json:"type"`
		UseRegex      *bool             `json:"use_regex"`
		Pretokenizers []json.RawMessage `json:"pretokenizers"`
	}
	if err := json.Unmarshal(raw, &p); err != nil {
		return "", fmt.Errorf("tokenizer.json pre_tokenizer: %w", err)
	}
	if p.Type == "ByteLevel" && (p.UseRegex == nil || *p.UseRegex) {
		return "gpt-2", nil
	}
	if p.Type == "Sequence" && len(p.Pretokenizers) == 2 {
		var first struct {
			Type             string `json:"type"`
			IndividualDigits bool   `json:"individual_digits"`
			Pattern          struct {
				Regex string `json:"Regex"`
			} `json:"pattern"`
		}
		var second struct {
			Type     string `json:"type"`
			UseRegex *bool  `json:"use_regex"`
		}
		json.Unmarshal(p.Pretokenizers[0], &first)
		json.Unmarshal(p.Pretokenizers[1], &second)
		if second.Type == "ByteLevel" {
			switch {
			case first.Type == "Split" && first.Pattern.Regex == splitLlama3:
				return "llama-bpe", nil
			case first.Type == "Split" && first.Pattern.Regex == splitQwen2:
				return "qwen2", nil
			case first.Type == "Digits" && first.IndividualDigits && (second.UseRegex == nil || *second.UseRegex):
				return "smollm", nil
			}
		}
	}
	return "", fmt.Errorf("%w: tokenizer.json pre_tokenizer %s has no llama.cpp name this exporter knows (set the tokenizer pre name explicitly)", ErrUnsupported, string(raw))
}
