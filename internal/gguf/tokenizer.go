package gguf

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"unicode/utf8"
)

// Token types of tokenizer.ggml.token_type (llama.cpp's llama_token_type).
const (
	tokenNormal      = 1
	tokenUnknown     = 2
	tokenControl     = 3
	tokenUserDefined = 4
	tokenUnused      = 5
	tokenByte        = 6
)

// The split expressions transformers puts in front of the byte-level
// pre-tokenizer for a tokenizer.ggml.pre (its GGUF_PRE_TOKENIZER_SPLITS);
// any other pre leaves GPT-2's plain byte-level pre-tokenizer.
const (
	splitLlama3 = `(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`
	splitQwen2  = `(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`
	splitTekken = `[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+|[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+`
	splitGPT4o  = `[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?|[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+`
)

var preSplits = map[string]string{
	"llama3": splitLlama3, "llama-v3": splitLlama3, "llama-bpe": splitLlama3, "falcon3": splitLlama3,
	"falcon-h1": splitLlama3, "pixtral": splitLlama3, "midm-2.0": splitLlama3, "lfm2": splitLlama3,
	"jina-v5-nano": splitLlama3, "dbrx": splitLlama3, "smaug-bpe": splitLlama3,
	"tekken": splitTekken,
	"qwen2":  splitQwen2, "deepseek-r1-qwen": splitQwen2, "kormo": splitQwen2, "f2llmv2": splitQwen2, "megrez": splitQwen2,
	"gpt-4o": splitGPT4o, "llama4": splitGPT4o, "kanana2": splitGPT4o, "talkie": splitGPT4o, "minimax-m2": splitGPT4o,
}

// byteToUnicode is GPT-2's byte alphabet: printable Latin-1 bytes stand for
// themselves, the others for U+0100 onwards.
var byteToUnicode = func() [256]rune {
	var t [256]rune
	n := 0
	for b := 0; b < 256; b++ {
		if ('!' <= b && b <= '~') || (0xA1 <= b && b <= 0xAC) || (0xAE <= b && b <= 0xFF) {
			t[b] = rune(b)
		} else {
			t[b] = rune(256 + n)
			n++
		}
	}
	return t
}()

var byteAlphabet = func() map[rune]bool {
	m := make(map[rune]bool, 256)
	for _, r := range byteToUnicode {
		m[r] = true
	}
	return m
}()

// HFTokenizer is the tokenizer a GGUF file describes, as transformers
// builds it: the tokenizer.json document (the `tokenizers` library's
// serialisation) and the tokenizer_config.json fields.
type HFTokenizer struct {
	// JSON is the tokenizer.json document.
	JSON []byte
	// Config holds bos_token, eos_token, unk_token, pad_token (a string or
	// nil), add_bos_token, add_eos_token and, when the file has one,
	// chat_template.
	Config map[string]any
}

type addedToken struct {
	ID         int64  `json:"id"`
	Content    string `json:"content"`
	SingleWord bool   `json:"single_word"`
	Lstrip     bool   `json:"lstrip"`
	Rstrip     bool   `json:"rstrip"`
	Normalized bool   `json:"normalized"`
	Special    bool   `json:"special"`
}

// orderedVocab marshals token → id ordered by id, as tokenizers writes it.
type orderedVocab struct {
	tokens []string
	ids    map[string]int64
}

