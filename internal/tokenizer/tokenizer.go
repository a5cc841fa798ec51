package tokenizer

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
)

// Tokenizer encodes text to token ids and decodes ids to text. It is safe for
// concurrent use.
type Tokenizer struct {
	normalizers []normalizer
	forms       []normForm // the normalizers, when all are Unicode forms
	formsOnly   bool
	pre         []preStep
	fast        fastKind // how Encode may skip offset tracking
	fastPrefix  bool     // ByteLevel add_prefix_space on the fast path
	fastSplit   pattern  // the Split pattern of fastSplitByteLevel
	fastMeta    metaspacePre
	model       *bpe
	decoders    []decoderStep
	// byteLevelDecoder: the decoder is exactly ByteLevel, decoded from the
	// precomputed bytes of each entry.
	byteLevelDecoder bool
	hasDecoder       bool
	filePost         postProcessor // tokenizer.json's post-processor
	post             postProcessor // the one EncodeWithSpecialTokens applies
	addBOS, addEOS   *bool         // tokenizer_config.json's add_bos_token / add_eos_token, when set

	// Added tokens: matched in the raw text (normalized=false) or in the
	// normalized text (normalized=true).
	rawTokens, normTokens   []addedToken
	rawMatcher, normMatcher *matcher

	vocab   map[string]int // model vocabulary (as written in tokenizer.json)
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

// fastKind names the pipelines Encode runs without tracking offsets.
type fastKind int

const (
	general            fastKind = iota // everything else: the offset-tracking pipeline
	fastByteLevelRegex                 // ByteLevel with its GPT-2 pattern (GPT-2, GPT-NeoX, SmolLM2)
	fastByteLevel                      // ByteLevel without its pattern
	fastSplitByteLevel                 // Split(regex, Isolated) then ByteLevel without pattern (Qwen2, Llama 3)
	fastMetaspace                      // no normalizer, Metaspace (Llama 2, Mistral v0.1): offsets are the text's own
)

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

// ErrUnsupported is returned (wrapped) for a tokenizer.json component this
// package does not implement; the message names it.
var ErrUnsupported = errors.New("unsupported tokenizer component")

// ErrBadTokenizer is returned (wrapped) for a malformed tokenizer.json or
// tokenizer_config.json; the message names the field or token.
var ErrBadTokenizer = errors.New("bad tokenizer file")

// LoadFile reads a Hugging Face tokenizer.json alone, as tokenizers'
// Tokenizer.from_file does: EncodeWithSpecialTokens adds what the file's
// post-processor adds. The special-token ids default to GPT-NeoX's: bos, eos
// and unk are <|endoftext|> when the file has it, and there is no pad token.
func LoadFile(path string) (*Tokenizer, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("load tokenizer: %w", err)
	}
	t, err := FromJSON(b, nil)
	if err != nil {
		return nil, fmt.Errorf("load tokenizer %s: %w", path, err)
	}
	return t, nil
}

// Load reads a model directory: tokenizer.json, plus tokenizer_config.json and
// special_tokens_map.json when present, as transformers' AutoTokenizer does:
// bos/eos/unk/pad tokens, additional (extra) special tokens, padding and
// truncation sides, model_max_length, clean_up_tokenization_spaces.
// EncodeWithSpecialTokens then gives what AutoTokenizer gives: like
// transformers 5, which drops add_bos_token and add_eos_token from the config
// when a tokenizer.json exists, the file's post-processor decides the special
// tokens (ConfigAddsBOS reports the config's flags for callers that want them). A special token the config names that is a
// plain vocabulary entry becomes a special added token, as transformers makes
// it.
func Load(dir string) (*Tokenizer, error) {
	path := filepath.Join(dir, "tokenizer.json")
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("load tokenizer: %w", err)
	}
	t, err := parseTokenizerJSON(b)
	if err != nil {
		return nil, fmt.Errorf("load tokenizer %s: %w", path, err)
	}
	cfg, err := readModelConfig(dir)
	if err != nil {
		return nil, fmt.Errorf("load tokenizer %s: %w: %w", dir, ErrBadTokenizer, err)
	}
	if err := t.applyConfig(cfg); err != nil {
		return nil, fmt.Errorf("load tokenizer %s: %w: %w", dir, ErrBadTokenizer, err)
	}
	return t, nil
}

