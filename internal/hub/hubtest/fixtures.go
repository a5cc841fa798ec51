package hubtest

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"sort"
)

// Fixture repository ids published by AddFixtures.
const (
	// TinyRepo has every metadata file, model.safetensors, and a decoy
	// pytorch_model.bin that a client preferring safetensors never fetches.
	TinyRepo = "golamini-test/tiny-neox"
	// ShardedRepo has sharded safetensors with an index and lacks the
	// optional generation_config.json and special_tokens_map.json.
	ShardedRepo = "golamini-test/tiny-neox-sharded"
	// BinRepo has only config.json, tokenizer.json and pytorch_model.bin.
	BinRepo = "golamini-test/tiny-neox-bin"
)

// TinyConfig is the configuration of the fixture model: a 2-layer GPT-NeoX
// small enough to load anywhere.
var TinyConfig = map[string]any{
	"architectures":           []string{"GPTNeoXForCausalLM"},
	"model_type":              "gpt_neox",
	"hidden_size":             32,
	"intermediate_size":       128,
	"num_attention_heads":     4,
	"num_hidden_layers":       2,
	"max_position_embeddings": 128,
	"rotary_pct":              0.25,
	"rotary_emb_base":         10000,
	"vocab_size":              512,
	"layer_norm_eps":          1e-5,
	"use_parallel_residual":   true,
	"hidden_act":              "gelu",
	"initializer_range":       0.02,
	"bos_token_id":            0,
	"eos_token_id":            0,
	"tie_word_embeddings":     false,
	"use_cache":               true,
	"torch_dtype":             "float32",
	"transformers_version":    "4.44.2",
}

// Tensor is one named float32 tensor for WriteSafetensors.
type Tensor struct {
	Name  string
	Shape []int
	Data  []float32
}

// TinyTensors returns the fixture model's weights (deterministic values),
// named as in HF's GPTNeoXForCausalLM.
func TinyTensors() []Tensor {
	const v, h, inter, layers = 512, 32, 128, 2
	rng := splitmix(1)
	randn := func(name string, shape ...int) Tensor {
		n := 1
		for _, d := range shape {
			n *= d
		}
		data := make([]float32, n)
		for i := range data { // uniform with standard deviation 0.02
			data[i] = float32((rng.float64()*2 - 1) * 0.02 * math.Sqrt(3))
		}
		return Tensor{name, shape, data}
	}
	fill := func(name string, val float32, n int) Tensor {
		data := make([]float32, n)
		for i := range data {
			data[i] = val
		}
		return Tensor{name, []int{n}, data}
	}
	ts := []Tensor{randn("gpt_neox.embed_in.weight", v, h)}
	for i := range layers {
		p := fmt.Sprintf("gpt_neox.layers.%d.", i)
		ts = append(ts,
			fill(p+"input_layernorm.weight", 1, h), fill(p+"input_layernorm.bias", 0, h),
			fill(p+"post_attention_layernorm.weight", 1, h), fill(p+"post_attention_layernorm.bias", 0, h),
			randn(p+"attention.query_key_value.weight", 3*h, h), fill(p+"attention.query_key_value.bias", 0, 3*h),
			randn(p+"attention.dense.weight", h, h), fill(p+"attention.dense.bias", 0, h),
			randn(p+"mlp.dense_h_to_4h.weight", inter, h), fill(p+"mlp.dense_h_to_4h.bias", 0, inter),
			randn(p+"mlp.dense_4h_to_h.weight", h, inter), fill(p+"mlp.dense_4h_to_h.bias", 0, h),
		)
	}
	ts = append(ts,
		fill("gpt_neox.final_layer_norm.weight", 1, h), fill("gpt_neox.final_layer_norm.bias", 0, h),
		randn("embed_out.weight", v, h))
	return ts
}

// WriteSafetensors encodes float32 tensors in the safetensors format: an
// 8-byte little-endian header length, a JSON header padded with spaces to a
// multiple of 8, then the data, tensors in name order.
func WriteSafetensors(ts []Tensor) ([]byte, error) {
	sorted := append([]Tensor(nil), ts...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].Name < sorted[j].Name })
	header := map[string]any{"__metadata__": map[string]string{"format": "pt"}}
	var off int
	for _, t := range sorted {
		header[t.Name] = map[string]any{"dtype": "F32", "shape": t.Shape, "data_offsets": []int{off, off + 4*len(t.Data)}}
		off += 4 * len(t.Data)
	}
	hj, err := marshalJSON(header, false)
	if err != nil {
		return nil, err
	}
	for len(hj)%8 != 0 {
		hj = append(hj, ' ')
	}
	out := make([]byte, 8, 8+len(hj)+off)
	binary.LittleEndian.PutUint64(out, uint64(len(hj)))
	out = append(out, hj...)
	for _, t := range sorted {
		for _, f := range t.Data {
			out = binary.LittleEndian.AppendUint32(out, math.Float32bits(f))
		}
	}
	return out, nil
}

