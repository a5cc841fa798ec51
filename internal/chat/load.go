package chat

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// Set is a model's chat templates with what rendering and generation need
// from its tokenizer files: the named special tokens every template sees and
// the end-of-turn text that stops generation.
type Set struct {
	// Templates by name. A single template is named "default"; the
	// list-of-named-templates form of tokenizer_config.json and the files
	// under additional_chat_templates/ give the other names (e.g. "tool_use").
	Templates map[string]string
	// Source says where the templates were read from, for messages.
	Source string
	// Special holds the named special tokens (bos_token, eos_token,
	// unk_token, pad_token, sep_token, cls_token, mask_token) set in
	// tokenizer_config.json / special_tokens_map.json.
	Special map[string]string
	// EOSIDs are the token ids that end generation besides the tokenizer's
	// eos_token: generation_config.json's eos_token_id (a number or a list).
	EOSIDs []int
}

// Pick chooses a template as transformers' get_chat_template does: the one
// named, else "tool_use" when tools are given and it exists, else "default".
func (s *Set) Pick(name string, tools bool) (string, error) {
	if name != "" {
		if src, ok := s.Templates[name]; ok {
			return src, nil
		}
		return "", fmt.Errorf("%w: %s has no chat template named %q (it has %s)", ErrNoTemplate, s.Source, name, strings.Join(s.names(), ", "))
	}
	if src, ok := s.Templates["tool_use"]; ok && tools {
		return src, nil
	}
	if src, ok := s.Templates["default"]; ok {
		return src, nil
	}
	if len(s.Templates) == 0 {
		return "", fmt.Errorf("%w: %s", ErrNoTemplate, s.Source)
	}
	return "", fmt.Errorf("%w: %s has several chat templates and none named \"default\" (it has %s)", ErrNoTemplate, s.Source, strings.Join(s.names(), ", "))
}

// Template compiles the template Pick chooses, with the set's special tokens.
func (s *Set) Template(name string, tools bool) (*Template, error) {
	src, err := s.Pick(name, tools)
	if err != nil {
		return nil, err
	}
	t, err := Parse(src)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", s.Source, err)
	}
	for k, v := range s.Special {
		t.Special[k] = v
	}
	return t, nil
}

func (s *Set) names() []string {
	var n []string
	for k := range s.Templates {
		n = append(n, k)
	}
	sort.Strings(n)
	return n
}

// specialKeys are transformers' named special tokens, passed to templates.
var specialKeys = []string{"bos_token", "eos_token", "unk_token", "sep_token", "pad_token", "cls_token", "mask_token"}

// maxTemplateFile bounds a template or config file read whole into memory.
const maxTemplateFile = 64 << 20

// Load reads a model directory's chat templates and special tokens, as
// transformers' tokenizer loading does: chat_template.jinja and
// additional_chat_templates/*.jinja when present (they win), else
// tokenizer_config.json's "chat_template" (a string, or a list of
// {"name", "template"}); special tokens from tokenizer_config.json and then
// special_tokens_map.json; extra stop ids from generation_config.json.
// A directory without any template gives a Set with no templates (Pick and
// Template then fail with ErrNoTemplate); Load fails only on unreadable or
// malformed files.
func Load(dir string) (*Set, error) {
	s := &Set{Templates: map[string]string{}, Special: map[string]string{}, Source: dir}
	var cfgTemplates map[string]string
	for _, name := range []string{"tokenizer_config.json", "special_tokens_map.json"} {
		raw, path, err := readJSONObject(filepath.Join(dir, name))
		if err != nil {
			return nil, err
		}
		for _, k := range specialKeys {
			if v, ok := raw[k]; ok {
				tok, ok, err := tokenContent(v)
				if err != nil {
					return nil, fmt.Errorf("%s: field %q: %w", path, k, err)
				}
				if ok {
					s.Special[k] = tok
				}
			}
		}
		if v, ok := raw["chat_template"]; ok && name == "tokenizer_config.json" {
			if cfgTemplates, err = parseTemplateField(v); err != nil {
				return nil, fmt.Errorf("%s: field \"chat_template\": %w", path, err)
			}
			s.Source = path
		}
	}
	files := map[string]string{}
	if src, ok, err := readText(filepath.Join(dir, "chat_template.jinja")); err != nil {
		return nil, err
	} else if ok {
		files["default"] = src
	}
	extra, err := filepath.Glob(filepath.Join(dir, "additional_chat_templates", "*.jinja"))
	if err != nil {
		return nil, err
	}
	for _, p := range extra {
		src, _, err := readText(p)
		if err != nil {
			return nil, err
		}
		files[strings.TrimSuffix(filepath.Base(p), ".jinja")] = src
	}
	switch {
	case len(files) > 0:
		s.Templates = files
		s.Source = filepath.Join(dir, "chat_template.jinja")
	case cfgTemplates != nil:
		s.Templates = cfgTemplates
	}
	if s.EOSIDs, _, err = GenerationEOSIDs(dir); err != nil {
		return nil, err
	}
	return s, nil
}

