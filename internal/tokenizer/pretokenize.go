package tokenizer

import (
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
