package tokenizer

import (
	"slices"
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
