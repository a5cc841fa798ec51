package tokenizer

import "strings"

// Decode returns the text of ids as Hugging Face's Tokenizer.decode does:
// the token strings go through the decoder chain of tokenizer.json and are
// joined. With the ByteLevel decoder each token maps back to its bytes (added
// tokens with characters outside the byte alphabet, such as the space runs,
// give their own text), and invalid UTF-8 in the result becomes U+FFFD per
// maximal invalid subsequence. With skipSpecialTokens, special tokens
// (<|endoftext|>, <|padding|>) are left out. Ids that stand for no token are
// skipped, as Hugging Face skips them.
func (t *Tokenizer) Decode(ids []int, skipSpecialTokens bool) string {
	if !t.byteLevelDecoder {
		parts := make([]string, 0, len(ids))
		for _, id := range ids {
			if e, ok := t.entry(id); ok && !(skipSpecialTokens && e.special) {
				parts = append(parts, e.token)
			}
		}
		if !t.hasDecoder {
			// No decoder: Hugging Face joins the token strings with spaces.
			return strings.Join(parts, " ")
		}
		for _, d := range t.decoders {
			parts = d.decodeChain(parts)
		}
		return strings.Join(parts, "")
	}
	buf := make([]byte, 0, len(ids)*4)
	for _, id := range ids {
		if e, ok := t.entry(id); ok && !(skipSpecialTokens && e.special) {
			buf = append(buf, e.bytes...)
		}
	}
	return toValidUTF8(string(buf))
}

// DecodeTransformers decodes as transformers' tokenizer.decode does:
// Decode, then CleanUpTokenizationSpaces when the model's
// clean_up_tokenization_spaces setting is on (transformers 4.44 defaults it to
// true when tokenizer_config.json does not say, as for Pythia).
func (t *Tokenizer) DecodeTransformers(ids []int, skipSpecialTokens bool) string {
	s := t.Decode(ids, skipSpecialTokens)
	if t.cleanUp {
		s = CleanUpTokenizationSpaces(s)
	}
	return s
}

// cleanUpPairs are transformers' clean_up_tokenization replacements,
// which are applied one after another.
var cleanUpPairs = [][2]string{
	{" .", "."}, {" ?", "?"}, {" !", "!"}, {" ,", ","}, {" ' ", "'"},
	{" n't", "n't"}, {" 'm", "'m"}, {" 's", "'s"}, {" 've", "'ve"}, {" 're", "'re"},
}

// CleanUpTokenizationSpaces removes the spaces before punctuation and English
// contractions that transformers' clean_up_tokenization removes (" ." -> ".",
// " n't" -> "n't", ...), each replacement applied in turn over the whole text.
func CleanUpTokenizationSpaces(s string) string {
	for _, p := range cleanUpPairs {
		if strings.Contains(s, p[0]) {
			s = strings.ReplaceAll(s, p[0], p[1])
		}
	}
	return s
}

func (t *Tokenizer) entry(id int) (*tokenEntry, bool) {
	if id < 0 || id >= len(t.entries) || !t.entries[id].ok {
		return nil, false
	}
	return &t.entries[id], true
}
