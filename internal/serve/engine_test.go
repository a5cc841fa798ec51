package serve

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/golamini/golamini/internal/constrain"
	"github.com/golamini/golamini/internal/generate"
	"github.com/golamini/golamini/internal/model"
	"github.com/golamini/golamini/internal/testutil"
	"github.com/golamini/golamini/internal/tokenizer"
	"github.com/golamini/golamini/internal/torch"
)

type demo struct {
	m   *model.Model
	tok *tokenizer.Tokenizer
	do  Do
}

var (
	demoOnce sync.Once
	demoM    *demo
	demoErr  error
)

// loadDemo loads testdata/models/demo once per test binary.
func loadDemo(t *testing.T) *demo {
	t.Helper()
	dir := testutil.Testdata(t, "models", "demo")
	demoOnce.Do(func() {
		d := &demo{}
		if d.tok, demoErr = tokenizer.Load(dir); demoErr != nil {
			return
		}
		demoErr = torch.Do(context.Background(), func() error {
			var err error
			d.m, err = model.Load(context.Background(), dir, model.DefaultLoadOptions())
			return err
		})
		d.do = func(fn func(*model.Model) error) error {
			return torch.Do(context.Background(), func() error { return fn(d.m) })
		}
		demoM = d
	})
	if demoErr != nil {
		t.Fatal(demoErr)
	}
	return demoM
}

// alone generates for one prompt with internal/generate, as `golamini
// infer` does.
func (d *demo) alone(t *testing.T, prompt []int, maxNew int) []int {
	t.Helper()
	return d.generate(t, prompt, maxNew, true)
}