// RandomSafetensors returns a valid safetensors file of about n bytes holding
// one float32 tensor "weight" of deterministic pseudo-random values.
func RandomSafetensors(n int, seed uint64) ([]byte, error) {
	count := max(n/4, 1)
	rng := splitmix(seed)
	data := make([]float32, count)
	for i := range data {
		data[i] = float32(rng.float64() - 0.5)
	}
	return WriteSafetensors([]Tensor{{Name: "weight", Shape: []int{count}, Data: data}})
}

// TinyTokenizerJSON is a small byte-level BPE tokenizer in HF tokenizers'
// JSON format: <|endoftext|> is id 0, the 256 byte symbols follow, then a few
// merges.
func TinyTokenizerJSON() ([]byte, error) {
	vocab := map[string]int{"<|endoftext|>": 0}
	for i, r := range byteSymbols() {
		vocab[string(r)] = i + 1
	}
	merges := []string{"Ġ t", "h e", "Ġt he", "i n", "a n", "e r", "Ġ a", "o n"}
	for _, m := range merges {
		var a, b string
		fmt.Sscanf(m, "%s %s", &a, &b)
		vocab[a+b] = len(vocab)
	}
	byteLevel := map[string]any{"type": "ByteLevel", "add_prefix_space": false, "trim_offsets": true, "use_regex": true}
	tok := map[string]any{
		"version":    "1.0",
		"truncation": nil,
		"padding":    nil,
		"added_tokens": []map[string]any{{
			"id": 0, "content": "<|endoftext|>", "single_word": false, "lstrip": false,
			"rstrip": false, "normalized": false, "special": true,
		}},
		"normalizer":     map[string]any{"type": "NFC"},
		"pre_tokenizer":  byteLevel,
		"post_processor": byteLevel,
		"decoder":        byteLevel,
		"model": map[string]any{
			"type": "BPE", "dropout": nil, "unk_token": nil, "continuing_subword_prefix": nil,
			"end_of_word_suffix": nil, "fuse_unk": false, "byte_fallback": false,
			"vocab": vocab, "merges": merges,
		},
	}
	return marshalJSON(tok, true)
}

// byteSymbols is the byte-level alphabet: the printable bytes stand for
// themselves, the others for code points from 256 up, in GPT-2's order.
func byteSymbols() []rune {
	var bs []int
	for _, rg := range [][2]int{{'!', '~'}, {0xA1, 0xAC}, {0xAE, 0xFF}} {
		for b := rg[0]; b <= rg[1]; b++ {
			bs = append(bs, b)
		}
	}
	cs := append([]int(nil), bs...)
	have := map[int]bool{}
	for _, b := range bs {
		have[b] = true
	}
	n := 0
	for b := range 256 {
		if !have[b] {
			bs = append(bs, b)
			cs = append(cs, 256+n)
			n++
		}
	}
	out := make([]rune, 256)
	for i, b := range bs {
		out[b] = rune(cs[i])
	}
	return out
}

// TinyFiles returns the files of TinyRepo: config, generation config,
// tokenizer files, model.safetensors, a README and .gitattributes.
func TinyFiles() (map[string][]byte, error) {
	files := map[string][]byte{
		"README.md":      []byte("# tiny-neox\n\nA 2-layer GPT-NeoX with random weights, served by golamini's hubtest.\n"),
		".gitattributes": []byte("*.safetensors filter=lfs diff=lfs merge=lfs -text\n*.bin filter=lfs diff=lfs merge=lfs -text\n"),
	}
	jsons := map[string]any{
		"config.json":             TinyConfig,
		"generation_config.json":  map[string]any{"_from_model_config": true, "bos_token_id": 0, "eos_token_id": 0, "transformers_version": "4.44.2"},
		"tokenizer_config.json":   map[string]any{"add_bos_token": false, "add_eos_token": false, "bos_token": "<|endoftext|>", "eos_token": "<|endoftext|>", "unk_token": "<|endoftext|>", "clean_up_tokenization_spaces": true, "model_max_length": 128, "tokenizer_class": "GPTNeoXTokenizer"},
		"special_tokens_map.json": map[string]any{"bos_token": "<|endoftext|>", "eos_token": "<|endoftext|>", "unk_token": "<|endoftext|>"},
	}
	for name, v := range jsons {
		b, err := marshalJSON(v, true)
		if err != nil {
			return nil, fmt.Errorf("hubtest: %s: %w", name, err)
		}
		files[name] = b
	}
	var err error
	if files["tokenizer.json"], err = TinyTokenizerJSON(); err != nil {
		return nil, err
	}
	if files["model.safetensors"], err = WriteSafetensors(TinyTensors()); err != nil {
		return nil, err
	}
	return files, nil
}

