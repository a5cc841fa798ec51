package tokenizer

import (
	"slices"
	"strings"
	"testing"
)

// TestEncodeWithSpecialTokensTruncated: a prompt cut from the left keeps the
// BOS the post-processor adds (transformers truncates the text's ids and
// then adds the special tokens), on the real Mistral tokenizer.
func TestEncodeWithSpecialTokensTruncated(t *testing.T) {
	tok := familyTokenizers(t)["tokenizers/mistral-v1/tokenizer.json"]
	text := "How do I add data to Lamini? With LoadDataFromJSONLines."
	full := tok.EncodeWithSpecialTokens(text)
	plain := tok.Encode(text)
	if full[0] != 1 || !slices.Equal(full[1:], plain) {
		t.Fatalf("EncodeWithSpecialTokens = %v, want [1] + %v", full, plain)
	}
	if before, after := tok.SpecialTokensAdded(); !slices.Equal(before, []int{1}) || len(after) != 0 {
		t.Fatalf("SpecialTokensAdded = %v, %v", before, after)
	}
	got := tok.EncodeWithSpecialTokensTruncated(text, 5, Left)
	if want := append([]int{1}, plain[len(plain)-4:]...); !slices.Equal(got, want) {
		t.Fatalf("truncated left = %v, want %v", got, want)
	}
	got = tok.EncodeWithSpecialTokensTruncated(text, 5, Right)
	if want := append([]int{1}, plain[:4]...); !slices.Equal(got, want) {
		t.Fatalf("truncated right = %v, want %v", got, want)
	}
	if got := tok.EncodeWithSpecialTokensTruncated(text, 0, Left); len(got) != 0 {
		t.Fatalf("max 0 = %v", got)
	}
	if got := tok.EncodeWithSpecialTokensTruncated(text, 1000, Left); !slices.Equal(got, full) {
		t.Fatalf("no cut = %v", got)
	}
	if got := (SpecialEncoder{tok}).Encode(text); !slices.Equal(got, full) {
		t.Fatalf("SpecialEncoder.Encode = %v", got)
	}
}

// TestConcurrentEncode: the offset pipeline, the regex engine and the word
// cache are safe for concurrent use (run with -race).
func TestConcurrentEncode(t *testing.T) {
	doc := []byte(`{"normalizer": {"type": "Lowercase"},
	  "pre_tokenizer": {"type": "Sequence", "pretokenizers": [
	    {"type": "Split", "pattern": {"Regex": "(?i:[aeiou]+)|\\s+(?!\\S)"}, "behavior": "MergedWithNext", "invert": false},
	    {"type": "ByteLevel", "add_prefix_space": false, "trim_offsets": true, "use_regex": true}]},
	  "model": {"type": "BPE", "vocab": {"a": 0, "b": 1, "e": 2, "Ġ": 3, "ab": 4, "Ġb": 5}, "merges": ["a b", "Ġ b"]}}`)
	tok, err := FromJSON(doc, nil)
	if err != nil {
		t.Fatal(err)
	}
	texts := make([]string, 64)
	for i := range texts {
		texts[i] = strings.Repeat("Ab be ", i%7+1) + "AB"
	}
	want := make([][]int, len(texts))
	for i, s := range texts {
		want[i] = tok.Encode(s)
	}
	for i, got := range tok.EncodeBatch(texts) {
		if !slices.Equal(got, want[i]) {
			t.Fatalf("EncodeBatch[%d] = %v, want %v", i, got, want[i])
		}
	}
	done := make(chan bool)
	for g := 0; g < 4; g++ {
		go func() {
			for i, s := range texts {
				if ids, _ := tok.EncodeOffsets(s); !slices.Equal(ids, want[i]) {
					t.Errorf("EncodeOffsets(%q) = %v, want %v", s, ids, want[i])
				}
			}
			done <- true
		}()
	}
	for g := 0; g < 4; g++ {
		<-done
	}
}
