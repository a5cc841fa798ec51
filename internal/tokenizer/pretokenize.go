package tokenizer

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Character classes of the GPT-2 split pattern.
const (
	clsOther  = iota // [^\s\p{L}\p{N}]
	clsLetter        // \p{L}
	clsNumber        // \p{N}
	clsSpace         // \s (Unicode White_Space)
)

var asciiClass [utf8.RuneSelf]uint8

func init() {
	for r := rune(0); r < utf8.RuneSelf; r++ {
		asciiClass[r] = classOfSlow(r)
	}
}

func classOfSlow(r rune) uint8 {
	switch {
	case unicode.IsSpace(r): // \t \n \v \f \r space U+0085 U+00A0 and White_Space
		return clsSpace
	case unicode.IsLetter(r):
		return clsLetter
	case unicode.IsNumber(r):
		return clsNumber
	default:
		return clsOther
	}
}

// classAt returns the class of the rune at s[i:] and its byte length.
func classAt(s string, i int) (uint8, int) {
	if c := s[i]; c < utf8.RuneSelf {
		return asciiClass[c], 1
	}
	r, n := utf8.DecodeRuneInString(s[i:])
	return classOfSlow(r), n
}

// splitWords calls emit for each word of s under the byte-level split pattern
//
//	's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
//
// with the pattern's leftmost-first alternation and backtracking semantics.
// Go's regexp has no look-ahead, so this is a hand-written scanner; every
// position of s belongs to exactly one word.
func splitWords(s string, emit func(word string)) {
	for i := 0; i < len(s); {
		j := matchWord(s, i)
		emit(s[i:j])
		i = j
	}
}

// matchWord returns the end of the word that starts at s[i:].
func matchWord(s string, i int) int {
	c0 := s[i]
	// 's|'t|'re|'ve|'m|'ll|'d
	if c0 == '\'' && i+1 < len(s) {
		switch s[i+1] {
		case 's', 't', 'm', 'd':
			return i + 2
		case 'r', 'v':
			if i+2 < len(s) && s[i+2] == 'e' {
				return i + 3
			}
		case 'l':
			if i+2 < len(s) && s[i+2] == 'l' {
				return i + 3
			}
		}
	}
	cls, n := classAt(s, i)
	start := i // where the ` ?X+` run itself starts
	if c0 == ' ' && i+1 < len(s) {
		// ` ?\p{L}+`, ` ?\p{N}+`, ` ?[^\s\p{L}\p{N}]+` with the optional space
		if next, _ := classAt(s, i+1); next != clsSpace {
			cls, start = next, i+1
			n = 0
		}
	}
	if cls != clsSpace {
		j := start + n
		if n == 0 {
			_, m := classAt(s, start)
			j = start + m
		}
		for j < len(s) {
			c, m := classAt(s, j)
			if c != cls {
				break
			}
			j += m
		}
		return j
	}
	// \s+(?!\S) then \s+: take the whole whitespace run; if a non-space
	// follows and the run has more than one character, give the last one back.
	j, last := i, i
	for j < len(s) {
		c, m := classAt(s, j)
		if c != clsSpace {
			break
		}
		last = j
		j += m
	}
	if j < len(s) && last > i {
		return last
	}
	return j
}

// preStep is one pre-tokenizer of tokenizer.json (a Sequence is a list of
// them): it splits a piece into the pieces it appends to dst.
type preStep interface {
	preTokenize(dst []nstr, n nstr) []nstr
}

// byteLevelPre is ByteLevel: an optional prefix space, the GPT-2 split
// pattern (use_regex) and the byte-to-character mapping. The mapping is not
// applied to the text: the BPE model then works on raw bytes (each byte is
// one character of the byte-level alphabet, aligned like the character it
// comes from, as in Hugging Face).
type byteLevelPre struct{ addPrefixSpace, useRegex bool }

func (p byteLevelPre) preTokenize(dst []nstr, n nstr) []nstr {
	if p.addPrefixSpace && !strings.HasPrefix(n.s, " ") {
		n.prepend(" ")
	}
	if !p.useRegex {
		if n.s != "" {
			dst = append(dst, n)
		}
		return dst
	}
	for i := 0; i < len(n.s); {
		j := matchWord(n.s, i)
		dst = append(dst, n.slice(i, j))
		i = j
	}
	return dst
}

// splitPre is Split: pieces by a pattern with a delimiter behaviour.
type splitPre struct {
	pat    pattern
	b      behavior
	invert bool
}

func (p splitPre) preTokenize(dst []nstr, n nstr) []nstr {
	evs := events(n.s, p.pat.find(n.s, nil), nil)
	if p.invert {
		for i := range evs {
			evs[i].match = !evs[i].match
		}
	}
	return splitBy(dst, &n, evs, p.b)
}

