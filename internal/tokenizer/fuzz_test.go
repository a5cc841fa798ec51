package tokenizer

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// fuzzTokenizers are the project tokenizer and, when the shared data is
// present, the Pythia tokenizer.
func fuzzTokenizers(f *testing.F) []*Tokenizer {
	toks := []*Tokenizer{}
	tok, err := Load(testTokenizerDir(f))
	if err != nil {
		f.Fatal(err)
	}
	toks = append(toks, tok)
	dir := os.Getenv("GOLAMINI_SHARED")
	if dir == "" {
		dir = filepath.Join(repoRoot(f), "..", "shared")
	}
	if p, err := LoadFile(filepath.Join(dir, "data", "pythia-tokenizer.json")); err == nil {
		toks = append(toks, p)
	}
	return toks
}

// hasRawAddedToken reports whether s contains the text of an added token that
// is matched before normalization (<|endoftext|>, <|padding|>).
func (t *Tokenizer) hasRawAddedToken(s string) bool {
	for _, a := range t.rawTokens {
		if strings.Contains(s, a.content) {
			return true
		}
	}
	return false
}

// FuzzEncode: Encode never panics (invalid UTF-8 included), returns only
// known ids, and Decode(Encode(x)) == NFC(x) for valid UTF-8 without
// added-token text (for invalid UTF-8: NFC of the text after the U+FFFD
// replacement Encode applies).
func FuzzEncode(f *testing.F) {
	toks := fuzzTokenizers(f)
	for _, s := range []string{
		"", " ", "Hello, my dog is cute", "a\n\nb", "\t\tx", "  x", strings.Repeat(" ", 30) + "y",
		"cafe\u0301", "\u212b\u2126", "日本語のモデル", "👩‍💻👍🏽", "I'M HERE it's", "?????", "aaaaaaaaaaa",
		"a\u00a0b\u3000c\u200b", "x\r\n\r\ny", "\xff\xfe", "abc\xe2\x82", "\xed\xa0\x80", "<|endoftext|>x",
		"func main() {\n\tfmt.Println(\"hi\")\n}\n", "1,000.5e-3", "'s'll'VE",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		for _, tok := range toks {
			ids := tok.Encode(s)
			for _, id := range ids {
				if _, ok := tok.IDToToken(id); !ok {
					t.Fatalf("Encode(%q) gave unknown id %d", s, id)
				}
			}
			valid := toValidUTF8(s)
			if !utf8.ValidString(valid) {
				t.Fatalf("toValidUTF8(%q) = %q is not valid", s, valid)
			}
			if tok.hasRawAddedToken(valid) {
				continue
			}
			if got, want := tok.Decode(ids, false), norm.NFC.String(valid); got != want {
				t.Fatalf("Decode(Encode(%q)) = %q, want %q (ids %v)", s, got, want, ids)
			}
		}
	})
}

// FuzzDecode: Decode never panics and always returns valid UTF-8, whatever
// the ids.
func FuzzDecode(f *testing.F) {
	toks := fuzzTokenizers(f)
	f.Add([]byte{0, 1, 2, 3}, false)
	f.Add([]byte{0xff, 0x10, 0x80, 0x00}, true)
	f.Fuzz(func(t *testing.T, b []byte, skip bool) {
		for _, tok := range toks {
			ids := make([]int, 0, len(b)/2)
			for i := 0; i+1 < len(b); i += 2 {
				ids = append(ids, (int(b[i])<<8|int(b[i+1]))-100) // some negative, some past the vocabulary
			}
			if s := tok.Decode(ids, skip); !utf8.ValidString(s) {
				t.Fatalf("Decode(%v) = %q is not valid UTF-8", ids, s)
			}
		}
	})
}
