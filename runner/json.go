package runner

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/golamini/golamini/internal/constrain"
	"github.com/golamini/golamini/internal/serve"
	"github.com/golamini/golamini/internal/tokenizer"
)

// ErrSchema is wrapped by InferJSON's errors about a schema it cannot
// enforce (unsupported keywords, bad types).
var ErrSchema = constrain.ErrSchema

// OutputType is Lamini's shorthand for a JSON object's fields and their
// types, e.g. OutputType{"answer": "str", "score": "int"}. Types: "str" or
// "string", "int" or "integer", "float" or "number", "bool" or "boolean",
// and "list[T]" of those. Every field is required; the fields are
// generated in alphabetical order (a Go map has no order).
type OutputType map[string]string

// Schema returns the JSON schema OutputType stands for.
func (t OutputType) Schema() ([]byte, error) {
	if len(t) == 0 {
		return nil, fmt.Errorf("%w: OutputType has no fields", ErrSchema)
	}
	names := make([]string, 0, len(t))
	for k := range t {
		names = append(names, k)
	}
	sort.Strings(names)
	var props []string
	for _, name := range names {
		s, err := outputTypeSchema(t[name])
		if err != nil {
			return nil, fmt.Errorf("%w: field %q: %v", ErrSchema, name, err)
		}
		k, _ := json.Marshal(name)
		props = append(props, string(k)+":"+s)
	}
	req, _ := json.Marshal(names)
	return []byte(`{"type":"object","properties":{` + strings.Join(props, ",") + `},"required":` + string(req) + `,"additionalProperties":false}`), nil
}

func outputTypeSchema(typ string) (string, error) {
	t := strings.ToLower(strings.TrimSpace(typ))
	if inner, ok := strings.CutPrefix(t, "list["); ok && strings.HasSuffix(inner, "]") {
		s, err := outputTypeSchema(strings.TrimSuffix(inner, "]"))
		if err != nil {
			return "", err
		}
		return `{"type":"array","items":` + s + `}`, nil
	}
	switch t {
	case "str", "string":
		return `{"type":"string"}`, nil
	case "int", "integer":
		return `{"type":"integer"}`, nil
	case "float", "number":
		return `{"type":"number"}`, nil
	case "bool", "boolean":
		return `{"type":"boolean"}`, nil
	}
	return "", fmt.Errorf("unknown type %q (str, int, float, bool, list[...])", typ)
}

// InferJSON continues prompt greedily with output that is always valid
// JSON matching schema: an OutputType, a JSON schema as []byte,
// json.RawMessage or string, or a map[string]any. Tokens that cannot
// continue valid output are masked at every step, and when the remaining
// budget (up to 256 new tokens, within the context) only suffices to close
// the JSON, decoding takes the shortest valid ending. Long prompts are
// truncated from the left as Infer's are.
func (r *Runner) InferJSON(ctx context.Context, prompt string, schema any) (json.RawMessage, error) {
	var src []byte
	switch s := schema.(type) {
	case OutputType:
		var err error
		if src, err = s.Schema(); err != nil {
			return nil, err
		}
	case []byte:
		src = s
	case json.RawMessage:
		src = s
	case string:
		src = []byte(s)
	case map[string]any:
		var err error
		if src, err = json.Marshal(s); err != nil {
			return nil, fmt.Errorf("%w: %v", ErrSchema, err)
		}
	default:
		return nil, fmt.Errorf("%w: schema of type %T (want OutputType, a JSON schema as bytes or string, or map[string]any)", ErrSchema, schema)
	}
	g, err := constrain.CompileSchema(src)
	if err != nil {
		return nil, err
	}
	toks := make([][]byte, r.Config().VocabSize)
	byteLevel := false
	for id := range toks {
		toks[id], _ = r.tok.TokenBytes(id)
		byteLevel = byteLevel || toks[id] != nil
	}
	if !byteLevel {
		return nil, errors.New("runner: InferJSON needs a byte-level tokenizer")
	}
	ix := constrain.NewIndex(g, constrain.NewVocab(toks, r.tok.EOSID()))
	ctxN := r.cfg.MaxPositionEmbeddings
	maxNew := min(256, ctxN/2)
	if need := g.Start().MinClose(); need > maxNew {
		return nil, fmt.Errorf("runner: the shortest JSON this schema allows takes up to %d tokens, more than %d", need, maxNew)
	}
	ids := tokenizer.Truncate(r.tok.Encode(prompt), min(DefaultGenerateOptions().MaxInputTokens, ctxN-maxNew), tokenizer.Left)
	if len(ids) == 0 {
		ids = []int{r.tok.EOSID()}
	}
	maxNew = min(256, ctxN-len(ids))
	eo := serve.DefaultEngineOptions()
	eo.MaxBatch, eo.MaxQueue, eo.Logger = 1, 1, r.log
	e := serve.NewEngine(r.serveDo, r.tok, r.cfg, eo, nil)
	defer e.Close()
	j, err := e.Submit(ctx, &serve.Request{Prompt: ids, N: 1, MaxTokens: maxNew, TopP: 1, Logprobs: -1, Constraint: ix})
	if err != nil {
		return nil, fmt.Errorf("runner: %w", err)
	}
	var out string
	for ev := range j.Events {
		if ev.Err != nil {
			return nil, fmt.Errorf("runner: generate JSON: %w", ev.Err)
		}
		if ev.Finish != "" {
			out = ev.Final
		}
	}
	if !json.Valid([]byte(out)) {
		return nil, fmt.Errorf("runner: generated %q is not valid JSON", out)
	}
	return json.RawMessage(out), nil
}
