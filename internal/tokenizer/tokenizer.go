package tokenizer

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
)

// Tokenizer encodes text to token ids and decodes ids to text. It is safe for
// concurrent use.
type Tokenizer struct {
	normalizer       []normForm
	pre              preTokenizerConfig
	model            *bpe
	byteLevelDecoder bool

	// Added tokens: matched in the raw text (normalized=false) or in the
	// normalized text (normalized=true).
	rawTokens, normTokens   []addedToken
	rawMatcher, normMatcher *matcher

	vocab   map[string]int // model vocabulary (byte-level strings)
	added   map[string]int // added-token content -> id
	entries []tokenEntry   // by id
	size    int            // distinct tokens, added ones included

	eos, bos, unk int // -1 when absent
	pad           int
	hasPad        bool
	cleanUp       bool
	padSide       Side
	truncSide     Side
	maxLen        int
}

// tokenEntry is what an id stands for.
type tokenEntry struct {
	ok      bool
	token   string // as in the vocabulary ("Ġthe") or the added token's content
	bytes   []byte // what the ByteLevel decoder produces for it
	special bool
}

// defaultSpecial is GPT-NeoX's bos, eos and unk token (transformers'
// GPTNeoXTokenizerFast defaults), used when no config names them.
const defaultSpecial = "<|endoftext|>"

// LoadFile reads a Hugging Face tokenizer.json. The special-token ids default
// to GPT-NeoX's: bos, eos and unk are <|endoftext|> when the file has it, and
// there is no pad token.
func LoadFile(path string) (*Tokenizer, error) {
	t, err := loadJSON(path)
	if err != nil {
		return nil, err
	}
	if err := t.applyConfig(&modelConfig{specials: map[string]string{}}); err != nil {
		return nil, fmt.Errorf("load tokenizer %s: %w", path, err)
	}
	return t, nil
}

// Load reads a model directory: tokenizer.json, plus tokenizer_config.json and
// special_tokens_map.json when present (as transformers' AutoTokenizer does:
// bos/eos/unk/pad tokens, additional special tokens, padding and truncation
// sides, model_max_length, clean_up_tokenization_spaces). A special token the
// config names that is a plain vocabulary entry becomes a special added token,
// as transformers makes it.
func Load(dir string) (*Tokenizer, error) {
	path := filepath.Join(dir, "tokenizer.json")
	t, err := loadJSON(path)
	if err != nil {
		return nil, err
	}
	cfg, err := readModelConfig(dir)
	if err != nil {
		return nil, fmt.Errorf("load tokenizer %s: %w", dir, err)
	}
	if err := t.applyConfig(cfg); err != nil {
		return nil, fmt.Errorf("load tokenizer %s: %w", dir, err)
	}
	return t, nil
}

func loadJSON(path string) (*Tokenizer, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("load tokenizer: %w", err)
	}
	t, err := parseTokenizerJSON(b)
	if err != nil {
		return nil, fmt.Errorf("load tokenizer %s: %w", path, err)
	}
	return t, nil
}

// parseTokenizerJSON builds a Tokenizer from the bytes of a tokenizer.json.
func parseTokenizerJSON(b []byte) (*Tokenizer, error) {
	var f fileJSON
	if err := json.Unmarshal(b, &f); err != nil {
		return nil, fmt.Errorf("parse JSON: %w", err)
	}
	t := &Tokenizer{eos: -1, bos: -1, unk: -1, cleanUp: true}
	var err error
	if t.normalizer, err = parseNormalizer(f.Normalizer); err != nil {
		return nil, err
	}
	if t.pre, err = parsePreTokenizer(f.PreTokenizer); err != nil {
		return nil, err
	}
	if t.byteLevelDecoder, err = parseDecoder(f.Decoder); err != nil {
		return nil, err
	}
	if err := checkPostProcessor(f.PostProcessor); err != nil {
		return nil, err
	}
	if isNull(f.Model) {
		return nil, fmt.Errorf("model: missing")
	}
	var typ struct {
		Type string `json:"type"`
	}
	if err := json.Unmarshal(f.Model, &typ); err != nil {
		return nil, fmt.Errorf("model: %w", err)
	}
	if typ.Type != "" && typ.Type != "BPE" {
		return nil, unsupported("model", typ.Type)
	}
	var m modelJSON
	if err := json.Unmarshal(f.Model, &m); err != nil {
		return nil, fmt.Errorf("model: %w", err)
	}
	switch {
	case m.Type == "" && m.Vocab == nil:
		return nil, fmt.Errorf("model: missing \"type\"")
	case m.Dropout != nil && *m.Dropout > 0:
		return nil, fmt.Errorf("model: BPE dropout %v is not supported", *m.Dropout)
	case m.ByteFallback:
		return nil, fmt.Errorf("model: BPE byte_fallback is not supported")
	case m.ContinuingSubwordPrefix != nil && *m.ContinuingSubwordPrefix != "":
		return nil, fmt.Errorf("model: BPE continuing_subword_prefix is not supported")
	case m.EndOfWordSuffix != nil && *m.EndOfWordSuffix != "":
		return nil, fmt.Errorf("model: BPE end_of_word_suffix is not supported")
	}
	merges, err := parseMerges(m.Merges)
	if err != nil {
		return nil, fmt.Errorf("model: %w", err)
	}
	if t.model, err = newBPE(&m, merges); err != nil {
		return nil, fmt.Errorf("model: %w", err)
	}
	t.vocab = m.Vocab
	t.added = map[string]int{}

	maxID := -1
	for _, id := range m.Vocab {
		if id < 0 {
			return nil, fmt.Errorf("model: negative id %d in vocab", id)
		}
		maxID = max(maxID, id)
	}
	var added []addedToken
	for i, a := range f.AddedTokens {
		if a.Id < 0 || a.Id > 1<<30 {
			return nil, fmt.Errorf("added_tokens[%d]: bad id %d", i, a.Id)
		}
		if a.Content == "" {
			return nil, fmt.Errorf("added_tokens[%d] (id %d): empty content", i, a.Id)
		}
		added = append(added, addedToken{
			id: int(a.Id), content: a.Content, special: a.Special, normalized: a.Normalized,
			singleWord: a.SingleWord, lstrip: a.Lstrip, rstrip: a.Rstrip,
		})
		maxID = max(maxID, int(a.Id))
	}
	t.entries = make([]tokenEntry, maxID+1)
	for tok, id := range m.Vocab {
		t.entries[id] = t.modelEntry(tok)
	}
	for _, a := range added {
		t.addToken(a)
	}
	t.rebuildMatchers()
	return t, nil
}

