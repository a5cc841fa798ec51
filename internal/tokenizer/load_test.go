package tokenizer

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// tokenizerJSON returns the project tokenizer.json as a generic map.
func tokenizerJSON(t *testing.T) map[string]any {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(testTokenizerDir(t), "tokenizer.json"))
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

// writeDir writes a model directory with tokenizer.json m and the given extra files.
func writeDir(t *testing.T, m map[string]any, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "tokenizer.json"), b, 0o644); err != nil {
		t.Fatal(err)
	}
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestUnsupportedComponents(t *testing.T) {
	cases := []struct {
		name string
		edit func(m map[string]any)
		want string
	}{
		{"wordpiece model", func(m map[string]any) { m["model"].(map[string]any)["type"] = "WordPiece" }, `model type "WordPiece" is not supported`},
		{"unigram model", func(m map[string]any) { m["model"] = map[string]any{"type": "Unigram", "vocab": []any{}} }, `model type "Unigram"`},
		{"unigram normalizer", func(m map[string]any) { m["normalizer"] = map[string]any{"type": "Precompiled"} }, `normalizer type "Precompiled"`},
		{"sequence with bert normalizer", func(m map[string]any) {
			m["normalizer"] = map[string]any{"type": "Sequence", "normalizers": []any{
				map[string]any{"type": "NFC"}, map[string]any{"type": "BertNormalizer"}}}
		}, `normalizer.normalizers[1] type "BertNormalizer"`},
		{"bert pre-tokenizer", func(m map[string]any) { m["pre_tokenizer"] = map[string]any{"type": "BertPreTokenizer"} }, `pre_tokenizer type "BertPreTokenizer"`},
		{"byte-level not last", func(m map[string]any) {
			m["pre_tokenizer"] = map[string]any{"type": "Sequence", "pretokenizers": []any{
				map[string]any{"type": "ByteLevel", "add_prefix_space": false, "trim_offsets": true, "use_regex": true},
				map[string]any{"type": "Digits", "individual_digits": true}}}
		}, "ByteLevel must be the last pre-tokenizer"},
		{"bad regex", func(m map[string]any) {
			m["pre_tokenizer"] = map[string]any{"type": "Split", "pattern": map[string]any{"Regex": "(ab"}, "behavior": "Isolated", "invert": false}
		}, `pre_tokenizer.pattern: regex "(ab"`},
		{"unknown split behavior", func(m map[string]any) {
			m["pre_tokenizer"] = map[string]any{"type": "Split", "pattern": map[string]any{"String": "a"}, "behavior": "Sideways", "invert": false}
		}, `unknown behavior "Sideways"`},
		{"template with unknown special", func(m map[string]any) {
			m["post_processor"] = map[string]any{"type": "TemplateProcessing",
				"single":         []any{map[string]any{"SpecialToken": map[string]any{"id": "<s>", "type_id": 0}}, map[string]any{"Sequence": map[string]any{"id": "A", "type_id": 0}}},
				"special_tokens": map[string]any{}}
		}, `special token "<s>" is not in special_tokens`},
		{"template id out of range", func(m map[string]any) {
			m["post_processor"] = map[string]any{"type": "TemplateProcessing",
				"single":         []any{map[string]any{"SpecialToken": map[string]any{"id": "<s>", "type_id": 0}}, map[string]any{"Sequence": map[string]any{"id": "A", "type_id": 0}}},
				"special_tokens": map[string]any{"<s>": map[string]any{"id": "<s>", "ids": []any{1 << 40}, "tokens": []any{"<s>"}}}}
		}, `id 1099511627776 is not a token`},
		{"wordpiece decoder", func(m map[string]any) { m["decoder"] = map[string]any{"type": "WordPiece"} }, `decoder type "WordPiece"`},
		{"bert post-processor", func(m map[string]any) { m["post_processor"] = map[string]any{"type": "BertProcessing"} }, `post_processor type "BertProcessing"`},
		{"dropout", func(m map[string]any) { m["model"].(map[string]any)["dropout"] = 0.1 }, "dropout"},
		{"unk token not in vocab", func(m map[string]any) { m["model"].(map[string]any)["unk_token"] = "<nope>" }, `unk_token "<nope>" is not in the vocabulary`},
		{"subword prefix", func(m map[string]any) { m["model"].(map[string]any)["continuing_subword_prefix"] = "##" }, "continuing_subword_prefix"},
		{"merge of unknown token", func(m map[string]any) {
			mm := m["model"].(map[string]any)
			mm["merges"] = append(mm["merges"].([]any), "zzz qqq")
		}, `token "zzz" is not in the vocabulary`},
		{"bad merge string", func(m map[string]any) {
			mm := m["model"].(map[string]any)
			mm["merges"] = []any{"a b c"}
		}, `merges[0] = "a b c"`},
		{"component without type", func(m map[string]any) { m["decoder"] = map[string]any{} }, `decoder: missing "type"`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			m := tokenizerJSON(t)
			c.edit(m)
			dir := writeDir(t, m, nil)
			_, err := LoadFile(filepath.Join(dir, "tokenizer.json"))
			if err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), dir) {
				t.Fatalf("error = %v, want one naming %q and the file", err, c.want)
			}
		})
	}
}

