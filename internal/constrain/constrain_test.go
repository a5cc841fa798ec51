package constrain

import (
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

// validate checks doc against the supported subset of JSON schema,
// independently of the automaton: decoded with encoding/json.
func validate(schema, doc any, path string) error {
	s, _ := schema.(map[string]any)
	if s == nil {
		return nil
	}
	if e, ok := s["enum"].([]any); ok {
		for _, v := range e {
			if equalJSON(v, doc) {
				return nil
			}
		}
		return fmt.Errorf("%s: %v not in enum", path, doc)
	}
	if c, ok := s["const"]; ok {
		if !equalJSON(c, doc) {
			return fmt.Errorf("%s: %v is not const %v", path, doc, c)
		}
		return nil
	}
	typ, _ := s["type"].(string)
	if typ == "" && (s["properties"] != nil || s["required"] != nil) {
		typ = "object"
	}
	switch typ {
	case "":
		return nil
	case "string":
		if _, ok := doc.(string); !ok {
			return fmt.Errorf("%s: %v is not a string", path, doc)
		}
	case "number":
		if _, ok := doc.(json.Number); !ok {
			return fmt.Errorf("%s: %v is not a number", path, doc)
		}
	case "integer":
		n, ok := doc.(json.Number)
		if !ok || strings.ContainsAny(string(n), ".eE") {
			return fmt.Errorf("%s: %v is not an integer", path, doc)
		}
	case "boolean":
		if _, ok := doc.(bool); !ok {
			return fmt.Errorf("%s: %v is not a boolean", path, doc)
		}
	case "null":
		if doc != nil {
			return fmt.Errorf("%s: %v is not null", path, doc)
		}
	case "array":
		a, ok := doc.([]any)
		if !ok {
			return fmt.Errorf("%s: %v is not an array", path, doc)
		}
		if m, ok := s["minItems"].(float64); ok && len(a) < int(m) {
			return fmt.Errorf("%s: %d items < minItems %v", path, len(a), m)
		}
		if m, ok := s["maxItems"].(float64); ok && len(a) > int(m) {
			return fmt.Errorf("%s: %d items > maxItems %v", path, len(a), m)
		}
		for i, x := range a {
			if err := validate(s["items"], x, fmt.Sprintf("%s[%d]", path, i)); err != nil {
				return err
			}
		}
	case "object":
		o, ok := doc.(map[string]any)
		if !ok {
			return fmt.Errorf("%s: %v is not an object", path, doc)
		}
		props, _ := s["properties"].(map[string]any)
		req, _ := s["required"].([]any)
		for _, r := range req {
			if _, ok := o[r.(string)]; !ok {
				return fmt.Errorf("%s: required %q missing", path, r)
			}
		}
		for k, v := range o {
			ps, ok := props[k]
			if !ok {
				if ap, ok := s["additionalProperties"].(bool); ok && !ap {
					return fmt.Errorf("%s: extra property %q", path, k)
				}
				continue
			}
			if err := validate(ps, v, path+"."+k); err != nil {
				return err
			}
		}
	}
	return nil
}

func equalJSON(a, b any) bool {
	x, _ := json.Marshal(a)
	if n, ok := b.(json.Number); ok {
		var f float64
		json.Unmarshal([]byte(n), &f)
		b = f
	}
	y, _ := json.Marshal(b)
	return string(x) == string(y)
}

func decode(t *testing.T, doc []byte) any {
	t.Helper()
	d := json.NewDecoder(strings.NewReader(string(doc)))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		t.Fatalf("output %q does not parse: %v", doc, err)
	}
	if d.More() {
		t.Fatalf("output %q has trailing data", doc)
	}
	return v
}

var schemas = []string{
	`{"type":"object","properties":{"answer":{"type":"string"},"score":{"type":"integer"}},"required":["answer","score"],"additionalProperties":false}`,
	`{"type":"object","properties":{"a":{"type":"number"},"b":{"type":"boolean"},"c":{"type":"null"}},"required":["b"]}`,
	`{"type":"array","items":{"type":"integer"},"minItems":2,"maxItems":4}`,
	`{"type":"object","properties":{"color":{"enum":["red","green","blue"]},"size":{"type":"integer","enum":[1,12,123]}},"required":["color","size"],"additionalProperties":false}`,
	`{"type":"object","properties":{"person":{"type":"object","properties":{"name":{"type":"string"},"tags":{"type":"array","items":{"type":"string"}}},"required":["name","tags"]},"ok":{"const":true}},"required":["person","ok"]}`,
	`{"type":"object","properties":{"x":{"type":"string"},"xy":{"type":"string"},"xyz":{"type":"integer"}},"required":["xyz"]}`,
	`{"type":"object"}`,
	`{"type":"string"}`,
	`{"type":"number"}`,
	`{"type":"integer"}`,
	`{"enum":["a","ab",3,null,true]}`,
	`{}`,
	`{"type":"array","items":{"type":"object","properties":{"k":{"type":"string","enum":["é","日本"]}},"required":["k"],"additionalProperties":false},"maxItems":3}`,
}

