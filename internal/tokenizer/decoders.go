package tokenizer

import (
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"
)

// decoderStep is one decoder of tokenizer.json (a Sequence is a list of
// them): Hugging Face's Decoder::decode_chain over the token strings.
type decoderStep interface {
	decodeChain(toks []string) []string
}

// byteLevelDec is ByteLevel: all tokens joined, byte-level characters mapped
// back to bytes (a token with a character outside the alphabet keeps its own
// UTF-8 bytes), invalid UTF-8 replaced as Rust's from_utf8_lossy does.
type byteLevelDec struct{}

func (byteLevelDec) decodeChain(toks []string) []string {
	var buf []byte
	for _, t := range toks {
		if raw, ok := byteLevelToBytes(t); ok {
			buf = append(buf, raw...)
		} else {
			buf = append(buf, t...)
		}
	}
	return []string{toValidUTF8(string(buf))}
}

// metaspaceDec is Metaspace: the replacement character becomes a space,
// except at the start of the first token when a prefix was prepended.
type metaspaceDec struct {
	repl   rune
	scheme string
}

func (d metaspaceDec) decodeChain(toks []string) []string {
	out := make([]string, len(toks))
	for i, t := range toks {
		var sb strings.Builder
		for _, r := range t {
			if r == d.repl {
				if i == 0 && d.scheme != "never" {
					continue
				}
				r = ' '
			}
			sb.WriteRune(r)
		}
		out[i] = sb.String()
	}
	return out
}

// byteFallbackDec is ByteFallback: runs of "<0xAB>" tokens become the text
// of their bytes, or one U+FFFD per byte when those are not valid UTF-8.
type byteFallbackDec struct{}

func byteToken(t string) (byte, bool) {
	if len(t) != 6 || !strings.HasPrefix(t, "<0x") || t[5] != '>' {
		return 0, false
	}
	v, err := strconv.ParseUint(t[3:5], 16, 8)
	if err != nil {
		return 0, false
	}
	return byte(v), true
}

func (byteFallbackDec) decodeChain(toks []string) []string {
	out := make([]string, 0, len(toks))
	var pending []byte
	flush := func() {
		if len(pending) == 0 {
			return
		}
		if utf8.Valid(pending) {
			out = append(out, string(pending))
		} else {
			for range pending {
				out = append(out, "\uFFFD")
			}
		}
		pending = pending[:0]
	}
	for _, t := range toks {
		if b, ok := byteToken(t); ok {
			pending = append(pending, b)
			continue
		}
		flush()
		out = append(out, t)
	}
	flush()
	return out
}

// fuseDec is Fuse: all tokens become one.
type fuseDec struct{}

func (fuseDec) decodeChain(toks []string) []string { return []string{strings.Join(toks, "")} }

// stripDec is Strip: up to start leading and stop trailing content
// characters are removed from each token.
type stripDec struct {
	content     rune
	start, stop int
}

func (d stripDec) decodeChain(toks []string) []string {
	out := make([]string, len(toks))
	for i, t := range toks {
		rs := []rune(t)
		lo := 0
		for k := 0; k < d.start && k < len(rs); k++ {
			if rs[k] != d.content {
				break
			}
			lo = k + 1
		}
		hi := len(rs)
		for k := 0; k < d.stop; k++ {
			idx := len(rs) - k - 1
			if idx < 0 || rs[idx] != d.content {
				break
			}
			hi = idx
		}
		if hi < lo {
			hi = lo
		}
		out[i] = string(rs[lo:hi])
	}
	return out
}

// replaceDec is Replace: matches of the pattern in each token become content.
type replaceDec struct {
	pat     pattern
	content string
}

func (d replaceDec) decodeChain(toks []string) []string {
	out := make([]string, len(toks))
	for i, t := range toks {
		m := d.pat.find(t, nil)
		if len(m) == 0 {
			out[i] = t
			continue
		}
		var sb strings.Builder
		last := 0
		for _, r := range m {
			sb.WriteString(t[last:r[0]])
			sb.WriteString(d.content)
			last = r[1]
		}
		sb.WriteString(t[last:])
		out[i] = sb.String()
	}
	return out
}

// parseDecoder reads tokenizer.json's "decoder" into steps.
func parseDecoder(c *componentJSON, path string) ([]decoderStep, error) {
	if c == nil {
		return nil, nil
	}
	switch c.Type {
	case "ByteLevel":
		return []decoderStep{byteLevelDec{}}, nil
	case "Metaspace":
		repl := "▁"
		if c.Replacement != nil {
			repl = *c.Replacement
		}
		r, n := utf8.DecodeRuneInString(repl)
		if n != len(repl) || n == 0 {
			return nil, fmt.Errorf("%s: Metaspace replacement %q must be one character", path, repl)
		}
		scheme := "always"
		if c.PrependScheme != nil {
			scheme = *c.PrependScheme
		} else if c.AddPrefixSpace != nil && !*c.AddPrefixSpace {
			scheme = "never"
		}
		return []decoderStep{metaspaceDec{repl: r, scheme: scheme}}, nil
	case "ByteFallback":
		return []decoderStep{byteFallbackDec{}}, nil
	case "Fuse":
		return []decoderStep{fuseDec{}}, nil
	case "Strip":
		content := " "
		if c.Content != nil {
			content = *c.Content
		}
		r, n := utf8.DecodeRuneInString(content)
		if n != len(content) || n == 0 {
			return nil, fmt.Errorf("%s: Strip content %q must be one character", path, content)
		}
		start, stop := 0, 0
		if c.Start != nil {
			start = *c.Start
		}
		if c.Stop != nil {
			stop = *c.Stop
		}
		if start < 0 || stop < 0 {
			return nil, fmt.Errorf("%s: Strip start and stop must not be negative", path)
		}
		return []decoderStep{stripDec{content: r, start: start, stop: stop}}, nil
	case "Replace":
		p, err := parsePattern(c.Pattern, path+".pattern")
		if err != nil {
			return nil, err
		}
		if c.Content == nil {
			return nil, fmt.Errorf("%s: Replace needs \"content\"", path)
		}
		return []decoderStep{replaceDec{p, *c.Content}}, nil
	case "Sequence":
		return parseSequence(path, "decoders", c.Decoders, parseDecoder)
	default:
		return nil, unsupported(path, c.Type)
	}
}
