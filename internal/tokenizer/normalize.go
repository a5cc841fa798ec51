package tokenizer

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// normForm is one Unicode normalization form applied by the normalizer.
type normForm = norm.Form

var normForms = map[string]normForm{
	"NFC":  norm.NFC,
	"NFD":  norm.NFD,
	"NFKC": norm.NFKC,
	"NFKD": norm.NFKD,
}

// normalizer is one step of tokenizer.json's "normalizer".
type normalizer interface {
	normalize(n *nstr)
}

// unicodeNorm is NFC, NFD, NFKC or NFKD.
type unicodeNorm struct{ form norm.Form }

// lowercaseNorm is Lowercase (Rust's char::to_lowercase on each character).
type lowercaseNorm struct{}

// replaceNorm is Replace: every match of the pattern becomes content.
type replaceNorm struct {
	pat     pattern
	content string
}

// prependNorm is Prepend: the text, when not empty, gets prefix in front.
type prependNorm struct{ prefix string }

// stripNorm is Strip: leading and/or trailing whitespace is removed.
type stripNorm struct{ left, right bool }

// normalize applies the tokenizer's normalizer to s when it is made of
// Unicode forms only (the fast path). Already-normalized input (the common
// case) is returned without copying.
func (t *Tokenizer) normalize(s string) string {
	if !t.formsOnly {
		n := newNstr(s, 0)
		t.normalizeN(&n)
		return n.s
	}
	for _, f := range t.forms {
		if !f.IsNormalString(s) {
			s = f.String(s)
		}
	}
	return s
}

// normalizeN applies every normalizer step to n.
func (t *Tokenizer) normalizeN(n *nstr) {
	for _, st := range t.normalizers {
		st.normalize(n)
	}
}

func (u unicodeNorm) normalize(n *nstr) {
	f := u.form
	if f.IsNormalString(n.s) {
		return
	}
	// Normalize segment by segment (between normalization boundaries) and
	// align the characters of each changed segment position by position, as
	// the unicode-normalization-alignments crate behind Hugging Face's
	// normalizers does: extra output characters are insertions, missing ones
	// are removals by the last output character.
	s := n.s
	chars := make([]change, 0, len(s))
	for i := 0; i < len(s); {
		j := i + f.NextBoundaryInString(s[i:], true)
		if j <= i || j > len(s) {
			j = len(s)
		}
		seg := s[i:j]
		out := seg
		if !f.IsNormalString(seg) {
			out = f.String(seg)
		}
		in := []rune(seg)
		o := []rune(out)
		for k, r := range o {
			d := 0
			if k >= len(in) {
				d = 1
			} else if k == len(o)-1 && len(in) > len(o) {
				d = len(o) - len(in)
			}
			chars = append(chars, change{r, d})
		}
		i = j
	}
	n.transformRange(0, len(n.s), chars, 0)
}

func (lowercaseNorm) normalize(n *nstr) {
	n.mapChars(func(r rune, dst []rune) []rune {
		if r == 'İ' { // the one unconditional multi-character lowercase mapping
			return append(dst, 'i', '\u0307')
		}
		return append(dst, unicode.ToLower(r))
	})
}

func (p replaceNorm) normalize(n *nstr) {
	n.replaceMatches(p.pat.find(n.s, nil), p.content)
}

func (p prependNorm) normalize(n *nstr) { n.prepend(p.prefix) }

func (p stripNorm) normalize(n *nstr) {
	start, end := 0, len(n.s)
	if p.left {
		start = spaceRightmostAtStart(n.s)
	}
	if p.right && start < end {
		end = start + spaceLeftmostAtEnd(n.s[start:])
	}
	if start == 0 && end == len(n.s) {
		return
	}
	// Hugging Face removes the characters through transform, which keeps the
	// alignments of the characters that stay.
	n.s, n.align = n.s[start:end], n.align[start:end]
}

// parseNormalizer reads tokenizer.json's "normalizer" into steps.
func parseNormalizer(c *componentJSON, path string) ([]normalizer, error) {
	if c == nil {
		return nil, nil
	}
	switch c.Type {
	case "NFC", "NFD", "NFKC", "NFKD":
		return []normalizer{unicodeNorm{normForms[c.Type]}}, nil
	case "Lowercase":
		return []normalizer{lowercaseNorm{}}, nil
	case "Replace":
		p, err := parsePattern(c.Pattern, path+".pattern")
		if err != nil {
			return nil, err
		}
		if c.Content == nil {
			return nil, fmt.Errorf("%s: Replace needs \"content\"", path)
		}
		return []normalizer{replaceNorm{p, *c.Content}}, nil
	case "Prepend":
		if c.Prepend == nil {
			return nil, fmt.Errorf("%s: Prepend needs \"prepend\"", path)
		}
		return []normalizer{prependNorm{*c.Prepend}}, nil
	case "Strip":
		return []normalizer{stripNorm{left: boolOr(c.StripLeft, true), right: boolOr(c.StripRight, true)}}, nil
	case "Sequence":
		return parseSequence(path, "normalizers", c.Normalizers, parseNormalizer)
	default:
		return nil, unsupported(path, c.Type)
	}
}

// normalizeContent is the normalized form of an added token's content.
func (t *Tokenizer) normalizeContent(s string) string { return t.normalize(s) }

// isRuneStart reports whether i is the start of a character of s.
func isRuneStart(s string, i int) bool { return i == len(s) || utf8.RuneStart(s[i]) }

var _ = strings.Builder{}