func compile(t *testing.T, s string) *Grammar {
	t.Helper()
	g, err := CompileSchema([]byte(s))
	if err != nil {
		t.Fatalf("compile %s: %v", s, err)
	}
	return g
}

// shortestClose completes s byte by byte along MinClose, as a budget that
// only suffices to close does.
func shortestClose(t *testing.T, s State) []byte {
	t.Helper()
	var out []byte
	for !s.Done() && !(s.Accepting() && s.MinClose() == 0) {
		want := s.MinClose() - 1
		found := false
		for c := 0; c < 256; c++ {
			ns, ok := s.Feed(byte(c))
			if ok && ns.MinClose() == want {
				s, found = ns, true
				out = append(out, byte(c))
				break
			}
		}
		if !found {
			t.Fatalf("no byte reduces MinClose %d", want+1)
		}
	}
	return out
}

func TestAcceptsValidRejectsInvalid(t *testing.T) {
	cases := []struct {
		schema string
		doc    string
		ok     bool
	}{
		{schemas[0], `{"answer":"hi","score":3}`, true},
		{schemas[0], `{ "answer" : "h\"i\u00e9" , "score" : -30 }`, true},
		{schemas[0], `{"score":3,"answer":"hi"}`, false}, // declared order only
		{schemas[0], `{"answer":"hi"}`, false},
		{schemas[0], `{"answer":"hi","score":3.5}`, false},
		{schemas[0], `{"answer":"hi","score":3,"x":1}`, false},
		{schemas[0], `{"answer":"a` + "\n" + `","score":1}`, false},
		{schemas[1], `{"b":true}`, true},
		{schemas[1], `{"a":1.5e+3,"b":false,"c":null}`, true},
		{schemas[1], `{"a":01,"b":false}`, false},
		{schemas[2], `[1,2]`, true},
		{schemas[2], `[1]`, false},
		{schemas[2], `[1,2,3,4,5]`, false},
		{schemas[3], `{"color":"green","size":12}`, true},
		{schemas[3], `{"color":"pink","size":12}`, false},
		{schemas[3], `{"color":"red","size":13}`, false},
		{schemas[6], `{"a":[1,{"b":null}],"c":"d"}`, true},
		{schemas[6], `[1]`, false},
		{schemas[8], `-0.5E-7`, true},
		{schemas[9], `-0`, true},
		{schemas[9], `1.0`, false},
		{schemas[10], `"ab"`, true},
		{schemas[10], `true`, true},
		{schemas[10], `false`, false},
		{schemas[11], `[{"x":"\ud800"}]`, false}, // lone surrogate
		{schemas[11], `"日本"`, true},
		{schemas[11], "\"\xff\"", false},
		{schemas[11], "\"\xed\xa0\x80\"", false}, // UTF-8 surrogate
	}
	for _, c := range cases {
		s, ok := compile(t, c.schema).Start().FeedBytes([]byte(c.doc))
		if ok {
			ok = s.Accepting()
		}
		if ok != c.ok {
			t.Errorf("%s on %s: accepted %v, want %v", c.doc, c.schema, ok, c.ok)
		}
	}
}

func TestSchemaErrors(t *testing.T) {
	for _, s := range []string{
		`{"anyOf":[{"type":"string"}]}`,
		`{"type":["string","null"]}`,
		`{"type":"string","pattern":"a+"}`,
		`{"type":"object","properties":{"a":{"type":"string"}},"required":["b"]}`,
		`{"type":"array","minItems":3,"maxItems":2}`,
		`{"type":"nope"}`,
		`[1]`,
		`{`,
		`{"enum":[]}`,
		`{"type":"integer","enum":[1.5]}`,
	} {
		_, err := CompileSchema([]byte(s))
		if !errors.Is(err, ErrSchema) {
			t.Errorf("%s: err %v, want ErrSchema", s, err)
		}
	}
}