// modelEntry is the entry of a model vocabulary token.
func (t *Tokenizer) modelEntry(tok string) tokenEntry {
	e := tokenEntry{ok: true, token: tok}
	if raw, ok := byteLevelToBytes(tok); ok && t.byteLevelDecoder {
		e.bytes = raw
	} else {
		e.bytes = []byte(tok)
	}
	return e
}

// addToken registers an added token (it overrides a vocabulary entry with the
// same id, as Hugging Face's id_to_token looks at added tokens first).
func (t *Tokenizer) addToken(a addedToken) {
	if a.id >= len(t.entries) {
		t.entries = append(t.entries, make([]tokenEntry, a.id+1-len(t.entries))...)
	}
	e := t.modelEntry(a.content)
	e.special = a.special
	t.entries[a.id] = e
	t.added[a.content] = a.id
	if a.normalized {
		t.normTokens = append(t.normTokens, a)
	} else {
		t.rawTokens = append(t.rawTokens, a)
	}
}

func (t *Tokenizer) rebuildMatchers() {
	raw := make([]string, len(t.rawTokens))
	for i, a := range t.rawTokens {
		raw[i] = a.content
	}
	norm := make([]string, len(t.normTokens))
	for i, a := range t.normTokens {
		norm[i] = t.normalize(a.content) // matched against normalized text
	}
	t.rawMatcher, t.normMatcher = newMatcher(raw), newMatcher(norm)
	seen := make(map[string]bool, len(t.vocab)+len(t.added))
	for tok := range t.vocab {
		seen[tok] = true
	}
	for tok := range t.added {
		seen[tok] = true
	}
	t.size = len(seen)
}

// applyConfig sets the special tokens and transformers options.
func (t *Tokenizer) applyConfig(c *modelConfig) error {
	names := map[string]string{}
	for k, v := range c.specials {
		names[k] = v
	}
	for _, k := range []string{"bos_token", "eos_token", "unk_token"} {
		if _, ok := names[k]; !ok {
			if _, found := t.TokenToID(defaultSpecial); found {
				names[k] = defaultSpecial
			}
		}
	}
	keys := make([]string, 0, len(names))
	for k := range names {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	all := append([]string(nil), c.extra...)
	for _, k := range keys {
		all = append(all, names[k])
	}
	changed := false
	for _, content := range all {
		if _, ok := t.added[content]; ok {
			continue
		}
		id, ok := t.vocab[content]
		if !ok {
			return fmt.Errorf("special token %q is not in the vocabulary", content)
		}
		t.addToken(addedToken{id: id, content: content, special: true})
		changed = true
	}
	if changed {
		t.rebuildMatchers()
	}
	idOf := func(k string) int {
		if s, ok := names[k]; ok {
			id, _ := t.TokenToID(s)
			return id
		}
		return -1
	}
	t.bos, t.eos, t.unk = idOf("bos_token"), idOf("eos_token"), idOf("unk_token")
	if id := idOf("pad_token"); id >= 0 {
		t.pad, t.hasPad = id, true
	}
	if c.cleanUp != nil {
		t.cleanUp = *c.cleanUp
	}
	if c.padSide == "left" {
		t.padSide = Left
	}
	if c.truncSide == "left" {
		t.truncSide = Left
	}
	t.maxLen = c.maxLen
	return nil
}