func TestLoadErrors(t *testing.T) {
	if _, err := Load(t.TempDir()); err == nil || !strings.Contains(err.Error(), "tokenizer.json") {
		t.Errorf("missing tokenizer.json: %v", err)
	}
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "tokenizer.json"), []byte(`{"model": `), 0o644)
	if _, err := Load(dir); err == nil || !strings.Contains(err.Error(), "parse JSON") {
		t.Errorf("bad JSON: %v", err)
	}
	m := tokenizerJSON(t)
	bad := writeDir(t, m, map[string]string{"tokenizer_config.json": `{"padding_side": "middle"}`})
	if _, err := Load(bad); err == nil || !strings.Contains(err.Error(), "tokenizer_config.json") || !strings.Contains(err.Error(), "padding_side") {
		t.Errorf("bad padding_side: %v", err)
	}
	bad = writeDir(t, m, map[string]string{"special_tokens_map.json": `{"pad_token": "<pad>"}`})
	if _, err := Load(bad); err == nil || !strings.Contains(err.Error(), `"<pad>" is not in the vocabulary`) {
		t.Errorf("unknown pad token: %v", err)
	}
	bad = writeDir(t, m, map[string]string{"special_tokens_map.json": `{"eos_token": 7}`})
	if _, err := Load(bad); err == nil || !strings.Contains(err.Error(), "special_tokens_map.json") || !strings.Contains(err.Error(), "eos_token") {
		t.Errorf("bad eos_token: %v", err)
	}
}

// TestMergesArrayForm: newer tokenizers write merges as [a, b] pairs.
func TestMergesArrayForm(t *testing.T) {
	m := tokenizerJSON(t)
	mm := m["model"].(map[string]any)
	var pairs []any
	for _, s := range mm["merges"].([]any) {
		a, b, _ := strings.Cut(s.(string), " ")
		pairs = append(pairs, []any{a, b})
	}
	mm["merges"] = pairs
	dir := writeDir(t, m, nil)
	tok, err := LoadFile(filepath.Join(dir, "tokenizer.json"))
	if err != nil {
		t.Fatal(err)
	}
	checkGoldens(t, tok, readGoldens(t))
}