// TestShortestCloseIsMinimalAndValid: from the start, the closing path has
// exactly MinClose bytes and validates.
func TestShortestCloseIsMinimalAndValid(t *testing.T) {
	for _, src := range schemas {
		g := compile(t, src)
		s := g.Start()
		out := shortestClose(t, s)
		if len(out) != s.MinClose() {
			t.Errorf("%s: closed in %d bytes, MinClose %d", src, len(out), s.MinClose())
		}
		var sch any
		json.Unmarshal([]byte(src), &sch)
		if err := validate(sch, decode(t, out), "$"); err != nil {
			t.Errorf("%s: %s: %v", src, out, err)
		}
	}
}

// randomWalk writes a document byte by byte, choosing at random among the
// bytes the automaton allows whose closing cost fits the budget, and returns
// it; every prefix on the way is also closed along MinClose and checked.
func randomWalk(t *testing.T, g *Grammar, sch any, rng *rand.Rand, budget int, checkPrefixes bool) []byte {
	t.Helper()
	s := g.Start()
	var out []byte
	for !s.Done() {
		if s.Accepting() && (budget == 0 || rng.IntN(8) == 0) {
			break
		}
		var opts []byte
		for c := 0; c < 256; c++ {
			if ns, ok := s.Feed(byte(c)); ok && ns.MinClose() <= budget-1 {
				opts = append(opts, byte(c))
			}
		}
		if len(opts) == 0 && s.Accepting() {
			break
		}
		if len(opts) == 0 {
			t.Fatalf("stuck after %q with budget %d (MinClose %d)", out, budget, s.MinClose())
		}
		// Prefer structure bytes now and then so walks get somewhere.
		c := opts[rng.IntN(len(opts))]
		s, _ = s.Feed(c)
		out = append(out, c)
		budget--
		if checkPrefixes {
			full := append(slices.Clone(out), shortestClose(t, s)...)
			if err := validate(sch, decode(t, full), "$"); err != nil {
				t.Fatalf("prefix %q closed as %q: %v", out, full, err)
			}
		}
	}
	return out
}

// TestRandomWalksValidate: random documents within random budgets always
// parse and validate, and so does every prefix closed the shortest way.
func TestRandomWalksValidate(t *testing.T) {
	for i, src := range schemas {
		g := compile(t, src)
		var sch any
		json.Unmarshal([]byte(src), &sch)
		min := g.Start().MinClose()
		for seed := range 40 {
			rng := rand.New(rand.NewPCG(uint64(i), uint64(seed)))
			budget := min + rng.IntN(60)
			out := randomWalk(t, g, sch, rng, budget, seed < 5)
			if len(out) > budget {
				t.Fatalf("%s: %d bytes over budget %d", src, len(out), budget)
			}
			if err := validate(sch, decode(t, out), "$"); err != nil {
				t.Fatalf("%s: %q: %v", src, out, err)
			}
		}
	}
}

// randomSchema builds a random schema of the supported subset.
func randomSchema(rng *rand.Rand, depth int) map[string]any {
	k := rng.IntN(9)
	if depth > 2 {
		k = rng.IntN(5)
	}
	switch k {
	case 0:
		return map[string]any{"type": "string"}
	case 1:
		return map[string]any{"type": "integer"}
	case 2:
		return map[string]any{"type": "number"}
	case 3:
		return map[string]any{"type": "boolean"}
	case 4:
		vals := []any{"a", "ab", "b c", 7, 71, nil, false}
		rng.Shuffle(len(vals), func(i, j int) { vals[i], vals[j] = vals[j], vals[i] })
		return map[string]any{"enum": vals[:1+rng.IntN(len(vals)-1)]}
	case 5, 6:
		props := map[string]any{}
		var req []any
		for i := range 1 + rng.IntN(4) {
			name := []string{"id", "i", "name", "names", "x", "é"}[rng.IntN(6)] + fmt.Sprint(i%2)
			props[name] = randomSchema(rng, depth+1)
			if rng.IntN(2) == 0 {
				req = append(req, name)
			}
		}
		s := map[string]any{"type": "object", "properties": props, "additionalProperties": false}
		if len(req) > 0 {
			s["required"] = req
		}
		return s
	case 7:
		s := map[string]any{"type": "array", "items": randomSchema(rng, depth+1)}
		mn := rng.IntN(3)
		s["minItems"] = mn
		if rng.IntN(2) == 0 {
			s["maxItems"] = mn + rng.IntN(3)
		}
		return s
	}
	return map[string]any{"type": "object"}
}

