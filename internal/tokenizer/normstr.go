package tokenizer

import (
	"strings"
	"unicode/utf8"
)

// span is a byte range [start, end) of the original text.
type span struct{ start, end int }

// nstr is a piece of text on its way through the pipeline, like Hugging
// Face's NormalizedString: the current (normalized) text and, for each of its
// bytes, the byte range of the original text it came from. Offsets of tokens
// are read through align; Metaspace's prepend_scheme "first" asks where the
// piece began in the original text (orig).
type nstr struct {
	s     string
	align []span // len(s) entries
	orig  int    // original offset of the piece (Hugging Face's original_shift)
}

// newNstr is text s found at original offset off, not yet changed.
func newNstr(s string, off int) nstr {
	a := make([]span, len(s))
	for i := 0; i < len(s); {
		_, n := utf8.DecodeRuneInString(s[i:])
		for k := 0; k < n; k++ {
			a[i+k] = span{off + i, off + i + n}
		}
		i += n
	}
	return nstr{s: s, align: a, orig: off}
}

// slice is the sub-piece of bytes [i, j) of the normalized text.
func (n *nstr) slice(i, j int) nstr {
	out := nstr{s: n.s[i:j], align: n.align[i:j], orig: n.orig}
	if j > i {
		out.orig = n.align[i].start
	}
	return out
}

// offsets maps a byte range of the normalized text to the original text.
func (n *nstr) offsets(i, j int) [2]int {
	if i >= j {
		if i < len(n.align) {
			return [2]int{n.align[i].start, n.align[i].start}
		}
		return [2]int{n.orig, n.orig}
	}
	return [2]int{n.align[i].start, n.align[j-1].end}
}

// change is one character of a transformation, as in Hugging Face's
// NormalizedString::transform: delta 0 replaces the next character of the
// old text, delta > 0 inserts a character (aligned with the character before
// it), delta < 0 replaces the next character and removes -delta more.
type change struct {
	r     rune
	delta int
}

// transformRange replaces the bytes [i, j) of the text with chars, skipping
// the first `removed` characters of the old range first (they are deleted).
// The alignment rules are Hugging Face's transform_range.
func (n *nstr) transformRange(i, j int, chars []change, removed int) {
	old := n.s[i:j]
	pos := i // byte offset in the old text of the next character to replace
	for k := 0; k < removed && pos < j; k++ {
		_, w := utf8.DecodeRuneInString(n.s[pos:])
		pos += w
	}
	var sb strings.Builder
	sb.Grow(len(old) + 8)
	al := make([]span, 0, len(old)+8)
	for _, c := range chars {
		var a span
		if c.delta > 0 {
			if pos < 1 {
				a = span{n.orig, n.orig}
			} else {
				a = n.align[pos-1]
			}
		} else {
			if pos < len(n.align) {
				a = n.align[pos]
			} else if pos > 0 {
				a = n.align[pos-1]
			}
			if pos < j {
				_, w := utf8.DecodeRuneInString(n.s[pos:])
				pos += w
			}
			for k := 0; k < -c.delta && pos < j; k++ {
				_, w := utf8.DecodeRuneInString(n.s[pos:])
				pos += w
			}
		}
		w := utf8.RuneLen(c.r)
		if w < 0 {
			c.r, w = utf8.RuneError, 3
		}
		sb.WriteRune(c.r)
		for k := 0; k < w; k++ {
			al = append(al, a)
		}
	}
	ns := n.s[:i] + sb.String() + n.s[j:]
	na := make([]span, 0, len(ns))
	na = append(na, n.align[:i]...)
	na = append(na, al...)
	na = append(na, n.align[j:]...)
	n.s, n.align = ns, na
}

// prepend puts s before the text (Hugging Face's NormalizedString::prepend:
// the new characters share the alignment of the first character). An empty
// text stays empty.
func (n *nstr) prepend(s string) {
	if n.s == "" || s == "" {
		return
	}
	first, w := utf8.DecodeRuneInString(n.s)
	var chars []change
	k := 0
	for _, r := range s {
		chars = append(chars, change{r, min(k, 1)})
		k++
	}
	chars = append(chars, change{first, 1})
	n.transformRange(0, w, chars, 0)
}

// replaceMatches replaces each match [start, end) with content, aligning the
// new characters with the last byte of the match (Hugging Face's
// NormalizedString::replace).
func (n *nstr) replaceMatches(matches [][2]int, content string) {
	if len(matches) == 0 {
		return
	}
	var sb strings.Builder
	al := make([]span, 0, len(n.align))
	last := 0
	for _, m := range matches {
		sb.WriteString(n.s[last:m[0]])
		al = append(al, n.align[last:m[0]]...)
		var a span
		if m[1] >= 1 {
			a = n.align[m[1]-1]
		} else {
			a = span{n.orig, n.orig}
		}
		sb.WriteString(content)
		for k := 0; k < len(content); k++ {
			al = append(al, a)
		}
		last = m[1]
	}
	sb.WriteString(n.s[last:])
	al = append(al, n.align[last:]...)
	n.s, n.align = sb.String(), al
}

// mapChars applies a per-character mapping that may turn one character into
// several (the first replaces it, the others are inserted), as Hugging Face's
// lowercase does.
func (n *nstr) mapChars(f func(r rune, dst []rune) []rune) {
	var chars []change
	var buf []rune
	same := true
	for _, r := range n.s {
		buf = f(r, buf[:0])
		if len(buf) != 1 || buf[0] != r {
			same = false
		}
		for k, o := range buf {
			chars = append(chars, change{o, min(k, 1)})
		}
		if len(buf) == 0 { // removal: not produced by the mappings we use
			chars = append(chars, change{r, 0})
		}
	}
	if same {
		return
	}
	n.transformRange(0, len(n.s), chars, 0)
}
