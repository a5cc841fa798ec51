// Package constrain makes a language model's output valid JSON, optionally
// valid against a JSON schema, by masking at every decoding step the tokens
// that cannot continue valid output. A schema compiles to a Grammar, a
// pushdown automaton over bytes (State); an Index runs it over a tokenizer's
// vocabulary (a byte trie of all tokens) and caches the allowed tokens per
// automaton state. Every state also knows the fewest bytes that close the
// document (State.MinClose), so decoding can be kept within a token budget:
// a token is allowed only if what follows it can still be closed in the
// tokens left, which makes a constrained generation end in valid JSON for any
// model, seed and max_tokens that fit the shortest document.
//
// Supported schema keywords: type (object, array, string, number, integer,
// boolean, null), properties (generated in the order the schema lists them),
// required, additionalProperties, items, minItems, maxItems, enum, const, and
// the annotations title, description, default, examples, $schema, $id,
// $comment. Anything else (anyOf, $ref, pattern, minimum, format, a list of
// types, …) is rejected with ErrSchema naming the keyword, never ignored.
package constrain

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
)

// ErrSchema is wrapped by every error about a schema the package cannot
// enforce.
var ErrSchema = errors.New("constrain: invalid or unsupported JSON schema")

type kind uint8

const (
	kAny     kind = iota // any JSON value
	kObject              // declared properties, or any keys when free
	kArray               // items of one schema
	kString              // any string
	kNumber              // any number
	kInteger             // an integer (no fraction, no exponent)
	kLiteral             // one of a fixed set of JSON texts: enum, const, boolean, null
)

// node is a compiled schema.
type node struct {
	id   int
	kind kind

	// kObject
	props    []prop
	free     bool  // any keys with values of any type (no properties declared)
	reqAfter []int // reqAfter[i]: bytes of `,"k":v` for the required props ≥ i

	// kArray
	items              *node
	minItems, maxItems int // maxItems < 0: unbounded

	// kLiteral
	lits []string // JSON texts, e.g. `"red"`, `3`, `true`

	minLen int // fewest bytes of a value of this node
}

type prop struct {
	name     string
	key      string // JSON text of the name, quotes included
	required bool
	node     *node
}

// Grammar is a compiled schema; it is immutable and safe for concurrent use.
type Grammar struct {
	root  *node
	nodes int
	text  string // canonical schema text (cache key)
}

// Key identifies the grammar's schema (its canonical JSON text).
func (g *Grammar) Key() string { return g.text }

// MaxDepth is the deepest nesting of objects and arrays a free (any-value)
// part of a grammar may open.
const MaxDepth = 32

var anyNode = &node{id: 0, kind: kAny, minLen: 1}

// JSONObject is the grammar of any JSON object (OpenAI's response_format
// {"type": "json_object"}).
func JSONObject() *Grammar {
	return &Grammar{root: &node{id: 1, kind: kObject, free: true, minLen: 2}, nodes: 2, text: `{"type":"object"}`}
}

// CompileSchema compiles a JSON schema (the schema itself, not OpenAI's
// {"name", "schema", "strict"} wrapper).
func CompileSchema(schema []byte) (*Grammar, error) {
	var canon bytes.Buffer
	if err := json.Compact(&canon, schema); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrSchema, err)
	}
	c := &compiler{next: 1}
	root, err := c.compile(json.RawMessage(canon.Bytes()), "schema", 0)
	if err != nil {
		return nil, err
	}
	return &Grammar{root: root, nodes: c.next, text: canon.String()}, nil
}

type compiler struct{ next int }

var annotations = map[string]bool{"title": true, "description": true, "default": true, "examples": true,
	"$schema": true, "$id": true, "$comment": true, "strict": false}