// TestModelConfig: tokenizer_config.json and special_tokens_map.json settings.
func TestModelConfig(t *testing.T) {
	m := tokenizerJSON(t)
	dir := writeDir(t, m, map[string]string{
		"tokenizer_config.json": `{"pad_token": "<|padding|>", "padding_side": "left", "truncation_side": "left",
			"clean_up_tokenization_spaces": false, "model_max_length": 2048, "eos_token": "<|padding|>"}`,
		// special_tokens_map wins over tokenizer_config, as in transformers.
		"special_tokens_map.json": `{"eos_token": {"content": "<|endoftext|>", "lstrip": false}, "additional_special_tokens": ["Ġthe"]}`,
	})
	tok, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	if pad, ok := tok.PadID(); !ok || pad != 1 {
		t.Errorf("PadID = %d, %v; want 1", pad, ok)
	}
	if tok.EOSID() != 0 || tok.BOSID() != 0 {
		t.Errorf("EOSID, BOSID = %d, %d; want 0, 0", tok.EOSID(), tok.BOSID())
	}
	if tok.PaddingSide() != Left || tok.TruncationSide() != Left || tok.ModelMaxLength() != 2048 || tok.CleanUpTokenizationSpaces() {
		t.Errorf("sides %v %v, max %d, cleanup %v", tok.PaddingSide(), tok.TruncationSide(), tok.ModelMaxLength(), tok.CleanUpTokenizationSpaces())
	}
	if got := tok.DecodeTransformers(tok.Encode("a ."), true); got != "a ." {
		t.Errorf("DecodeTransformers without clean-up = %q", got)
	}
	// A vocabulary entry named as a special token becomes a special added
	// token: matched in the raw text and skipped on decode.
	the, ok := tok.TokenToID("Ġthe")
	if !ok || !tok.IsSpecial(the) {
		t.Fatalf("Ġthe: id %d, special %v", the, tok.IsSpecial(the))
	}
	plain, err := LoadFile(filepath.Join(dir, "tokenizer.json"))
	if err != nil {
		t.Fatal(err)
	}
	if plain.IsSpecial(the) {
		t.Errorf("LoadFile: Ġthe is special")
	}
	if _, ok := plain.PadID(); ok {
		t.Errorf("LoadFile: has a pad token")
	}
	if got := tok.Decode([]int{the, 0}, true); got != "" {
		t.Errorf("Decode(skip) = %q, want empty", got)
	}
}

func TestTruncatePad(t *testing.T) {
	ids := []int{1, 2, 3, 4, 5}
	if got := Truncate(ids, 3, Right); !slices.Equal(got, []int{1, 2, 3}) {
		t.Errorf("Right: %v", got)
	}
	if got := Truncate(ids, 3, Left); !slices.Equal(got, []int{3, 4, 5}) {
		t.Errorf("Left: %v", got)
	}
	if got := Truncate(ids, 9, Left); !slices.Equal(got, ids) {
		t.Errorf("no-op: %v", got)
	}
	if got := Truncate(ids, -1, Left); len(got) != 0 {
		t.Errorf("negative: %v", got)
	}
	batch := [][]int{{7, 8, 9}, {5}, {}}
	p, mask := Pad(batch, Right, 0)
	if want := [][]int{{7, 8, 9}, {5, 0, 0}, {0, 0, 0}}; !slices.EqualFunc(p, want, slices.Equal) {
		t.Errorf("Pad Right ids %v", p)
	}
	if want := [][]int{{1, 1, 1}, {1, 0, 0}, {0, 0, 0}}; !slices.EqualFunc(mask, want, slices.Equal) {
		t.Errorf("Pad Right mask %v", mask)
	}
	p, mask = Pad(batch, Left, 1)
	if want := [][]int{{7, 8, 9}, {1, 1, 5}, {1, 1, 1}}; !slices.EqualFunc(p, want, slices.Equal) {
		t.Errorf("Pad Left ids %v", p)
	}
	if want := [][]int{{1, 1, 1}, {0, 0, 1}, {0, 0, 0}}; !slices.EqualFunc(mask, want, slices.Equal) {
		t.Errorf("Pad Left mask %v", mask)
	}
	p, _ = PadTo([][]int{{4}}, 3, Right, 9)
	if !slices.Equal(p[0], []int{4, 9, 9}) {
		t.Errorf("PadTo %v", p)
	}
	batch[1][0] = 42
	if p, _ := Pad(batch, Right, 0); p[1][0] != 42 || &p[1][0] == &batch[1][0] {
		t.Errorf("Pad must copy")
	}
}