// GenerationEOSIDs reads eos_token_id (a number or a list) from dir's
// generation_config.json, the ids transformers' generate stops at. found is
// false when the file or the field is absent (generate then falls back to
// config.json's eos_token_id).
func GenerationEOSIDs(dir string) (ids []int, found bool, err error) {
	raw, path, err := readJSONObject(filepath.Join(dir, "generation_config.json"))
	if err != nil {
		return nil, false, err
	}
	v, ok := raw["eos_token_id"]
	if !ok {
		return nil, false, nil
	}
	if ids, err = intOrList(v); err != nil {
		return nil, false, fmt.Errorf("%s: field \"eos_token_id\": %w", path, err)
	}
	return ids, true, nil
}

// FromSource makes a Set holding one template, e.g. the
// tokenizer.chat_template of a GGUF file.
func FromSource(source, where string, special map[string]string) *Set {
	s := &Set{Templates: map[string]string{}, Special: map[string]string{}, Source: where}
	if source != "" {
		s.Templates["default"] = source
	}
	for k, v := range special {
		s.Special[k] = v
	}
	return s
}

func readText(path string) (string, bool, error) {
	st, err := os.Stat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return "", false, nil
	}
	if err != nil {
		return "", false, err
	}
	if st.Size() > maxTemplateFile {
		return "", false, fmt.Errorf("%s: %d bytes, more than the %d a template or config file may have", path, st.Size(), maxTemplateFile)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return "", false, err
	}
	return string(b), true, nil
}

func readJSONObject(path string) (map[string]json.RawMessage, string, error) {
	src, ok, err := readText(path)
	if err != nil || !ok {
		return nil, path, err
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal([]byte(src), &raw); err != nil {
		return nil, path, fmt.Errorf("parse %s: %w", path, err)
	}
	return raw, path, nil
}

// parseTemplateField reads "chat_template": a string, or a list of
// {"name": ..., "template": ...}.
func parseTemplateField(v json.RawMessage) (map[string]string, error) {
	var one *string
	if err := json.Unmarshal(v, &one); err == nil {
		if one == nil {
			return nil, nil
		}
		return map[string]string{"default": *one}, nil
	}
	var list []struct {
		Name     *string `json:"name"`
		Template *string `json:"template"`
	}
	if err := json.Unmarshal(v, &list); err != nil {
		return nil, fmt.Errorf("want a string or a list of {\"name\", \"template\"}: %w", err)
	}
	out := map[string]string{}
	for i, it := range list {
		if it.Name == nil || it.Template == nil {
			return nil, fmt.Errorf("item %d: want string \"name\" and \"template\"", i)
		}
		out[*it.Name] = *it.Template
	}
	return out, nil
}

// tokenContent reads a special-token value: a string, an AddedToken object
// {"content": ...}, or null (absent).
func tokenContent(v json.RawMessage) (string, bool, error) {
	var s *string
	if err := json.Unmarshal(v, &s); err == nil {
		if s == nil {
			return "", false, nil
		}
		return *s, true, nil
	}
	var o struct {
		Content *string `json:"content"`
	}
	if err := json.Unmarshal(v, &o); err != nil || o.Content == nil {
		return "", false, fmt.Errorf("want a string or {\"content\": string}")
	}
	return *o.Content, true, nil
}

func intOrList(v json.RawMessage) ([]int, error) {
	var one *int
	if err := json.Unmarshal(v, &one); err == nil {
		if one == nil {
			return nil, nil
		}
		return []int{*one}, nil
	}
	var list []int
	if err := json.Unmarshal(v, &list); err != nil {
		return nil, fmt.Errorf("want an integer or a list of integers")
	}
	return list, nil
}

// FromConfig makes a Set from a tokenizer_config.json document already read
// into a map, such as the one internal/gguf builds from a GGUF file's
// tokenizer.* metadata (tokenizer.chat_template and the special tokens);
// where names the source in messages.
func FromConfig(cfg map[string]any, where string) (*Set, error) {
	s := &Set{Templates: map[string]string{}, Special: map[string]string{}, Source: where}
	for _, k := range specialKeys {
		v, ok := cfg[k]
		if !ok {
			continue
		}
		b, err := json.Marshal(v)
		if err != nil {
			return nil, fmt.Errorf("%s: field %q: %w", where, k, err)
		}
		tok, ok, err := tokenContent(b)
		if err != nil {
			return nil, fmt.Errorf("%s: field %q: %w", where, k, err)
		}
		if ok {
			s.Special[k] = tok
		}
	}
	if v, ok := cfg["chat_template"]; ok {
		b, err := json.Marshal(v)
		if err != nil {
			return nil, fmt.Errorf("%s: field \"chat_template\": %w", where, err)
		}
		t, err := parseTemplateField(b)
		if err != nil {
			return nil, fmt.Errorf("%s: field \"chat_template\": %w", where, err)
		}
		if t != nil {
			s.Templates = t
		}
	}
	return s, nil
}
