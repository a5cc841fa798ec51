package tokenizer

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
)

// modelConfig is what we read from a model directory's tokenizer_config.json
// and special_tokens_map.json (transformers' files). Special-token values are
// either a string or an AddedToken object {"content": ...}.
type modelConfig struct {
	specials  map[string]string // bos_token, eos_token, unk_token, pad_token, ... -> content
	nulls     map[string]bool   // special-token keys the config sets to null
	addBOS    *bool             // add_bos_token
	addEOS    *bool             // add_eos_token
	extra     []string          // additional_special_tokens
	cleanUp   *bool             // clean_up_tokenization_spaces
	padSide   string
	truncSide string
	maxLen    int
}

// specialKeys are transformers' named special tokens.
var specialKeys = []string{"bos_token", "eos_token", "unk_token", "sep_token", "pad_token", "cls_token", "mask_token"}

// readModelConfig reads tokenizer_config.json and then special_tokens_map.json
// from dir (each optional); as in transformers, the special tokens map wins.
func readModelConfig(dir string) (*modelConfig, error) {
	c := &modelConfig{specials: map[string]string{}}
	for _, name := range []string{"tokenizer_config.json", "special_tokens_map.json"} {
		path := filepath.Join(dir, name)
		b, err := os.ReadFile(path)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", path, err)
		}
		var raw map[string]json.RawMessage
		if err := json.Unmarshal(b, &raw); err != nil {
			return nil, fmt.Errorf("parse %s: %w", path, err)
		}
		if err := c.merge(raw); err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
	}
	return c, nil
}

func (c *modelConfig) merge(raw map[string]json.RawMessage) error {
	for _, k := range specialKeys {
		v, ok := raw[k]
		if !ok {
			continue
		}
		if isNull(v) {
			if c.nulls == nil {
				c.nulls = map[string]bool{}
			}
			c.nulls[k] = true
			delete(c.specials, k)
			continue
		}
		delete(c.nulls, k)
		s, err := tokenContent(v)
		if err != nil {
			return fmt.Errorf("field %q: %w", k, err)
		}
		c.specials[k] = s
	}
	for _, key := range []string{"additional_special_tokens", "extra_special_tokens"} {
		v, ok := raw[key]
		if !ok || isNull(v) {
			continue
		}
		var items []json.RawMessage
		if err := json.Unmarshal(v, &items); err != nil {
			// transformers 5 also accepts a name -> token object.
			var named map[string]json.RawMessage
			if err2 := json.Unmarshal(v, &named); err2 != nil {
				return fmt.Errorf("field %q: want a list: %w", key, err)
			}
			names := make([]string, 0, len(named))
			for k := range named {
				names = append(names, k)
			}
			sort.Strings(names)
			for _, k := range names {
				items = append(items, named[k])
			}
		}
		for i, it := range items {
			s, err := tokenContent(it)
			if err != nil {
				return fmt.Errorf("field %q item %d: %w", key, i, err)
			}
			c.extra = append(c.extra, s)
		}
	}
	for key, dst := range map[string]**bool{"add_bos_token": &c.addBOS, "add_eos_token": &c.addEOS} {
		if v, ok := raw[key]; ok {
			b := false
			if !isNull(v) {
				if err := json.Unmarshal(v, &b); err != nil {
					return fmt.Errorf("field %q: want a boolean: %w", key, err)
				}
			}
			*dst = &b
		}
	}
	if _, ok := raw["backend"]; ok && c.cleanUp == nil {
		// Written by transformers 5, whose default is no clean-up (and which
		// never cleans up after BPE tokenizers); the true default below the
		// key is transformers 4.44's, which Pythia's files were made for.
		f := false
		c.cleanUp = &f
	}
	if v, ok := raw["clean_up_tokenization_spaces"]; ok && !isNull(v) {
		var b bool
		if err := json.Unmarshal(v, &b); err != nil {
			return fmt.Errorf("field \"clean_up_tokenization_spaces\": want a boolean: %w", err)
		}
		c.cleanUp = &b
	}
	for key, dst := range map[string]*string{"padding_side": &c.padSide, "truncation_side": &c.truncSide} {
		if v, ok := raw[key]; ok && !isNull(v) {
			var s string
			if err := json.Unmarshal(v, &s); err != nil || (s != "left" && s != "right") {
				return fmt.Errorf("field %q: want \"left\" or \"right\", got %s", key, v)
			}
			*dst = s
		}
	}
	if v, ok := raw["model_max_length"]; ok && !isNull(v) {
		var f float64 // transformers writes huge values such as 1e30
		if err := json.Unmarshal(v, &f); err != nil {
			return fmt.Errorf("field \"model_max_length\": want a number: %w", err)
		}
		if f > 0 && f < 1<<31 {
			c.maxLen = int(f)
		}
	}
	return nil
}

// tokenContent reads a special-token value: "<|endoftext|>" or
// {"content": "<|endoftext|>", ...}.
func tokenContent(v json.RawMessage) (string, error) {
	var s string
	if err := json.Unmarshal(v, &s); err == nil {
		return s, nil
	}
	var obj struct {
		Content *string `json:"content"`
	}
	if err := json.Unmarshal(v, &obj); err != nil || obj.Content == nil {
		return "", fmt.Errorf("want a string or an object with \"content\", got %s", v)
	}
	return *obj.Content, nil
}