// TestEncodeBatch: order preserved, same ids as Encode.
func TestEncodeBatch(t *testing.T) {
	tok, err := Load(testTokenizerDir(t))
	if err != nil {
		t.Fatal(err)
	}
	var texts []string
	for _, r := range readGoldens(t) {
		if r.Text != nil {
			texts = append(texts, *r.Text)
		}
	}
	texts = append(texts, texts...)
	got := tok.EncodeBatch(texts)
	if len(got) != len(texts) {
		t.Fatalf("%d results for %d texts", len(got), len(texts))
	}
	for i, s := range texts {
		if want := tok.Encode(s); !slices.Equal(got[i], want) {
			t.Fatalf("text %d: batch %v, single %v", i, got[i], want)
		}
	}
	if got := tok.EncodeBatch(nil); len(got) != 0 {
		t.Errorf("EncodeBatch(nil) = %v", got)
	}
}

func TestToValidUTF8(t *testing.T) {
	cases := map[string]string{
		"ok":               "ok",
		"\xff":             "\uFFFD",
		"a\xe2\x82b":       "a\uFFFDb",
		"\xed\xa0\x80":     "\uFFFD\uFFFD\uFFFD",
		"\xf0\x9f\x98":     "\uFFFD",
		"\xc0\xaf":         "\uFFFD\uFFFD",
		"\xf4\x90\x80\x80": "\uFFFD\uFFFD\uFFFD\uFFFD",
		"\uFFFD\xe6\x97":   "\uFFFD\uFFFD",
		"\xe0\xa0":         "\uFFFD",
		"\xe0\x80":         "\uFFFD\uFFFD",
	}
	for in, want := range cases {
		if got := toValidUTF8(in); got != want {
			t.Errorf("toValidUTF8(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestHugeIDs: ids in tokenizer.json are bounded by the number of entries, so
// a corrupt id is an error naming the token instead of a huge allocation or
// a panic.
func TestHugeIDs(t *testing.T) {
	cases := []struct {
		name string
		edit func(m map[string]any)
		want string
	}{
		{"vocab id 2e9", func(m map[string]any) {
			m["model"].(map[string]any)["vocab"].(map[string]any)["zebra"] = 2000000000
		}, `model.vocab: token "zebra" has id 2000000000`},
		{"negative vocab id", func(m map[string]any) {
			m["model"].(map[string]any)["vocab"].(map[string]any)["zebra"] = -3
		}, `token "zebra" has id -3`},
		{"added id 2^29", func(m map[string]any) {
			m["added_tokens"] = append(m["added_tokens"].([]any), map[string]any{
				"id": 1 << 29, "content": "<|huge|>", "special": true, "normalized": false,
				"single_word": false, "lstrip": false, "rstrip": false})
		}, `"<|huge|>": id 536870912 outside`},
		{"vocab id past the entries", func(m map[string]any) {
			v := m["model"].(map[string]any)["vocab"].(map[string]any)
			v["zebra"] = len(v) + len(m["added_tokens"].([]any)) + 1
		}, `token "zebra" has id`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			m := tokenizerJSON(t)
			c.edit(m)
			b, err := json.Marshal(m)
			if err != nil {
				t.Fatal(err)
			}
			_, err = FromJSON(b, nil)
			if err == nil || !strings.Contains(err.Error(), c.want) || !errors.Is(err, ErrBadTokenizer) {
				t.Fatalf("error = %v, want ErrBadTokenizer naming %q", err, c.want)
			}
		})
	}
}
