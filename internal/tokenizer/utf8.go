package tokenizer

import "unicode/utf8"

// toValidUTF8 returns s with every maximal invalid subsequence replaced by one
// U+FFFD, the substitution of maximal subparts that Rust's
// String::from_utf8_lossy and Python's bytes.decode(errors="replace") use.
// (Go's strings.ToValidUTF8 differs: it replaces a whole run of bad bytes with
// one U+FFFD.) Valid input is returned unchanged without copying.
func toValidUTF8(s string) string {
	if utf8.ValidString(s) {
		return s
	}
	out := make([]byte, 0, len(s)+8)
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			out = append(out, c)
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r != utf8.RuneError || size > 1 {
			out = append(out, s[i:i+size]...)
			i += size
			continue
		}
		out = append(out, "\uFFFD"...)
		i += invalidPrefixLen(s[i:])
	}
	return string(out)
}

// invalidPrefixLen returns the length (1 to 3) of the maximal prefix of s that
// could begin a valid UTF-8 sequence but does not complete one; s starts with
// an invalid sequence.
func invalidPrefixLen(s string) int {
	lead := s[0]
	var need int
	lo, hi := byte(0x80), byte(0xBF) // accepted range of the second byte
	switch {
	case lead >= 0xC2 && lead <= 0xDF:
		need = 1
	case lead == 0xE0:
		need, lo = 2, 0xA0
	case lead == 0xED:
		need, hi = 2, 0x9F
	case lead >= 0xE1 && lead <= 0xEF:
		need = 2
	case lead == 0xF0:
		need, lo = 3, 0x90
	case lead == 0xF4:
		need, hi = 3, 0x8F
	case lead >= 0xF1 && lead <= 0xF3:
		need = 3
	default:
		return 1
	}
	n := 1
	for k := 1; k <= need && n < len(s); k++ {
		c := s[n]
		if k == 1 {
			if c < lo || c > hi {
				break
			}
		} else if c < 0x80 || c > 0xBF {
			break
		}
		n++
	}
	return n
}