// generate is alone, stopping at EOS or not (a request's ignore_eos).
func (d *demo) generate(t *testing.T, prompt []int, maxNew int, stopAtEOS bool) []int {
	t.Helper()
	o := generate.DefaultOptions()
	o.MaxNewTokens, o.EOSID, o.StopAtEOS = maxNew, d.tok.EOSID(), stopAtEOS
	var res []generate.Result
	err := torch.Do(context.Background(), func() error {
		var err error
		res, err = generate.Generate(context.Background(), d.m, [][]int{prompt}, o, nil)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return res[0].NewIDs
}

func collect(t *testing.T, j *Job) (texts []string, finals []string, reasons []string, u Usage) {
	t.Helper()
	n := j.req.N
	texts, finals, reasons = make([]string, n), make([]string, n), make([]string, n)
	for ev := range j.Events {
		if ev.Err != nil {
			t.Fatalf("job failed: %v", ev.Err)
		}
		if ev.Done {
			u = ev.Usage
			continue
		}
		texts[ev.Choice] += ev.Text
		if ev.Finish != "" {
			finals[ev.Choice], reasons[ev.Choice] = ev.Final, ev.Finish
		}
	}
	return
}

var testPrompts = []string{
	"How do I add data to Lamini?", "What is golamini?", "Train a model", "The quick brown fox",
	"Question: what does the runner do?\nAnswer:", "a", "Hello, world", "Explain KV caches.",
	"Why Go?", "List three colors:", "1 2 3 4", "Lamini is", "def main():", "The answer is",
	"Once upon a time there was a model that", "Fine-tuning means",
}

// TestBatchEqualsAlone: the greedy text of each of 16 concurrent requests
// equals what generation gives it alone.
func TestBatchEqualsAlone(t *testing.T) {
	d := loadDemo(t)
	o := DefaultEngineOptions()
	o.PrefillChunk = 5 // several chunks per prompt, interleaved with decoding
	e := NewEngine(d.do, d.tok, d.m.Config, o, nil)
	defer e.Close()
	want := make([][]int, len(testPrompts))
	for i, p := range testPrompts {
		want[i] = d.alone(t, d.tok.Encode(p), 24+i)
	}
	var wg sync.WaitGroup
	got := make([]string, len(testPrompts))
	for i, p := range testPrompts {
		wg.Add(1)
		go func() {
			defer wg.Done()
			j, err := e.Submit(context.Background(), &Request{Prompt: d.tok.Encode(p), N: 1, MaxTokens: 24 + i, Logprobs: -1, CleanUp: true})
			if err != nil {
				t.Error(err)
				return
			}
			texts, finals, _, u := collect(t, j)
			got[i] = finals[0]
			if want, _ := cutStop(texts[0], nil); !strings.HasPrefix(d.tok.Decode(d.tok.Encode(want), true), want) {
				t.Errorf("streamed text %q", texts[0])
			}
			if u.PromptTokens != len(d.tok.Encode(p)) {
				t.Errorf("usage %+v", u)
			}
		}()
	}
	wg.Wait()
	for i := range testPrompts {
		w := d.tok.DecodeTransformers(want[i], true)
		if got[i] != w {
			t.Errorf("prompt %d %q: batched %q, alone %q", i, testPrompts[i], got[i], w)
		}
	}
}

func TestConstrainedJSON(t *testing.T) {
	d := loadDemo(t)
	e := NewEngine(d.do, d.tok, d.m.Config, DefaultEngineOptions(), nil)
	defer e.Close()
	toks := make([][]byte, d.m.Config.VocabSize)
	for id := range toks {
		toks[id], _ = d.tok.TokenBytes(id)
	}
	cache := constrain.NewCache(constrain.NewVocab(toks, d.tok.EOSID()), 8)
	g, err := constrain.CompileSchema([]byte(`{"type":"object","properties":{"answer":{"type":"string"},"score":{"type":"integer"}},"required":["answer","score"],"additionalProperties":false}`))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.Submit(context.Background(), &Request{Prompt: []int{1}, N: 1, MaxTokens: 22, Constraint: cache.Index(g)}); !errors.Is(err, ErrTooShort) {
		t.Errorf("max tokens 22 < 23 bytes: err %v", err)
	}
	for seed := range 6 {
		for _, maxTok := range []int{23, 40} {
			j, err := e.Submit(context.Background(), &Request{Prompt: d.tok.Encode("Answer in JSON:"), N: 2, MaxTokens: maxTok,
				Temperature: float64(seed) / 2, TopP: 1, Seed: uint64(seed), Logprobs: -1, Constraint: cache.Index(g)})
			if err != nil {
				t.Fatal(err)
			}
			_, finals, _, _ := collect(t, j)
			for _, f := range finals {
				s, ok := g.Start().FeedBytes([]byte(f))
				if !ok || !s.Accepting() {
					t.Errorf("seed %d max %d: %q is not valid", seed, maxTok, f)
				}
			}
		}
	}
}

// TestBatchEqualsAloneFamilies: the same for random-weight Llama (GQA) and
// Qwen3 (q/k norms) models over the demo tokenizer.
func TestBatchEqualsAloneFamilies(t *testing.T) {
	base := loadDemo(t)
	for _, cfgJSON := range []string{
		`{"model_type":"llama","vocab_size":1024,"hidden_size":64,"num_hidden_layers":2,"num_attention_heads":4,"num_key_value_heads":2,"intermediate_size":128,"max_position_embeddings":256,"initializer_range":0.3,"eos_token_id":0,"bos_token_id":0}`,
		`{"model_type":"qwen3","vocab_size":1024,"hidden_size":64,"num_hidden_layers":2,"num_attention_heads":4,"num_key_value_heads":1,"head_dim":32,"intermediate_size":128,"max_position_embeddings":256,"initializer_range":0.3,"eos_token_id":0,"bos_token_id":0}`,
	} {
		cfg, err := model.ParseConfig([]byte(cfgJSON), "test config")
		if err != nil {
			t.Fatal(err)
		}
		d := &demo{tok: base.tok}
		if err := torch.Do(context.Background(), func() error {
			d.m, err = model.NewRandom(cfg, model.DefaultLoadOptions(), 3)
			return err
		}); err != nil {
			t.Fatal(err)
		}
		d.do = func(fn func(*model.Model) error) error {
			return torch.Do(context.Background(), func() error { return fn(d.m) })
		}
		o := DefaultEngineOptions()
		o.PrefillChunk = 3
		e := NewEngine(d.do, d.tok, d.m.Config, o, nil)
		var wg sync.WaitGroup
		for i, p := range testPrompts {
			want := d.tok.Decode(d.alone(t, d.tok.Encode(p), 16), true)
			wg.Add(1)
			go func() {
				defer wg.Done()
				j, err := e.Submit(context.Background(), &Request{Prompt: d.tok.Encode(p), N: 1, MaxTokens: 16, Logprobs: -1})
				if err != nil {
					t.Error(err)
					return
				}
				_, finals, _, _ := collect(t, j)
				if finals[0] != want {
					t.Errorf("%s prompt %d: batched %q, alone %q", cfg.ModelType, i, finals[0], want)
				}
			}()
		}
		wg.Wait()
		e.Close()
		torch.Do(context.Background(), func() error { d.m.Free(); return nil })
	}
}

// TestRowsOfDifferentLengths: a batch of 3 rows that never empties while 12
// requests of different lengths join and leave (each row with its own
// columns, the freed slot taken by the last row); each text equals
// generation alone.
func TestRowsOfDifferentLengths(t *testing.T) {
	d := loadDemo(t)
	o := DefaultEngineOptions()
	o.MaxBatch = 3
	e := NewEngine(d.do, d.tok, d.m.Config, o, nil)
	defer e.Close()
	var wg sync.WaitGroup
	for i := range 12 {
		p := testPrompts[i]
		n := 80 + 7*i
		want := d.tok.Decode(d.alone(t, d.tok.Encode(p), n), true)
		wg.Add(1)
		go func() {
			defer wg.Done()
			j, err := e.Submit(context.Background(), &Request{Prompt: d.tok.Encode(p), N: 1, MaxTokens: n, IgnoreEOS: false, Logprobs: -1})
			if err != nil {
				t.Error(err)
				return
			}
			_, finals, reasons, _ := collect(t, j)
			if finals[0] != want {
				t.Errorf("prompt %d: batched %q (%s), alone %q", i, finals[0], reasons[0], want)
			}
		}()
	}
	wg.Wait()
}

// TestRowAtFullContext: a request whose prompt and new tokens fill the
// whole context (its last step writes the cache's last column) shares the
// batch with one that joins while it runs, and with a LoRA-style hook on
// the model (the general, masked path) as well as without (the fused one);
// both texts equal generation alone.
func TestRowAtFullContext(t *testing.T) {
	d := loadDemo(t)
	pa, pb := d.tok.Encode(testPrompts[0]), d.tok.Encode(testPrompts[14])
	na, nb := d.m.Config.MaxPositionEmbeddings-len(pa), 60
	wantA := d.tok.Decode(d.generate(t, pa, na, false), true)
	wantB := d.tok.Decode(d.generate(t, pb, nb, false), true)
	for _, hook := range []bool{false, true} {
		e := newEngine(d.do, d.tok, d.m.Config, DefaultEngineOptions(), nil)
		step := func() {
			err := d.do(func(m *model.Model) error {
				if hook { // an identity hook: the fused paths are not taken
					m.LinearHook = func(s *torch.Scope, l *model.Linear, x, y *torch.Tensor) *torch.Tensor { return y }
					defer func() { m.LinearHook = nil }()
				}
				return e.step(m)
			})
			if err != nil {
				t.Fatal(err)
			}
		}
		ja, err := e.Submit(context.Background(), &Request{Prompt: pa, N: 1, MaxTokens: na, IgnoreEOS: true, Logprobs: -1})
		if err != nil {
			t.Fatal(err)
		}
		for range 100 {
			step()
		}
		jb, err := e.Submit(context.Background(), &Request{Prompt: pb, N: 1, MaxTokens: nb, IgnoreEOS: true, Logprobs: -1})
		if err != nil {
			t.Fatal(err)
		}
		for e.pf != nil || len(e.queue) > 0 || len(e.rows) > 0 {
			step()
		}
		for i, c := range []struct {
			j    *Job
			want string
		}{{ja, wantA}, {jb, wantB}} {
			_, finals, _, u := collect(t, c.j)
			if finals[0] != c.want {
				t.Errorf("hook %v, request %d: %q, alone %q", hook, i, finals[0], c.want)
			}
			if i == 0 && u.PromptTokens+u.CompletionTokens != d.m.Config.MaxPositionEmbeddings {
				t.Errorf("hook %v: request 0 used %+v, not the whole context", hook, u)
			}
		}
		d.do(func(*model.Model) error { e.big.Free(); e.tmp.Free(); e.grp.Free(); return nil })
	}
}

// TestPromptsPrefilledTogether: requests that wait together are prefilled
// in one pass (each prompt padded on the right in its own row) and all join
// the batch at the first step; a longer prompt behind them ends the group
// and is prefilled alone. Each greedy text equals generation alone, and a
// sampled request with two choices gives what it gives served alone.
func TestPromptsPrefilledTogether(t *testing.T) {
	d := loadDemo(t)
	o := DefaultEngineOptions()
	o.PrefillChunk = 256
	sampled := &Request{Prompt: d.tok.Encode(testPrompts[3]), N: 2, MaxTokens: 12, Temperature: 0.8, TopP: 0.9, Seed: 5, Logprobs: -1}
	// The sampled request alone, in an engine of its own.
	e1 := NewEngine(d.do, d.tok, d.m.Config, o, nil)
	j1, err := e1.Submit(context.Background(), sampled)
	if err != nil {
		t.Fatal(err)
	}
	_, wantSampled, _, _ := collect(t, j1)
	e1.Close()

	e := newEngine(d.do, d.tok, d.m.Config, o, nil)
	step := func() {
		if err := d.do(e.step); err != nil {
			t.Fatal(err)
		}
	}
	prompts := testPrompts[:13]
	var jobs []*Job
	var want []string
	for i, p := range prompts {
		n := 10 + i
		want = append(want, d.tok.Decode(d.alone(t, d.tok.Encode(p), n), true))
		j, err := e.Submit(context.Background(), &Request{Prompt: d.tok.Encode(p), N: 1, MaxTokens: n, Logprobs: -1})
		if err != nil {
			t.Fatal(err)
		}
		jobs = append(jobs, j)
	}
	sj, err := e.Submit(context.Background(), &Request{Prompt: sampled.Prompt, N: 2, MaxTokens: 12, Temperature: 0.8, TopP: 0.9, Seed: 5, Logprobs: -1})
	if err != nil {
		t.Fatal(err)
	}
	long := d.tok.Encode(strings.Repeat("Lamini trains models. ", 30)) // more than 256/16 tokens: cannot join the group
	wantLong := d.tok.Decode(d.alone(t, long, 8), true)
	lj, err := e.Submit(context.Background(), &Request{Prompt: long, N: 1, MaxTokens: 8, Logprobs: -1})
	if err != nil {
		t.Fatal(err)
	}
	step()
	if got := len(e.rows); got != len(prompts)+2 {
		t.Fatalf("after the first step %d rows run, want the %d choices of the %d short prompts", got, len(prompts)+2, len(prompts)+1)
	}
	for e.pf != nil || len(e.queue) > 0 || len(e.rows) > 0 {
		step()
	}
	for i, j := range jobs {
		if _, finals, _, _ := collect(t, j); finals[0] != want[i] {
			t.Errorf("prompt %d: prefilled together %q, alone %q", i, finals[0], want[i])
		}
	}
	if _, finals, _, _ := collect(t, sj); fmt.Sprint(finals) != fmt.Sprint(wantSampled) {
		t.Errorf("sampled request: prefilled together %q, served alone %q", finals, wantSampled)
	}
	if _, finals, _, _ := collect(t, lj); finals[0] != wantLong {
		t.Errorf("long prompt: %q, alone %q", finals[0], wantLong)
	}
	d.do(func(*model.Model) error { e.big.Free(); e.tmp.Free(); e.grp.Free(); return nil })
}

// TestLoneRowEqualsAlone: requests sent one after another each decode alone
// in the batch; the text still equals generation alone.
func TestLoneRowEqualsAlone(t *testing.T) {
	d := loadDemo(t)
	e := NewEngine(d.do, d.tok, d.m.Config, DefaultEngineOptions(), nil)
	defer e.Close()
	for i, p := range testPrompts[:4] {
		want := d.tok.Decode(d.alone(t, d.tok.Encode(p), 20+i), true)
		j, err := e.Submit(context.Background(), &Request{Prompt: d.tok.Encode(p), N: 1, MaxTokens: 20 + i, Logprobs: -1})
		if err != nil {
			t.Fatal(err)
		}
		if _, finals, _, _ := collect(t, j); finals[0] != want {
			t.Errorf("prompt %d: served alone %q, generated alone %q", i, finals[0], want)
		}
	}
}