// ShardedFiles returns the files of ShardedRepo: the fixture weights split
// into two safetensors shards with a model.safetensors.index.json.
func ShardedFiles() (map[string][]byte, error) {
	tiny, err := TinyFiles()
	if err != nil {
		return nil, err
	}
	ts := TinyTensors()
	shards := [2][]Tensor{}
	weightMap := map[string]string{}
	names := [2]string{"model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors"}
	total := 0
	for i, t := range ts {
		k := 0
		if i > len(ts)/2 {
			k = 1
		}
		shards[k] = append(shards[k], t)
		weightMap[t.Name] = names[k]
		total += 4 * len(t.Data)
	}
	index, err := marshalJSON(map[string]any{"metadata": map[string]any{"total_size": total}, "weight_map": weightMap}, true)
	if err != nil {
		return nil, err
	}
	files := map[string][]byte{
		"config.json":                  tiny["config.json"],
		"tokenizer.json":               tiny["tokenizer.json"],
		"tokenizer_config.json":        tiny["tokenizer_config.json"],
		"model.safetensors.index.json": index,
		".gitattributes":               tiny[".gitattributes"],
	}
	for k, name := range names {
		if files[name], err = WriteSafetensors(shards[k]); err != nil {
			return nil, err
		}
	}
	return files, nil
}

// BinFiles returns the files of BinRepo. Its pytorch_model.bin is opaque
// bytes: it exercises the choice of weights files, not a checkpoint reader.
func BinFiles() (map[string][]byte, error) {
	tiny, err := TinyFiles()
	if err != nil {
		return nil, err
	}
	return map[string][]byte{
		"config.json":       tiny["config.json"],
		"tokenizer.json":    tiny["tokenizer.json"],
		"pytorch_model.bin": bytes.Repeat([]byte("opaque weights for hub tests\n"), 1000),
	}, nil
}

// AddFixtures publishes TinyRepo, ShardedRepo and BinRepo and returns their
// commit hashes by repository id.
func AddFixtures(s *Server) (map[string]string, error) {
	tiny, err := TinyFiles()
	if err != nil {
		return nil, err
	}
	tiny["pytorch_model.bin"] = []byte("decoy: a client preferring safetensors never downloads this\n")
	sharded, err := ShardedFiles()
	if err != nil {
		return nil, err
	}
	bin, err := BinFiles()
	if err != nil {
		return nil, err
	}
	out := map[string]string{}
	for _, fx := range []struct {
		id    string
		files map[string][]byte
	}{{TinyRepo, tiny}, {ShardedRepo, sharded}, {BinRepo, bin}} {
		sha, err := s.AddRepo(fx.id, fx.files, RepoOptions{})
		if err != nil {
			return nil, err
		}
		out[fx.id] = sha
	}
	return out, nil
}

// marshalJSON encodes v without HTML escaping ("<|endoftext|>" stays
// readable), indented with two spaces and a final newline when indent is set.
func marshalJSON(v any, indent bool) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if indent {
		enc.SetIndent("", "  ")
	}
	if err := enc.Encode(v); err != nil {
		return nil, fmt.Errorf("hubtest: encode fixture: %w", err)
	}
	b := buf.Bytes()
	if !indent {
		b = bytes.TrimRight(b, "\n")
	}
	return b, nil
}

// rng is splitmix64, a small deterministic generator.
type rng struct{ state uint64 }

func splitmix(seed uint64) *rng { return &rng{seed} }

func (r *rng) next() uint64 {
	r.state += 0x9E3779B97F4A7C15
	z := r.state
	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9
	z = (z ^ (z >> 27)) * 0x94D049BB133111EB
	return z ^ (z >> 31)
}

func (r *rng) float64() float64 { return float64(r.next()>>11) / (1 << 53) }
