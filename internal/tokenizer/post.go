package tokenizer

import (
	"encoding/json"
	"fmt"
	"unicode"
)

// postProcessor is tokenizer.json's "post_processor" as far as a single
// sequence is concerned: which special tokens surround it (TemplateProcessing)
// and whether token offsets are trimmed of spaces (ByteLevel with
// trim_offsets). A Sequence of processors combines them.
type postProcessor struct {
	before, after []int // special-token ids around the sequence
	trimOffsets   bool
	addPrefix     bool // ByteLevel's add_prefix_space, for trimming
}

// templatePiece is one item of a TemplateProcessing "single" template.
type templatePiece struct {
	SpecialToken *struct {
		ID string `json:"id"`
	} `json:"SpecialToken"`
	Sequence *struct {
		ID string `json:"id"`
	} `json:"Sequence"`
}

// parsePostProcessor reads the post-processor; idOK reports whether an id
// stands for a token, to reject templates with ids out of range.
func parsePostProcessor(c *componentJSON, path string, idOK func(int) bool) (postProcessor, error) {
	var p postProcessor
	if c == nil {
		return p, nil
	}
	switch c.Type {
	case "ByteLevel":
		p.trimOffsets = boolOr(c.TrimOffsets, true)
		p.addPrefix = boolOr(c.AddPrefixSpace, true)
		return p, nil
	case "TemplateProcessing":
		seen := false
		for i, raw := range c.Single {
			var tp templatePiece
			if err := json.Unmarshal(raw, &tp); err != nil {
				return p, fmt.Errorf("%s.single[%d]: %w", path, i, err)
			}
			switch {
			case tp.SpecialToken != nil:
				st, ok := c.SpecialTokens[tp.SpecialToken.ID]
				if !ok {
					return p, fmt.Errorf("%s.single[%d]: special token %q is not in special_tokens", path, i, tp.SpecialToken.ID)
				}
				for _, id := range st.IDs {
					if id < 0 || id > 1<<31 || !idOK(int(id)) {
						return p, fmt.Errorf("%s.special_tokens[%q]: id %d is not a token of the vocabulary", path, tp.SpecialToken.ID, id)
					}
					if seen {
						p.after = append(p.after, int(id))
					} else {
						p.before = append(p.before, int(id))
					}
				}
			case tp.Sequence != nil:
				if tp.Sequence.ID != "A" || seen {
					return p, fmt.Errorf("%s.single[%d]: the single template must hold sequence A once", path, i)
				}
				seen = true
			default:
				return p, fmt.Errorf("%s.single[%d]: want SpecialToken or Sequence", path, i)
			}
		}
		if !seen {
			return p, fmt.Errorf("%s: the single template has no sequence A", path)
		}
		return p, nil
	case "Sequence":
		for i, raw := range c.Processors {
			sp := fmt.Sprintf("%s.processors[%d]", path, i)
			sub, err := parseComponent(sp, raw)
			if err != nil {
				return p, err
			}
			if sub == nil {
				return p, fmt.Errorf("%s: null", sp)
			}
			q, err := parsePostProcessor(sub, sp, idOK)
			if err != nil {
				return p, err
			}
			// A later step sees the earlier one's output as its sequence A.
			p.before = append(append([]int(nil), q.before...), p.before...)
			p.after = append(p.after, q.after...)
			if q.trimOffsets {
				p.trimOffsets, p.addPrefix = true, q.addPrefix
			}
		}
		return p, nil
	default:
		return p, unsupported(path, c.Type)
	}
}

// trim moves the offsets of tokens that start or end with spaces inward, as
// Hugging Face's ByteLevel process_offsets does.
func (p *postProcessor) trim(toks []string, offs [][2]int) {
	if !p.trimOffsets {
		return
	}
	isSpace := func(r rune) bool { return r == 'Ġ' || unicode.IsSpace(r) }
	for i, tok := range toks {
		rs := []rune(tok)
		lead, trail := 0, 0
		for lead < len(rs) && isSpace(rs[lead]) {
			lead++
		}
		for trail < len(rs) && isSpace(rs[len(rs)-1-trail]) {
			trail++
		}
		o := &offs[i]
		if lead > 0 {
			if (i == 0 || o[0] == 0) && p.addPrefix && lead == 1 {
				lead = 0
			}
			o[0] = min(o[0]+lead, o[1])
		}
		if trail > 0 && o[1] >= trail {
			o[1] = max(o[1]-trail, o[0])
		}
	}
}