func TestRandomSchemas(t *testing.T) {
	for seed := range 150 {
		rng := rand.New(rand.NewPCG(uint64(seed), 99))
		sch := randomSchema(rng, 0)
		src, _ := json.Marshal(sch)
		g := compile(t, string(src))
		var back any
		json.Unmarshal(src, &back)
		budget := g.Start().MinClose() + rng.IntN(80)
		out := randomWalk(t, g, back, rng, budget, seed%10 == 0)
		if err := validate(back, decode(t, out), "$"); err != nil {
			t.Fatalf("%s: %q: %v", src, out, err)
		}
	}
}

// testVocab is a byte-level-like vocabulary: every single byte plus
// multi-byte pieces, some of which cross JSON structure.
func testVocab() ([][]byte, int) {
	var toks [][]byte
	for c := range 256 {
		toks = append(toks, []byte{byte(c)})
	}
	for _, s := range []string{`{"`, `":`, `",`, `"}`, `answer`, `score`, ` "`, `"a`, `12`, `0.`, `true`, `},{`, `]}`, `\n`, `\u00`, `ab`, `日`, "\xe6\x97", `": "`, `null`, `red`, `"re`, `green","`, `}]`, "\n  "} {
		toks = append(toks, []byte(s))
	}
	toks = append(toks, nil) // a special token
	return toks, len(toks) - 1
}

// TestIndexDecoding: decoding with random "logits" over a vocabulary of
// multi-byte tokens, masked by Index.Allowed with the budget, ends in valid
// JSON within the budget for every schema and seed, and EOS only where the
// document is complete.
func TestIndexDecoding(t *testing.T) {
	toks, eos := testVocab()
	v := NewVocab(toks, eos)
	cache := NewCache(v, 4)
	all := slices.Clone(schemas)
	for seed := range 30 {
		rng := rand.New(rand.NewPCG(uint64(seed), 5))
		src, _ := json.Marshal(randomSchema(rng, 0))
		all = append(all, string(src))
	}
	for i, src := range all {
		g := compile(t, src)
		ix := cache.Index(g)
		var sch any
		json.Unmarshal([]byte(src), &sch)
		for seed := range 12 {
			rng := rand.New(rand.NewPCG(uint64(i), uint64(seed)))
			budget := g.Start().MinClose() + rng.IntN(40)
			s := g.Start()
			var out []byte
			var buf []int
			n := 0
			for ; n < budget && !s.Done(); n++ {
				buf = ix.Allowed(buf[:0], s, budget-n)
				if len(buf) == 0 {
					t.Fatalf("%s: nothing allowed after %q (budget %d)", src, out, budget-n)
				}
				id := buf[rng.IntN(len(buf))]
				if id == eos {
					if !s.Accepting() {
						t.Fatalf("EOS allowed in %q", out)
					}
					break
				}
				var ok bool
				s, ok = s.FeedBytes(toks[id])
				if !ok {
					t.Fatalf("%s: allowed token %q rejected after %q", src, toks[id], out)
				}
				out = append(out, toks[id]...)
			}
			if !s.Accepting() {
				t.Fatalf("%s: %q incomplete after %d tokens (budget %d)", src, out, n, budget)
			}
			if err := validate(sch, decode(t, out), "$"); err != nil {
				t.Fatalf("%s: %q: %v", src, out, err)
			}
		}
	}
}

func TestIndexBudgetTakesShortest(t *testing.T) {
	toks, eos := testVocab()
	g := compile(t, schemas[0])
	ix := NewIndex(g, NewVocab(toks, eos))
	s := g.Start()
	min := s.MinClose() // {"answer":"","score":0}
	if min != len(`{"answer":"","score":0}`) {
		t.Fatalf("MinClose %d", min)
	}
	if got := ix.Allowed(nil, s, min-1); len(got) != 0 {
		// Multi-byte tokens could do it in fewer tokens, but the budget
		// counts bytes: never promise what single bytes cannot keep.
		t.Logf("allowed with budget below MinClose: %d tokens", len(got))
	}
	got := ix.Allowed(nil, s, min)
	for _, id := range got {
		ns, _ := s.FeedBytes(toks[id])
		if ns.MinClose() > min-1 {
			t.Errorf("token %q leaves %d bytes with %d tokens left", toks[id], ns.MinClose(), min-1)
		}
	}
	if len(got) == 0 {
		t.Fatal("nothing allowed at exactly MinClose")
	}
}
