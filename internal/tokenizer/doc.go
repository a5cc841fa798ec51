// Package tokenizer reads Hugging Face tokenizer.json files of the GPT-2 /
// GPT-NeoX family (byte-level BPE) and encodes and decodes text exactly as
// Hugging Face's tokenizers library does, id for id.
//
// It is the tokenizer of the Pythia models (the GPT-NeoX-20B tokenizer). The
// pipeline of a tokenizer.json is run in Hugging Face's order:
//
//  1. added tokens whose "normalized" flag is false (such as <|endoftext|>)
//     are split out of the raw text, leftmost-longest;
//  2. the rest is normalized (NFC, NFD, NFKC, NFKD or a Sequence of them);
//  3. added tokens whose "normalized" flag is true (such as GPT-NeoX's runs
//     of 2–24 spaces) are split out of the normalized text;
//  4. the ByteLevel pre-tokenizer splits the rest into words with the GPT-2
//     pattern, whitespace rules included, and maps bytes to characters;
//  5. the BPE model merges each word by merge rank, leftmost first on ties.
//
// Decoding maps ids back through the ByteLevel decoder (added tokens whose
// text has characters outside the byte alphabet, like the space runs, decode
// to their text) and turns invalid UTF-8 into U+FFFD the way Rust's
// String::from_utf8_lossy does. Encode never adds special tokens (GPT-NeoX
// behaviour), but special tokens written in the text are matched.
//
// # Sources
//
// From github.com/sugarme/tokenizer v0.3.0 we use the parts that are right:
// the JSON type of an added-token entry (tokenizer.TokenConfig) and the GPT-2
// byte-to-character table (pretokenizer.BytesChar). Everything else is ours,
// because sugarme's versions disagree with Hugging Face (see
// the project's shared DESIGN.md §4): it drops added tokens, skips the NFC
// normalizer, lacks the `\s+(?!\S)|\s+` rules of the split pattern (Go's
// regexp has no look-ahead, so we scan runes by hand), merges runs of one
// repeated symbol differently from Hugging Face's rank/position priority queue,
// decodes the space-run tokens to NUL bytes, and decodes the whole model into
// map[string]interface{} (slow for a 50k vocabulary, and it rejects the newer
// array form of "merges"). Our own code: the tokenizer.json and
// tokenizer_config.json readers, the added-token matcher, normalization (via
// golang.org/x/text/unicode/norm), the pre-tokenizer scanner, BPE with a
// merge-pair map and a per-word cache, the decoder, lossy UTF-8, truncation
// and padding.
//
// # Supported components
//
// Model BPE (without dropout, byte_fallback, continuing_subword_prefix or
// end_of_word_suffix; ignore_merges and unk_token are honoured); normalizer
// null, NFC, NFD, NFKC, NFKD or a Sequence of these; pre-tokenizer ByteLevel;
// decoder ByteLevel or null; post-processor ByteLevel, TemplateProcessing, a
// Sequence of these, or null (Encode never adds special tokens, so the
// post-processor does not change its result). Any other component is an
// error naming it. The "truncation" and "padding" sections of tokenizer.json
// are ignored, as transformers ignores them; use Truncate and Pad.
//
// Character classes (\s, \p{L}, \p{N}) and NFC come from Go's Unicode 15.0
// tables; Hugging Face's may follow a slightly different Unicode version, which
// only matters for characters assigned in between.
package tokenizer