func (v orderedVocab) MarshalJSON() ([]byte, error) {
	order := make([]string, 0, len(v.ids))
	for tok := range v.ids {
		order = append(order, tok)
	}
	sort.Slice(order, func(i, j int) bool { return v.ids[order[i]] < v.ids[order[j]] })
	var b bytes.Buffer
	b.WriteByte('{')
	for i, tok := range order {
		if i > 0 {
			b.WriteByte(',')
		}
		k, err := json.Marshal(tok)
		if err != nil {
			return nil, err
		}
		b.Write(k)
		fmt.Fprintf(&b, ":%d", v.ids[tok])
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

// tokenizerMeta is the tokenizer.* metadata.
type tokenizerMeta struct {
	model, pre string
	tokens     []string
	types      []int64
	scores     []float64
	merges     []string
	hasMerges  bool
	ids        map[string]int64 // bos, eos, unk, pad → id, when present
	addBOS     *bool
	addEOS     *bool
	template   *string
}

func (f *File) tokenizerMeta() (*tokenizerMeta, error) {
	m := &tokenizerMeta{ids: map[string]int64{}}
	str := func(key string) (string, bool, error) {
		v, ok := f.Get(key)
		if !ok {
			return "", false, nil
		}
		s, ok := v.String()
		if !ok {
			return "", false, fmt.Errorf("gguf: %s: metadata %q is a %s, want STRING", f.name(), key, v.typeName())
		}
		return s, true, nil
	}
	var err error
	var ok bool
	if m.model, ok, err = str("tokenizer.ggml.model"); err != nil {
		return nil, err
	} else if !ok {
		return nil, fmt.Errorf("gguf: %s: no tokenizer.ggml.model in the metadata (the file has no tokenizer)", f.name())
	}
	if m.pre, _, err = str("tokenizer.ggml.pre"); err != nil {
		return nil, err
	}
	v, ok := f.Get("tokenizer.ggml.tokens")
	if m.tokens, _ = v.Strings(); !ok || m.tokens == nil {
		return nil, fmt.Errorf("gguf: %s: tokenizer.ggml.tokens is missing or not an array of strings", f.name())
	}
	if v, ok := f.Get("tokenizer.ggml.token_type"); ok {
		if m.types, ok = v.Ints(); !ok || len(m.types) != len(m.tokens) {
			return nil, fmt.Errorf("gguf: %s: tokenizer.ggml.token_type must be %d integers", f.name(), len(m.tokens))
		}
	}
	if v, ok := f.Get("tokenizer.ggml.scores"); ok {
		if m.scores, ok = v.Floats(); !ok || len(m.scores) != len(m.tokens) {
			return nil, fmt.Errorf("gguf: %s: tokenizer.ggml.scores must be %d floats", f.name(), len(m.tokens))
		}
	}
	if v, ok := f.Get("tokenizer.ggml.merges"); ok {
		if m.merges, ok = v.Strings(); !ok {
			return nil, fmt.Errorf("gguf: %s: tokenizer.ggml.merges is a %s, want an array of strings", f.name(), v.typeName())
		}
		m.hasMerges = true
	}
	for name, key := range map[string]string{"bos": "bos_token_id", "eos": "eos_token_id", "unk": "unknown_token_id", "pad": "padding_token_id"} {
		v, ok := f.Get("tokenizer.ggml." + key)
		if !ok {
			continue
		}
		id, ok := v.Int()
		if !ok || id < 0 || id >= int64(len(m.tokens)) {
			return nil, fmt.Errorf("gguf: %s: tokenizer.ggml.%s is not a token id below %d", f.name(), key, len(m.tokens))
		}
		m.ids[name] = id
	}
	for key, dst := range map[string]**bool{"tokenizer.ggml.add_bos_token": &m.addBOS, "tokenizer.ggml.add_eos_token": &m.addEOS} {
		if v, ok := f.Get(key); ok {
			b, ok := v.Bool()
			if !ok {
				return nil, fmt.Errorf("gguf: %s: metadata %q is a %s, want BOOL", f.name(), key, v.typeName())
			}
			*dst = &b
		}
	}
	if s, ok, err := str("tokenizer.chat_template"); err != nil {
		return nil, err
	} else if ok {
		m.template = &s
	}
	return m, nil
}

// HFTokenizer builds the tokenizer the file's tokenizer.* metadata
// describes the way transformers' AutoTokenizer.from_pretrained(dir,
// gguf_file=...) does: for tokenizer.ggml.model "gpt2" a byte-level BPE
// (GPT-2's pre-tokenizer, or the split expression of the file's
// tokenizer.ggml.pre in front of it), for "llama" a SentencePiece-style BPE
// with byte fallback (merges from the file, or derived from the scores when
// it has none); control tokens become special added tokens, user-defined
// ones plain added tokens, and BOS/EOS are added by the post-processor as
// add_bos_token/add_eos_token say (llama defaults to adding BOS).
func (f *File) HFTokenizer() (*HFTokenizer, error) {
	m, err := f.tokenizerMeta()
	if err != nil {
		return nil, err
	}
	var doc map[string]any
	switch m.model {
	case "gpt2":
		doc, err = m.byteLevel()
	case "llama":
		doc, err = m.sentencePiece()
	default:
		return nil, fmt.Errorf("%w: %s: tokenizer.ggml.model %q (gpt2 and llama are supported)", ErrUnsupported, f.name(), m.model)
	}
	if err != nil {
		return nil, fmt.Errorf("gguf: %s: tokenizer: %w", f.name(), err)
	}
	b, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("gguf: %s: tokenizer: %w", f.name(), err)
	}
	cfg := map[string]any{}
	for _, name := range []string{"bos", "eos", "unk", "pad"} {
		if id, ok := m.ids[name]; ok {
			cfg[name+"_token"] = m.tokens[id]
		} else {
			cfg[name+"_token"] = nil
		}
	}
	cfg["add_bos_token"] = m.addBOSValue()
	cfg["add_eos_token"] = m.addEOS != nil && *m.addEOS
	if m.template != nil {
		cfg["chat_template"] = *m.template
	}
	return &HFTokenizer{JSON: append(b, '\n'), Config: cfg}, nil
}

// addBOSValue is add_bos_token: the file's flag, else true for
// SentencePiece vocabularies (llama.cpp adds BOS to those) and false
// otherwise.
func (m *tokenizerMeta) addBOSValue() bool {
	if m.addBOS != nil {
		return *m.addBOS
	}
	return m.model == "llama"
}

// added collects added tokens by content, keeping the first id given.
type added struct {
	list  []addedToken
	index map[string]int
	vocab map[string]int64
}

func (a *added) add(content string, special bool) {
	if i, ok := a.index[content]; ok {
		if special {
			a.list[i].Special = true
		}
		return
	}
	id, ok := a.vocab[content]
	if !ok {
		id = int64(len(a.vocab)) + int64(countNew(a.list, a.vocab))
	}
	a.index[content] = len(a.list)
	a.list = append(a.list, addedToken{ID: id, Content: content, Special: special})
}

func countNew(list []addedToken, vocab map[string]int64) int {
	n := 0
	for _, t := range list {
		if _, ok := vocab[t.Content]; !ok {
			n++
		}
	}
	return n
}

func (a *added) sorted() []addedToken {
	out := append([]addedToken(nil), a.list...)
	sort.SliceStable(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// addGGUFTokens adds the defaults of the tokenizer class, then the control
// and user-defined tokens, then the file's special tokens, in the order
// transformers adds them.
func (m *tokenizerMeta) addGGUFTokens(a *added, defaults []string, byteLevel bool) {
	for _, d := range defaults {
		a.add(d, true)
	}
	for i, tok := range m.tokens {
		if i < len(m.types) && m.types[i] == tokenControl && (!byteLevel || inByteAlphabet(tok)) {
			a.add(tok, true)
		}
	}
	for i, tok := range m.tokens {
		if i < len(m.types) && m.types[i] == tokenUserDefined {
			if _, ok := a.vocab[tok]; ok {
				a.add(tok, false)
			}
		}
	}
	for _, name := range []string{"bos", "eos", "unk", "pad"} {
		if id, ok := m.ids[name]; ok {
			a.add(m.tokens[id], true)
		}
	}
}

func inByteAlphabet(s string) bool {
	for _, r := range s {
		if !byteAlphabet[r] {
			return false
		}
	}
	return true
}

// postProcessor is the TemplateProcessing transformers sets from
// add_bos_token and add_eos_token.
func (m *tokenizerMeta) postProcessor() map[string]any {
	addBOS, addEOS := m.addBOSValue(), m.addEOS != nil && *m.addEOS
	special := map[string]any{}
	tok := func(name string, typeID int) (map[string]any, bool) {
		id, ok := m.ids[name]
		if !ok {
			return nil, false
		}
		s := m.tokens[id]
		special[s] = map[string]any{"id": s, "ids": []int64{id}, "tokens": []string{s}}
		return map[string]any{"SpecialToken": map[string]any{"id": s, "type_id": typeID}}, true
	}
	seq := func(id string, typeID int) map[string]any {
		return map[string]any{"Sequence": map[string]any{"id": id, "type_id": typeID}}
	}
	part := func(id string, typeID int) []any {
		var out []any
		if addBOS {
			if t, ok := tok("bos", typeID); ok {
				out = append(out, t)
			}
		}
		out = append(out, seq(id, typeID))
		if addEOS {
			if t, ok := tok("eos", typeID); ok {
				out = append(out, t)
			}
		}
		return out
	}
	single := part("A", 0)
	pair := append(part("A", 0), part("B", 1)...)
	return map[string]any{"type": "TemplateProcessing", "single": single, "pair": pair, "special_tokens": special}
}

func (m *tokenizerMeta) splitMerges() ([][2]string, error) {
	out := make([][2]string, len(m.merges))
	for i, s := range m.merges {
		parts := strings.Split(s, " ")
		if len(parts) != 2 {
			return nil, fmt.Errorf("merge %d (%q) is not two tokens separated by one space", i, s)
		}
		out[i] = [2]string{parts[0], parts[1]}
	}
	return out, nil
}

// byteLevel builds GPT-2-style byte-level BPE (transformers'
// byte_level_tokenizer): tokens outside the byte alphabet are respelled
// from their UTF-8 bytes.
func (m *tokenizerMeta) byteLevel() (map[string]any, error) {
	vocab := make(map[string]int64, len(m.tokens))
	for i, tok := range m.tokens {
		if !inByteAlphabet(tok) {
			var sb strings.Builder
			for _, b := range []byte(tok) {
				sb.WriteRune(byteToUnicode[b])
			}
			tok = sb.String()
		}
		vocab[tok] = int64(i)
	}
	merges, err := m.splitMerges()
	if err != nil {
		return nil, err
	}
	a := &added{index: map[string]int{}, vocab: vocab}
	m.addGGUFTokens(a, []string{"<|endoftext|>"}, true)
	pre := map[string]any{"type": "ByteLevel", "add_prefix_space": false, "trim_offsets": true, "use_regex": true}
	if split, ok := preSplits[m.pre]; ok {
		pre = map[string]any{"type": "Sequence", "pretokenizers": []any{
			map[string]any{"type": "Split", "pattern": map[string]any{"Regex": split}, "behavior": "Isolated", "invert": false},
			map[string]any{"type": "ByteLevel", "add_prefix_space": false, "trim_offsets": true, "use_regex": false},
		}}
	}
	return map[string]any{
		"version": "1.0", "truncation": nil, "padding": nil,
		"added_tokens":   a.sorted(),
		"normalizer":     nil,
		"pre_tokenizer":  pre,
		"post_processor": m.postProcessor(),
		"decoder":        map[string]any{"type": "ByteLevel", "add_prefix_space": true, "trim_offsets": true, "use_regex": true},
		"model": map[string]any{
			"type": "BPE", "dropout": nil, "unk_token": nil, "continuing_subword_prefix": "", "end_of_word_suffix": "",
			"fuse_unk": false, "byte_fallback": false, "ignore_merges": false,
			"vocab": orderedVocab{ids: vocab}, "merges": merges,
		},
	}, nil
}

// sentencePiece builds the SentencePiece-style BPE transformers'
// LlamaTokenizer makes (Metaspace pre-tokenizer prepending "▁" to the
// first word, byte fallback, the ▁ → space decoder).
func (m *tokenizerMeta) sentencePiece() (map[string]any, error) {
	vocab := make(map[string]int64, len(m.tokens))
	for i, tok := range m.tokens {
		vocab[tok] = int64(i)
	}
	var merges [][2]string
	var err error
	if m.hasMerges {
		if merges, err = m.splitMerges(); err != nil {
			return nil, err
		}
	} else {
		if m.scores == nil {
			return nil, fmt.Errorf("a SentencePiece vocabulary without merges needs tokenizer.ggml.scores to derive them")
		}
		merges = deriveMerges(m.tokens, m.scores, vocab)
	}
	a := &added{index: map[string]int{}, vocab: vocab}
	m.addGGUFTokens(a, []string{"<s>", "</s>", "<unk>"}, false)
	return map[string]any{
		"version": "1.0", "truncation": nil, "padding": nil,
		"added_tokens":   a.sorted(),
		"normalizer":     nil,
		"pre_tokenizer":  map[string]any{"type": "Metaspace", "replacement": "▁", "prepend_scheme": "first", "split": false},
		"post_processor": m.postProcessor(),
		"decoder": map[string]any{"type": "Sequence", "decoders": []any{
			map[string]any{"type": "Replace", "pattern": map[string]any{"String": "▁"}, "content": " "},
			map[string]any{"type": "ByteFallback"},
			map[string]any{"type": "Fuse"},
			map[string]any{"type": "Strip", "content": " ", "start": 1, "stop": 0},
		}},
		"model": map[string]any{
			"type": "BPE", "dropout": nil, "unk_token": nil, "continuing_subword_prefix": nil, "end_of_word_suffix": nil,
			"fuse_unk": true, "byte_fallback": true, "ignore_merges": false,
			"vocab": orderedVocab{ids: vocab}, "merges": merges,
		},
	}, nil
}

// deriveMerges recovers BPE merges from a vocabulary and its scores the
// way transformers' generate_merges does: every split of a token into two
// tokens of the vocabulary is a merge, ordered within a token by the ids of
// its halves, then overall by score, then the lengths (in characters) of
// the halves, highest first, ties keeping their order.
func deriveMerges(tokens []string, scores []float64, vocab map[string]int64) [][2]string {
	type merge struct {
		l, r       string
		score      float64
		lenL, lenR int
	}
	// dict(zip(tokens, scores)): first position, last score.
	order := make([]string, 0, len(tokens))
	score := make(map[string]float64, len(tokens))
	for i, tok := range tokens {
		if _, seen := score[tok]; !seen {
			order = append(order, tok)
		}
		score[tok] = scores[i]
	}
	var all []merge
	for _, tok := range order {
		var local []merge
		for i := range tok {
			if i == 0 {
				continue
			}
			l, r := tok[:i], tok[i:]
			if _, ok := vocab[l]; !ok {
				continue
			}
			if _, ok := vocab[r]; !ok {
				continue
			}
			local = append(local, merge{l, r, score[tok], utf8.RuneCountInString(l), utf8.RuneCountInString(r)})
		}
		sort.SliceStable(local, func(i, j int) bool {
			if vocab[local[i].l] != vocab[local[j].l] {
				return vocab[local[i].l] < vocab[local[j].l]
			}
			return vocab[local[i].r] < vocab[local[j].r]
		})
		all = append(all, local...)
	}
	sort.SliceStable(all, func(i, j int) bool {
		a, b := all[i], all[j]
		if a.score != b.score {
			return a.score > b.score
		}
		if a.lenL != b.lenL {
			return a.lenL > b.lenL
		}
		return a.lenR > b.lenR
	})
	out := make([][2]string, len(all))
	for i, m := range all {
		out[i] = [2]string{m.l, m.r}
	}
	return out
}

// ConfigJSON returns Config as a tokenizer_config.json document (with
// "tokenizer_class": "TokenizersBackend", as transformers 5 saves a
// tokenizer built from a GGUF).
func (t *HFTokenizer) ConfigJSON() ([]byte, error) {
	cfg := map[string]any{"tokenizer_class": "TokenizersBackend"}
	for k, v := range t.Config {
		cfg[k] = v
	}
	b, err := json.MarshalIndent(cfg, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("gguf: tokenizer config: %w", err)
	}
	return append(b, '\n'), nil
}