// FromJSON builds a Tokenizer from the bytes of a tokenizer.json document
// and, optionally, of a tokenizer_config.json document (nil when there is
// none). Without a config it behaves as LoadFile (tokenizers'
// Tokenizer.from_file); with one, as Load (transformers' AutoTokenizer with
// that tokenizer_config.json). It is for tokenizers that are not files, such
// as one built from a GGUF file's metadata.
func FromJSON(tokenizerJSON, tokenizerConfig []byte) (*Tokenizer, error) {
	t, err := parseTokenizerJSON(tokenizerJSON)
	if err != nil {
		return nil, err
	}
	cfg := &modelConfig{specials: map[string]string{}}
	if tokenizerConfig != nil {
		var raw map[string]json.RawMessage
		if err := json.Unmarshal(tokenizerConfig, &raw); err != nil {
			return nil, fmt.Errorf("%w: tokenizer_config.json: %v", ErrBadTokenizer, err)
		}
		if err := cfg.merge(raw); err != nil {
			return nil, fmt.Errorf("%w: tokenizer_config.json: %w", ErrBadTokenizer, err)
		}
	}
	if err := t.applyConfig(cfg); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadTokenizer, err)
	}
	return t, nil
}

// parseTokenizerJSON builds a Tokenizer from the bytes of a tokenizer.json.
func parseTokenizerJSON(b []byte) (*Tokenizer, error) {
	t, err := parseTokenizerJSONInner(b)
	if err != nil && !errors.Is(err, ErrUnsupported) && !errors.Is(err, ErrBadTokenizer) {
		err = fmt.Errorf("%w: %w", ErrBadTokenizer, err)
	}
	return t, err
}