func (c *compiler) compile(raw json.RawMessage, path string, depth int) (*node, error) {
	if depth > MaxDepth {
		return nil, fmt.Errorf("%w: %s: nested deeper than %d", ErrSchema, path, MaxDepth)
	}
	fail := func(format string, a ...any) error {
		return fmt.Errorf("%w: %s: %s", ErrSchema, path, fmt.Sprintf(format, a...))
	}
	trimmed := bytes.TrimSpace(raw)
	if string(trimmed) == "true" {
		return anyNode, nil
	}
	var kw map[string]json.RawMessage
	if err := json.Unmarshal(raw, &kw); err != nil || kw == nil {
		return nil, fail("a schema must be a JSON object")
	}
	n := &node{id: c.next}
	c.next++
	typ := ""
	if t, ok := kw["type"]; ok {
		if err := json.Unmarshal(t, &typ); err != nil {
			return nil, fail(`"type" must be one string (lists of types are not supported)`)
		}
	}
	keys := make([]string, 0, len(kw))
	for k := range kw {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		switch k {
		case "type", "properties", "required", "additionalProperties", "items", "minItems", "maxItems", "enum", "const":
		default:
			if !annotations[k] {
				return nil, fail("keyword %q is not supported", k)
			}
		}
	}
	if e, ok := kw["enum"]; ok {
		var vals []json.RawMessage
		if err := json.Unmarshal(e, &vals); err != nil || len(vals) == 0 {
			return nil, fail(`"enum" must be a non-empty array`)
		}
		return c.literal(n, vals, typ, fail)
	}
	if v, ok := kw["const"]; ok {
		return c.literal(n, []json.RawMessage{v}, typ, fail)
	}
	if typ == "" {
		switch {
		case kw["properties"] != nil || kw["required"] != nil || kw["additionalProperties"] != nil:
			typ = "object"
		case kw["items"] != nil:
			typ = "array"
		default:
			return anyNode, nil
		}
	}
	switch typ {
	case "string":
		n.kind, n.minLen = kString, 2
	case "number":
		n.kind, n.minLen = kNumber, 1
	case "integer":
		n.kind, n.minLen = kInteger, 1
	case "boolean":
		n.kind, n.lits, n.minLen = kLiteral, []string{"true", "false"}, 4
	case "null":
		n.kind, n.lits, n.minLen = kLiteral, []string{"null"}, 4
	case "object":
		return c.object(n, kw, path, depth, fail)
	case "array":
		return c.array(n, kw, path, depth, fail)
	default:
		return nil, fail("unknown type %q", typ)
	}
	return n, nil
}

func (c *compiler) literal(n *node, vals []json.RawMessage, typ string, fail func(string, ...any) error) (*node, error) {
	n.kind = kLiteral
	seen := map[string]bool{}
	for _, v := range vals {
		var x any
		if err := json.Unmarshal(v, &x); err != nil {
			return nil, fail("bad enum value %s", v)
		}
		text, err := marshal(x)
		if err != nil {
			return nil, fail("bad enum value %s: %v", v, err)
		}
		if typ != "" && !literalHasType(x, typ) {
			return nil, fail("enum value %s is not of type %q", text, typ)
		}
		if !seen[text] {
			seen[text] = true
			n.lits = append(n.lits, text)
		}
	}
	n.minLen = len(n.lits[0])
	for _, l := range n.lits {
		n.minLen = min(n.minLen, len(l))
	}
	return n, nil
}

func literalHasType(x any, typ string) bool {
	switch v := x.(type) {
	case string:
		return typ == "string"
	case float64:
		return typ == "number" || (typ == "integer" && v == float64(int64(v)))
	case bool:
		return typ == "boolean"
	case nil:
		return typ == "null"
	case []any:
		return typ == "array"
	case map[string]any:
		return typ == "object"
	}
	return false
}

// marshal writes x as compact JSON without HTML escaping (the model writes
// "<" as itself).
func marshal(x any) (string, error) {
	var b bytes.Buffer
	e := json.NewEncoder(&b)
	e.SetEscapeHTML(false)
	if err := e.Encode(x); err != nil {
		return "", err
	}
	return strings.TrimSuffix(b.String(), "\n"), nil
}