// metaspacePre is Metaspace: spaces become the replacement character, which
// is prepended by prepend_scheme ("first": only to the piece that starts the
// original text), and with split the text is cut before each replacement.
type metaspacePre struct {
	repl   string
	scheme string // always, first, never
	split  bool
}

func (p metaspacePre) preTokenize(dst []nstr, n nstr) []nstr {
	var m [][2]int
	for i := 0; i < len(n.s); i++ {
		if n.s[i] == ' ' {
			m = append(m, [2]int{i, i + 1})
		}
	}
	n.replaceMatches(m, p.repl)
	if !strings.HasPrefix(n.s, p.repl) && (p.scheme == "always" || (p.scheme == "first" && n.orig == 0)) {
		n.prepend(p.repl)
	}
	if !p.split {
		if n.s != "" {
			dst = append(dst, n)
		}
		return dst
	}
	evs := events(n.s, pattern{literal: p.repl}.find(n.s, nil), nil)
	return splitBy(dst, &n, evs, bMergedWithNext)
}

// charSplitPre splits on characters of a class: Digits (numbers) and
// Punctuation.
type charSplitPre struct {
	pred func(rune) bool
	b    behavior
}

func (p charSplitPre) preTokenize(dst []nstr, n nstr) []nstr {
	return splitBy(dst, &n, charEvents(n.s, p.pred, nil), p.b)
}

// isPunctuation is Hugging Face's is_punc: ASCII punctuation or a Unicode
// punctuation character.
func isPunctuation(r rune) bool {
	if r < utf8.RuneSelf {
		return (r >= '!' && r <= '/') || (r >= ':' && r <= '@') || (r >= '[' && r <= '`') || (r >= '{' && r <= '~')
	}
	return unicode.IsPunct(r)
}

// whitespacePre is Whitespace (the pattern \w+|[^\w\s]+, the rest removed)
// or WhitespaceSplit (pieces between whitespace).
type whitespacePre struct{ splitOnly bool }

// isWordChar is \w of Hugging Face's regex engine: letters, marks, decimal
// digits and connector punctuation.
func isWordChar(r rune) bool {
	return unicode.IsLetter(r) || unicode.IsMark(r) || unicode.Is(unicode.Nd, r) || unicode.Is(unicode.Pc, r)
}

func (p whitespacePre) preTokenize(dst []nstr, n nstr) []nstr {
	s := n.s
	kind := func(r rune) int {
		switch {
		case unicode.IsSpace(r):
			return 0
		case p.splitOnly || isWordChar(r):
			return 1
		default:
			return 2
		}
	}
	start, cur := -1, 0
	for i, r := range s {
		k := kind(r)
		if start >= 0 && k != cur {
			dst = append(dst, n.slice(start, i))
			start = -1
		}
		if k != 0 && start < 0 {
			start, cur = i, k
		}
	}
	if start >= 0 {
		dst = append(dst, n.slice(start, len(s)))
	}
	return dst
}

// parsePreTokenizer reads tokenizer.json's "pre_tokenizer" into steps.
func parsePreTokenizer(c *componentJSON, path string) ([]preStep, error) {
	if c == nil {
		return nil, nil
	}
	switch c.Type {
	case "ByteLevel":
		return []preStep{byteLevelPre{addPrefixSpace: boolOr(c.AddPrefixSpace, true), useRegex: boolOr(c.UseRegex, true)}}, nil
	case "Split":
		p, err := parsePattern(c.Pattern, path+".pattern")
		if err != nil {
			return nil, err
		}
		b, err := parseBehavior(c.Behavior, path)
		if err != nil {
			return nil, err
		}
		return []preStep{splitPre{pat: p, b: b, invert: boolOr(c.Invert, false)}}, nil
	case "Metaspace":
		repl := "▁"
		if c.Replacement != nil {
			repl = *c.Replacement
		}
		if utf8.RuneCountInString(repl) != 1 {
			return nil, fmt.Errorf("%s: Metaspace replacement %q must be one character", path, repl)
		}
		scheme := "always"
		if c.PrependScheme != nil {
			scheme = *c.PrependScheme
		} else if c.AddPrefixSpace != nil && !*c.AddPrefixSpace {
			scheme = "never"
		}
		if scheme != "always" && scheme != "first" && scheme != "never" {
			return nil, fmt.Errorf("%s: Metaspace prepend_scheme %q (want always, first or never)", path, scheme)
		}
		return []preStep{metaspacePre{repl: repl, scheme: scheme, split: boolOr(c.Split, true)}}, nil
	case "Digits":
		b := bContiguous
		if boolOr(c.IndividualDigits, false) {
			b = bIsolated
		}
		return []preStep{charSplitPre{pred: unicode.IsNumber, b: b}}, nil
	case "Punctuation":
		b, err := parseBehavior(c.Behavior, path)
		if err != nil {
			return nil, err
		}
		return []preStep{charSplitPre{pred: isPunctuation, b: b}}, nil
	case "Whitespace":
		return []preStep{whitespacePre{}}, nil
	case "WhitespaceSplit":
		return []preStep{whitespacePre{splitOnly: true}}, nil
	case "Sequence":
		return parseSequence(path, "pretokenizers", c.Pretokenizers, parsePreTokenizer)
	default:
		return nil, unsupported(path, c.Type)
	}
}