func parseTokenizerJSONInner(b []byte) (*Tokenizer, error) {
	var f fileJSON
	if err := json.Unmarshal(b, &f); err != nil {
		return nil, fmt.Errorf("parse JSON: %w", err)
	}
	t := &Tokenizer{eos: -1, bos: -1, unk: -1, cleanUp: true}
	c, err := parseComponent("normalizer", f.Normalizer)
	if err != nil {
		return nil, err
	}
	if t.normalizers, err = parseNormalizer(c, "normalizer"); err != nil {
		return nil, err
	}
	t.formsOnly = true
	for _, n := range t.normalizers {
		u, ok := n.(unicodeNorm)
		if !ok {
			t.formsOnly = false
			break
		}
		t.forms = append(t.forms, u.form)
	}
	if c, err = parseComponent("pre_tokenizer", f.PreTokenizer); err != nil {
		return nil, err
	}
	if t.pre, err = parsePreTokenizer(c, "pre_tokenizer"); err != nil {
		return nil, err
	}
	byteLevel := false
	for i, st := range t.pre {
		if _, ok := st.(byteLevelPre); ok {
			if i != len(t.pre)-1 {
				return nil, fmt.Errorf("%w: pre_tokenizer: ByteLevel must be the last pre-tokenizer", ErrUnsupported)
			}
			byteLevel = true
		}
	}
	t.chooseFastPath()
	if c, err = parseComponent("decoder", f.Decoder); err != nil {
		return nil, err
	}
	if t.decoders, err = parseDecoder(c, "decoder"); err != nil {
		return nil, err
	}
	t.hasDecoder = c != nil
	if len(t.decoders) == 1 {
		_, t.byteLevelDecoder = t.decoders[0].(byteLevelDec)
	}
	if isNull(f.Model) {
		return nil, fmt.Errorf("model: missing")
	}
	// One pass over the (large) model section; on failure, a model type we
	// do not implement is the better error.
	var m modelJSON
	if err := json.Unmarshal(f.Model, &m); err != nil {
		var typ struct {
			Type string `json:"type"`
		}
		if json.Unmarshal(f.Model, &typ) == nil && typ.Type != "" && typ.Type != "BPE" {
			return nil, unsupported("model", typ.Type)
		}
		return nil, fmt.Errorf("model: %w", err)
	}
	if m.Type != "" && m.Type != "BPE" {
		return nil, unsupported("model", m.Type)
	}
	switch {
	case m.Type == "" && m.Vocab == nil:
		return nil, fmt.Errorf("model: missing \"type\"")
	case m.Dropout != nil && *m.Dropout > 0:
		return nil, fmt.Errorf("%w: model: BPE dropout %v", ErrUnsupported, *m.Dropout)
	case m.ContinuingSubwordPrefix != nil && *m.ContinuingSubwordPrefix != "":
		return nil, fmt.Errorf("%w: model: BPE continuing_subword_prefix %q", ErrUnsupported, *m.ContinuingSubwordPrefix)
	case m.EndOfWordSuffix != nil && *m.EndOfWordSuffix != "":
		return nil, fmt.Errorf("%w: model: BPE end_of_word_suffix %q", ErrUnsupported, *m.EndOfWordSuffix)
	}
	// Ids index tables, so each is bounded by the number of entries: a file
	// cannot make us allocate more than it holds.
	limit := len(m.Vocab) + len(f.AddedTokens)
	maxID := -1
	for tok, id := range m.Vocab {
		if id < 0 || id >= limit {
			return nil, fmt.Errorf("model.vocab: token %q has id %d, outside [0, %d) (the number of vocabulary and added-token entries)", tok, id, limit)
		}
		maxID = max(maxID, id)
	}
	var added []addedToken
	for i, a := range f.AddedTokens {
		if a.Id < 0 || a.Id >= int64(limit) {
			return nil, fmt.Errorf("added_tokens[%d] %q: id %d outside [0, %d) (the number of vocabulary and added-token entries)", i, a.Content, a.Id, limit)
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
	merges, err := parseMerges(m.Merges)
	if err != nil {
		return nil, fmt.Errorf("model: %w", err)
	}
	if t.model, err = newBPE(&m, merges, byteLevel); err != nil {
		return nil, fmt.Errorf("model: %w", err)
	}
	t.vocab = m.Vocab
	t.added = map[string]int{}
	t.entries = make([]tokenEntry, maxID+1)
	for tok, id := range m.Vocab {
		t.entries[id] = t.modelEntry(tok)
	}
	for _, a := range added {
		t.addToken(a)
	}
	t.rebuildMatchers()
	if c, err = parseComponent("post_processor", f.PostProcessor); err != nil {
		return nil, err
	}
	idOK := func(id int) bool { _, ok := t.entry(id); return ok }
	if t.filePost, err = parsePostProcessor(c, "post_processor", idOK); err != nil {
		return nil, err
	}
	t.post = t.filePost
	return t, nil
}

// chooseFastPath picks the pipeline Encode runs when no offsets are asked
// for: the common byte-level shapes need no alignment bookkeeping.
func (t *Tokenizer) chooseFastPath() {
	t.fast = general
	if !t.formsOnly {
		return
	}
	switch len(t.pre) {
	case 1:
		if ms, ok := t.pre[0].(metaspacePre); ok && len(t.normalizers) == 0 {
			t.fast, t.fastMeta = fastMetaspace, ms
		}
		if bl, ok := t.pre[0].(byteLevelPre); ok {
			t.fastPrefix = bl.addPrefixSpace
			t.fast = fastByteLevel
			if bl.useRegex {
				t.fast = fastByteLevelRegex
			}
		}
	case 2:
		sp, ok1 := t.pre[0].(splitPre)
		bl, ok2 := t.pre[1].(byteLevelPre)
		if ok1 && ok2 && sp.b == bIsolated && !sp.invert && !bl.useRegex && !bl.addPrefixSpace {
			t.fast, t.fastSplit = fastSplitByteLevel, sp.pat
		}
	}
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
	// Distinct tokens: the vocabulary plus the added contents it lacks.
	t.size = len(t.vocab)
	for tok := range t.added {
		if _, ok := t.vocab[tok]; !ok {
			t.size++
		}
	}
}

// applyConfig sets the special tokens and transformers options.
func (t *Tokenizer) applyConfig(c *modelConfig) error {
	names := map[string]string{}
	for k, v := range c.specials {
		names[k] = v
	}
	for _, k := range []string{"bos_token", "eos_token", "unk_token"} {
		if _, ok := names[k]; !ok && !c.nulls[k] {
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
	// transformers 5 ignores add_bos_token and add_eos_token when a
	// tokenizer.json exists (its from_pretrained drops them): the file's
	// post-processor decides which special tokens encode adds.
	t.addBOS, t.addEOS = c.addBOS, c.addEOS
	return nil
}
