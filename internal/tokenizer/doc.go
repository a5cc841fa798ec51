// Package tokenizer reads Hugging Face tokenizer.json files of BPE models and
// encodes and decodes text exactly as Hugging Face's tokenizers library
// (0.23) does, id for id and offset for offset: GPT-2 / GPT-NeoX (Pythia),
// Qwen2 / Qwen2.5 / Qwen3, Llama 3, SmolLM, and SentencePiece-style
// byte-fallback tokenizers (Llama 2, Mistral v0.1, TinyLlama).
//
// The pipeline of a tokenizer.json runs in Hugging Face's order:
//
//  1. added tokens whose "normalized" flag is false (such as <|endoftext|>)
//     are split out of the raw text, leftmost-longest (honouring
//     single_word, lstrip and rstrip);
//  2. the rest is normalized;
//  3. added tokens whose "normalized" flag is true (such as GPT-NeoX's runs
//     of 2–24 spaces) are split out of the normalized text;
//  4. the pre-tokenizer splits the rest into words;
//  5. the BPE model merges each word by merge rank, leftmost first on ties;
//  6. the post-processor adds special tokens (EncodeWithSpecialTokens only)
//     and trims offsets.
//
// Decoding maps ids to token strings (skipping special tokens on request),
// runs the decoder chain and joins the result.
//
// # API
//
//   - LoadFile(path) and FromJSON(doc, nil) are tokenizers'
//     Tokenizer.from_file / from_str; Load(dir) and FromJSON(doc, config)
//     add transformers' AutoTokenizer reading of tokenizer_config.json
//     (special tokens, sides, model_max_length, clean-up).
//   - Encode: ids without special tokens (encode(text,
//     add_special_tokens=False)); EncodeWithSpecialTokens: encode(text).ids,
//     also what transformers 5's AutoTokenizer gives (it ignores
//     add_bos_token / add_eos_token when a tokenizer.json exists); use it for
//     prompts and training rows. EncodeWithSpecialTokensTruncated cuts the
//     text's ids and keeps the special tokens, as transformers truncates.
//   - EncodeOffsets: Encode's ids and, for each, the byte range of the text
//     it stands for (HF's offsets, which Python gives in characters).
//   - Decode: decode(ids, skip_special_tokens); DecodeTransformers adds
//     transformers' clean_up_tokenization_spaces.
//
// # Supported components
//
// Model: BPE with byte_fallback, ignore_merges, unk_token, fuse_unk, merges
// as "a b" strings or ["a", "b"] pairs (not dropout, and no non-empty
// continuing_subword_prefix or end_of_word_suffix). Normalizers: NFC, NFD,
// NFKC, NFKD, Lowercase, Replace, Prepend, Strip, Sequence. Pre-tokenizers:
// ByteLevel (with and without its regex, add_prefix_space; it must come last),
// Split (String or Regex pattern, every delimiter behaviour, invert),
// Metaspace (prepend_scheme always / first / never, split), Digits,
// Punctuation, Whitespace, WhitespaceSplit, Sequence. Decoders: ByteLevel,
// Metaspace, ByteFallback, Fuse, Strip, Replace, Sequence. Post-processors:
// TemplateProcessing (single sequences), ByteLevel (offset trimming),
// Sequence. Any other component is an error wrapping ErrUnsupported that
// names it; a malformed file is an error wrapping ErrBadTokenizer that names
// the field or token. Ids are bounded by the number of entries in the file,
// so a corrupt id cannot cause a huge allocation. The "truncation" and
// "padding" sections are ignored, as transformers ignores them; use Truncate
// and Pad.
//
// # Regular expressions
//
// Hugging Face compiles Split patterns with Oniguruma. We use
// github.com/dlclark/regexp2, a maintained backtracking engine with
// look-ahead, \p{L}/\p{N} and (?i:...) groups. The split patterns of GPT-2,
// Qwen2 and Llama 3 are matched by hand-written scanners instead, several
// times faster and fuzzed against regexp2; they follow Oniguruma's case
// folding where regexp2 differs (in (?i:'s), ſ matches s).
//
// # Sources
//
// From github.com/sugarme/tokenizer v0.3.0 we use the JSON type of an
// added-token entry (tokenizer.TokenConfig) and the GPT-2 byte-to-character
// table (pretokenizer.BytesChar). Everything else is ours: sugarme's
// pipeline disagrees with Hugging Face (it drops added tokens, skips the NFC
// normalizer, lacks the `\s+(?!\S)` rule, merges runs of one symbol
// differently and decodes the space-run tokens to NUL bytes).
//
// Character classes (\s, \p{L}, \p{N}) and normalization come from Go's
// Unicode tables; Hugging Face's may follow a different Unicode version,
// which only matters for characters assigned in between.
package tokenizer