// parseBehavior reads a Split or Punctuation "behavior" (default Isolated).
func parseBehavior(s *string, path string) (behavior, error) {
	if s == nil {
		return bIsolated, nil
	}
	b, ok := behaviors[*s]
	if !ok {
		return 0, fmt.Errorf("%s: unknown behavior %q", path, *s)
	}
	return b, nil
}

// The split patterns of Qwen2 (one digit per piece) and Llama 3 (up to three)
// tokenizer files. matchQwen implements them by hand: it is several times
// faster than the regex engine and follows Oniguruma's case folding in
// (?i:'s|...), where ſ (U+017F) matches s.
const (
	qwenPattern   = `(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`
	llama3Pattern = `(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`
	gpt2Pattern   = `'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+`
)

// foldIs reports whether the character at s[i:] case-folds to the ASCII
// letter c (lower case), and its length.
func foldIs(s string, i int, c byte) (bool, int) {
	if i >= len(s) {
		return false, 0
	}
	b := s[i]
	if b|0x20 == c && b < utf8.RuneSelf {
		return true, 1
	}
	if c == 's' && strings.HasPrefix(s[i:], "ſ") {
		return true, len("ſ")
	}
	return false, 0
}

// matchContraction matches (?i:'s|'t|'re|'ve|'m|'ll|'d) at s[i:] and
// returns its end, or -1.
func matchContraction(s string, i int) int {
	if s[i] != '\'' {
		return -1
	}
	j := i + 1
	for _, alt := range []string{"s", "t", "re", "ve", "m", "ll", "d"} {
		k, ok := j, true
		for a := 0; a < len(alt); a++ {
			m, n := foldIs(s, k, alt[a])
			if !m {
				ok = false
				break
			}
			k += n
		}
		if ok {
			return k
		}
	}
	return -1
}

func isCRLF(s string, i int) bool { return s[i] == '\r' || s[i] == '\n' }

// matchQwen returns the end of the piece that starts at s[i:] under
// qwenPattern (maxDigits 1) or llama3Pattern (maxDigits 3), with the
// regex's leftmost-first alternation and backtracking.
func matchQwen(s string, i, maxDigits int) int {
	if j := matchContraction(s, i); j >= 0 {
		return j
	}
	cls, n := classAt(s, i)
	// [^\r\n\p{L}\p{N}]?\p{L}+
	if cls == clsLetter || ((cls == clsOther || cls == clsSpace) && !isCRLF(s, i) && i+n < len(s)) {
		j := i
		if cls != clsLetter {
			j = i + n
		}
		if c, _ := classAt(s, j); j < len(s) && c == clsLetter {
			for j < len(s) {
				c, m := classAt(s, j)
				if c != clsLetter {
					break
				}
				j += m
			}
			return j
		}
	}
	// \p{N}{1,maxDigits}
	if cls == clsNumber {
		j := i
		for d := 0; d < maxDigits && j < len(s); d++ {
			c, m := classAt(s, j)
			if c != clsNumber {
				break
			}
			j += m
		}
		return j
	}
	// ` ?[^\s\p{L}\p{N}]+[\r\n]*`
	start := -1
	if cls == clsOther {
		start = i
	} else if s[i] == ' ' && i+1 < len(s) {
		if c, _ := classAt(s, i+1); c == clsOther {
			start = i + 1
		}
	}
	if start >= 0 {
		j := start
		for j < len(s) {
			c, m := classAt(s, j)
			if c != clsOther {
				break
			}
			j += m
		}
		for j < len(s) && isCRLF(s, j) {
			j++
		}
		return j
	}
	// Whitespace: the run [i, end), its last \r or \n and its last character.
	end, lastNL, lastStart := i, -1, i
	for end < len(s) {
		c, m := classAt(s, end)
		if c != clsSpace {
			break
		}
		if isCRLF(s, end) {
			lastNL = end
		}
		lastStart = end
		end += m
	}
	// \s*[\r\n]+ : the greedy \s* backs off to the last line break of the run.
	if lastNL >= 0 {
		return lastNL + 1
	}
	// \s+(?!\S), then \s+
	if end < len(s) && lastStart > i {
		return lastStart
	}
	return end
}
