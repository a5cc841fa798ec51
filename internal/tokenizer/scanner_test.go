package tokenizer

import (
	"slices"
	"strings"
	"testing"
)

// scannerSeeds are texts for the scanners: every class boundary of the
// split patterns.
var scannerSeeds = []string{
	"", " ", "Hello world", " Hello  world\n\n x", "a\n\nb", "\t\tx", "x\r\n\r\ny", "  \n  x", "\n \n",
	"I'M HERE it's we'LL they'Re 'S 'd'", "'sx 'tx 'rex 'vex 'mx 'llx 'dx 'ſx 'ſ", "1234567 ٣٤٥ ½",
	"?!. ...\n\n,,", " .x", "\t.x", "'hello", "日本語 テスト", "👩‍💻👍🏽", "a\u00a0b\u3000c\u200bd",
	"def f(x):\n    return x ** 2\n", "   ", "x   ", "\r\r\n", "a1b2c3", "'", "''s", " '", "é\u0301",
}

// FuzzScanners: the hand-written matchers of the GPT-2, Qwen2 and Llama 3
// split patterns give the same pieces as the regex engine, except where the
// engine's case-insensitive match differs from Oniguruma's (ſ folds to s in
// Oniguruma only; the goldens check that case against HF).
func FuzzScanners(f *testing.F) {
	for _, s := range scannerSeeds {
		f.Add(s)
	}
	pats := []pattern{}
	for _, expr := range []string{qwenPattern, llama3Pattern, gpt2Pattern} {
		re, err := compileRegex(expr)
		if err != nil {
			f.Fatal(err)
		}
		pats = append(pats, pattern{re: re, scan: knownScanner(expr)})
	}
	f.Fuzz(func(t *testing.T, s string) {
		s = toValidUTF8(s)
		for k, p := range pats {
			got := p.find(s, nil)
			want := p.findRegex(s, nil)
			if k < 2 && strings.Contains(s, "ſ") {
				continue
			}
			if !slices.Equal(got, want) {
				t.Fatalf("pattern %d on %q:\n scanner %v\n regex   %v", k, s, got, want)
			}
		}
	})
}