func (c *compiler) object(n *node, kw map[string]json.RawMessage, path string, depth int, fail func(string, ...any) error) (*node, error) {
	n.kind = kObject
	names, err := orderedKeys(kw["properties"])
	if err != nil {
		return nil, fail(`"properties": %v`, err)
	}
	var props map[string]json.RawMessage
	if kw["properties"] != nil {
		if err := json.Unmarshal(kw["properties"], &props); err != nil {
			return nil, fail(`"properties" must be an object`)
		}
	}
	var required []string
	if r, ok := kw["required"]; ok {
		if err := json.Unmarshal(r, &required); err != nil {
			return nil, fail(`"required" must be an array of strings`)
		}
	}
	isReq := map[string]bool{}
	for _, r := range required {
		if _, ok := props[r]; !ok {
			return nil, fail("required property %q is not in \"properties\"", r)
		}
		isReq[r] = true
	}
	if ap, ok := kw["additionalProperties"]; ok {
		var b bool
		if json.Unmarshal(ap, &b) != nil {
			// A schema for extra properties: valid output may simply have
			// none, which is what is generated; it must still be a schema.
			if _, err := c.compile(ap, path+".additionalProperties", depth+1); err != nil {
				return nil, err
			}
		}
	}
	if len(names) == 0 {
		// No properties declared: any object.
		n.free, n.minLen = true, 2
		return n, nil
	}
	for _, name := range names {
		child, err := c.compile(props[name], path+".properties."+name, depth+1)
		if err != nil {
			return nil, err
		}
		key, _ := marshal(name)
		n.props = append(n.props, prop{name: name, key: key, required: isReq[name], node: child})
	}
	n.reqAfter = make([]int, len(n.props)+1)
	for i := len(n.props) - 1; i >= 0; i-- {
		n.reqAfter[i] = n.reqAfter[i+1]
		if p := n.props[i]; p.required {
			n.reqAfter[i] += 1 + len(p.key) + 1 + p.node.minLen // ,"k":v
		}
	}
	n.minLen = 2
	if n.reqAfter[0] > 0 {
		n.minLen = n.reqAfter[0] - 1 + 2 // the first needs no comma
	}
	return n, nil
}

func (c *compiler) array(n *node, kw map[string]json.RawMessage, path string, depth int, fail func(string, ...any) error) (*node, error) {
	n.kind = kArray
	n.items, n.maxItems = anyNode, -1
	if it, ok := kw["items"]; ok {
		child, err := c.compile(it, path+".items", depth+1)
		if err != nil {
			return nil, err
		}
		n.items = child
	}
	for _, k := range []string{"minItems", "maxItems"} {
		v, ok := kw[k]
		if !ok {
			continue
		}
		var x int
		if err := json.Unmarshal(v, &x); err != nil || x < 0 || x > 1<<16 {
			return nil, fail("%q must be an integer in [0, 65536]", k)
		}
		if k == "minItems" {
			n.minItems = x
		} else {
			n.maxItems = x
		}
	}
	if n.maxItems >= 0 && n.maxItems < n.minItems {
		return nil, fail("maxItems %d < minItems %d", n.maxItems, n.minItems)
	}
	n.minLen = 2
	if n.minItems > 0 {
		n.minLen += n.minItems*n.items.minLen + n.minItems - 1
	}
	return n, nil
}

// orderedKeys lists an object's keys in the order they appear.
func orderedKeys(raw json.RawMessage) ([]string, error) {
	if raw == nil {
		return nil, nil
	}
	d := json.NewDecoder(bytes.NewReader(raw))
	if t, err := d.Token(); err != nil || t != json.Delim('{') {
		return nil, errors.New("must be an object")
	}
	var keys []string
	seen := map[string]bool{}
	for d.More() {
		t, err := d.Token()
		if err != nil {
			return nil, err
		}
		k := t.(string)
		if seen[k] {
			return nil, fmt.Errorf("property %q listed twice", k)
		}
		seen[k] = true
		keys = append(keys, k)
		var skip json.RawMessage
		if err := d.Decode(&skip); err != nil {
			return nil, err
		}
	}
	return keys, nil
}
