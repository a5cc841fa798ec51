package tokenizer

// EOSID returns the id of the end-of-sequence token (GPT-NeoX: 0,
// <|endoftext|>), or -1 when the tokenizer has none.
func (t *Tokenizer) EOSID() int { return t.eos }

// BOSID returns the id of the beginning-of-sequence token (GPT-NeoX: 0, the
// same <|endoftext|>), or -1 when the tokenizer has none.
func (t *Tokenizer) BOSID() int { return t.bos }

// UnkID returns the id of the unknown token transformers reports (GPT-NeoX:
// <|endoftext|>), or -1 when there is none. Byte-level BPE never produces it.
func (t *Tokenizer) UnkID() int { return t.unk }

// PadID returns the pad token's id when the model's config names one. Pythia's
// does not; training code then pads with EOSID.
func (t *Tokenizer) PadID() (int, bool) { return t.pad, t.hasPad }

// VocabSize returns the number of distinct tokens, added tokens included
// (len(tokenizer) in transformers; 50,277 for Pythia, whose model embedding is
// padded to 50,304 rows).
func (t *Tokenizer) VocabSize() int { return t.size }

// IDToToken returns the token an id stands for, as written in tokenizer.json
// (byte-level form for vocabulary entries, e.g. "Ġthe"; the content for added
// tokens).
func (t *Tokenizer) IDToToken(id int) (string, bool) {
	e, ok := t.entry(id)
	if !ok {
		return "", false
	}
	return e.token, true
}

// TokenToID returns the id of a token string (added tokens first, then the
// vocabulary, as Hugging Face's token_to_id).
func (t *Tokenizer) TokenToID(tok string) (int, bool) {
	if id, ok := t.added[tok]; ok {
		return id, true
	}
	id, ok := t.vocab[tok]
	return id, ok
}

// IsSpecial reports whether id is a special token (skipped by Decode with
// skipSpecialTokens).
func (t *Tokenizer) IsSpecial(id int) bool {
	e, ok := t.entry(id)
	return ok && e.special
}

// CleanUpTokenizationSpaces reports the model's clean_up_tokenization_spaces
// setting, which DecodeTransformers applies (true unless tokenizer_config.json
// sets it false).
func (t *Tokenizer) CleanUpTokenizationSpaces() bool { return t.cleanUp }

// PaddingSide returns the padding side of tokenizer_config.json (Right by default).
func (t *Tokenizer) PaddingSide() Side { return t.padSide }

// TruncationSide returns the truncation side of tokenizer_config.json (Right
// by default; the course's fine-tuning sets Left explicitly).
func (t *Tokenizer) TruncationSide() Side { return t.truncSide }

// ModelMaxLength returns tokenizer_config.json's model_max_length, or 0 when
// it is absent or effectively unlimited.
func (t *Tokenizer) ModelMaxLength() int { return t.maxLen }

// ConfigAddsBOS reports tokenizer_config.json's add_bos_token and
// add_eos_token (set reports whether the config has each). transformers 5
// ignores both when tokenizer.json exists, and so does
// EncodeWithSpecialTokens; they matter to code that builds a tokenizer.json
// (for example from GGUF metadata) and must put the BOS/EOS into its
// post-processor.
func (t *Tokenizer) ConfigAddsBOS() (addBOS, addEOS, bosSet, eosSet bool) {
	if t.addBOS != nil {
		addBOS, bosSet = *t.addBOS, true
	}
	if t.addEOS != nil {
		addEOS, eosSet = *t.addEOS, true
	}
	return
}
